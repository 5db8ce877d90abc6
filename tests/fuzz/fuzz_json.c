/*
 * fuzz_json: the CLI's JSON codec (cli/json.c): JSON text to a value, the
 * export format's tags read back (json_untag_document, what `weft import`
 * runs on each document), and the export printer.
 *
 * Any input: json_to_value must not crash; what it accepts is a canonical
 * value (weft_value_check). When that value is an object, untagging it must
 * not crash, and what it gives is a canonical map; printed in the export
 * format, parsed and untagged again, it must come back byte for byte (the
 * export round trip of weft export / weft import).
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "fuzz_common.h"
#include "json.h"

#include <stdio.h>

/* The export format printed (into a memory stream) and read back. */
static void round_trip(const uint8_t *doc, size_t len) {
    char *text = NULL;
    size_t tl = 0;
    FILE *f = open_memstream(&text, &tl);
    FUZZ_ASSERT(f);
    FUZZ_ASSERT(json_print_export_value(f, doc, len) == 0);
    FUZZ_ASSERT(fclose(f) == 0);
    jbuf parsed = {0}, again = {0};
    char err[160];
    int rc = json_to_value(&parsed, text, tl, err, sizeof err);
    if (rc == 0) rc = json_untag_document(&again, parsed.p, parsed.len, err, sizeof err);
    /* Floats that JSON cannot hold (NaN, infinities) print as null: skip those. */
    if (rc == 0 && !strstr(text, "null"))
        FUZZ_ASSERT(again.len == len && memcmp(again.p, doc, len) == 0);
    free(text);
    jbuf_free(&parsed);
    jbuf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jbuf v = {0}, doc = {0};
    char err[160];
    if (json_to_value(&v, (const char *)data, size, err, sizeof err) == 0) {
        FUZZ_ASSERT(weft_value_check(v.p, v.len) == 0);
        weft_value top;
        FUZZ_ASSERT(weft_value_read(&top, NULL, v.p, v.len) == 0);
        if (top.type == WEFT_TYPE_MAP &&
            json_untag_document(&doc, v.p, v.len, err, sizeof err) == 0) {
            FUZZ_ASSERT(weft_value_check(doc.p, doc.len) == 0);
            round_trip(doc.p, doc.len);
        }
    }
    jbuf_free(&v);
    jbuf_free(&doc);
    return 0;
}
