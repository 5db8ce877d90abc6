/*
 * Operator admission (--admit; docs/RELAY.md "Admission"): which spaces
 * this relay hosts at all.
 *
 *   any            every space (the default; right for a relay on
 *                  loopback or a private network, wrong for a public one);
 *   owners:FILE    only the spaces whose owner key (= the space id) is
 *                  listed in FILE, one per line, as 64 hex digits or 43
 *                  base64url characters; blank lines and lines starting
 *                  with '#' are skipped. SIGHUP re-reads FILE; a FILE that
 *                  no longer parses keeps the previous list (and says so);
 *   signed:KEY     only spaces whose HELLO (or REST request, header
 *                  `Weft-Admission`) carries an admission token for the
 *                  space signed by the operator key KEY (hex or base64url;
 *                  common/admission.h), valid now. Its byte quota, when not
 *                  0, replaces --space-bytes for the space. The relay keeps
 *                  no list: every HELLO presents the token.
 *
 * A HELLO (or a REST request) for a space not admitted is refused with
 * NOT_ADMITTED before the space is opened, so a stranger can neither create
 * a space nor make the relay load one. Spaces already open when a reload
 * drops them keep their live connections; new ones are refused.
 */
#ifndef WEFT_RELAY_ADMIT_H
#define WEFT_RELAY_ADMIT_H

#include <stddef.h>
#include <stdint.h>

struct relay;

typedef struct admit admit;

/* Parses spec ("any", "owners:FILE" or "signed:KEY") and loads FILE. OUT: *out (NULL for
 * "any": everything is admitted). Returns 0, or -1 after printing why to
 * stderr. */
int admit_new(admit **out, const char *spec, const uint8_t seed[16]);

/* Re-reads the owners file (SIGHUP). Returns 0, or -1 (the old list
 * stays; the reason is logged). NULL is a no-op. */
int admit_reload(admit *a);

/* Whether space (32 bytes) is admitted, given the admission token the
 * client presented (NULL, 0: none). Returns 0, or WEFT_PROTO_ENOT_ADMITTED
 * with *why set to a message. OUT: *bytes, the admission's byte quota (0:
 * none; may be NULL). NULL a admits everything. */
uint32_t admit_check(const struct relay *r, const uint8_t space[32], const uint8_t *adm,
                     size_t adm_len, uint64_t *bytes, const char **why);

/* Spaces listed (0 for NULL): the weft_relay_admitted_spaces gauge. */
uint64_t admit_count(const admit *a);

void admit_free(admit *a);

#endif
