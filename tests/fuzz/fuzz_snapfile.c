/*
 * fuzz_snapfile: the relay's stored-snapshot codec (common/snapfile.h),
 * which reads every snapshot file a relay serves. Input: the file's bytes.
 * weft__snap_parse must accept or refuse any input without reading out of
 * bounds; what it accepts re-encodes to the same header, and its body
 * splits (or not) into a token and a record that lie inside it and
 * rebuild the same body.
 */
#include "fuzz_common.h"

#include "snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t base;
    const uint8_t *body;
    size_t len;
    if (weft__snap_parse(&base, &body, &len, data, size)) return 0;
    FUZZ_ASSERT(body == data + WEFT__SNAP_HDR && len == size - WEFT__SNAP_HDR);
    uint8_t h[WEFT__SNAP_HDR];
    weft__snap_header(h, base, body, len);
    FUZZ_ASSERT(memcmp(h, data, WEFT__SNAP_HDR) == 0);
    char name[WEFT__SNAP_NAME_CAP];
    uint64_t back;
    FUZZ_ASSERT(weft__snap_name(name, sizeof name, base) == 0);
    FUZZ_ASSERT(weft__snap_name_parse(&back, name) == 0 && back == base);
    const uint8_t *tok, *rec;
    size_t tl, rl;
    if (weft__snap_body_split(&tok, &tl, &rec, &rl, body, len)) return 0;
    FUZZ_ASSERT(tok == body + 2 && rec == tok + tl && 2 + tl + rl == len);
    uint8_t *again = malloc(len);
    FUZZ_ASSERT(again);
    weft__snap_body(again, tok, tl, rec, rl);
    FUZZ_ASSERT(memcmp(again, body, len) == 0);
    free(again);
    return 0;
}
