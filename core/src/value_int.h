/* Internal entry points of value.c for the other decoders. */
#ifndef WEFT_VALUE_INT_H
#define WEFT_VALUE_INT_H

#include "mem.h"

/* Reads and validates one value from r (sets r->err on failure). */
void weft__value_skip(wreader *r);

#endif
