/*
 * JSON for the CLI: JSON text to Weft's canonical value encoding and back,
 * so scripts speak JSON while the core stores typed values. Integers that
 * fit int64 become ints, other numbers floats; objects become maps (keys
 * sorted as the encoding requires); bytes print as {"$bytes": base64url}.
 */
#ifndef WEFT_CLI_JSON_H
#define WEFT_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A growing byte buffer; err is set once an allocation failed. */
typedef struct jbuf {
    uint8_t *p;
    size_t len, cap;
    int err;
} jbuf;

void jbuf_free(jbuf *b);

/* Parses JSON text into one canonical value appended to out. Returns 0, or
 * -1 with a message (position and reason) in err. */
int json_to_value(jbuf *out, const char *text, size_t len, char *err, size_t err_cap);

/* Writes the value (canonical encoding) as compact JSON. Returns 0 or -1
 * when the bytes are not a valid value. */
int json_print_value(FILE *f, const uint8_t *v, size_t len);

/* A document (a map of fields) in the export format of weftdb's
 * exportJSON (docs/API.md, "Export, import, leave, delete"): also ints
 * beyond +-2^53 as {"$bigint":"N"} (JSON readers keep no more exactly) and
 * a map value that looks like a tag wrapped as {"$map":...} (the document's
 * own map never is). Returns 0 or -1. */
int json_print_export_value(FILE *f, const uint8_t *v, size_t len);

/* The reverse, for a document read from an export (JSON parsed with
 * json_to_value): {"$bytes":…}, {"$bigint":"N"} and {"$map":…} become
 * bytes, an int and the wrapped map; the document's own map is never a
 * tag. Appends the value to out. Returns 0, or -1 with the reason in err. */
int json_untag_document(jbuf *out, const uint8_t *doc, size_t len, char *err, size_t err_cap);

/* Writes s as a JSON string literal. */
void json_print_string(FILE *f, const char *s, size_t len);

/* Finds key in a map value. OUT: *val, *val_len. Returns 0 or -1. */
int json_map_get(const uint8_t *map, size_t len, const char *key, const uint8_t **val,
                 size_t *val_len);

#endif
