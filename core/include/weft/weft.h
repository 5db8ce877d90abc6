/*
 * Weft: an offline-first, end-to-end encrypted database core.
 * Include this one header for the whole public API.
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include "weft/api.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/hash.h"
#include "weft/value.h"
#include "weft/change.h"
#include "weft/crypto.h"
#include "weft/log.h"
#include "weft/replica.h"
#include "weft/snapshot.h"
#include "weft/auth.h"
#include "weft/level.h"
#include "weft/members.h"
#include "weft/backup.h"
#include "weft/text.h"
#include "weft/protocol.h"

#endif
