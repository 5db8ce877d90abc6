/*
 * fuzz_blobreq: the parsers of files requests (common/blobreq.h) that read
 * a relay's request paths and Range headers. Input: byte 0 picks the
 * parser (0: a signed URL's path, 1: ".../blobs/" tail, 2: Range against a
 * chunk length taken from bytes 1..4), the rest is the text. Each must
 * accept or refuse any input without reading past it; what the URL parser
 * accepts reads back the same from its canonical form, what the tail
 * parser accepts has the id's hex (in either case) where it should, and an
 * accepted range lies inside the chunk.
 */
#include "fuzz_common.h"

#include "blobreq.h"
#include "hex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The input, lower-cased (hex digits may come in either case). */
static int same_lower(const char *want, const uint8_t *got, size_t n) {
    if (strlen(want) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower(got[i]) != (unsigned char)want[i]) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0] % 3;
    /* A copy of exactly the text's bytes: a parser that reads one past
     * its length is caught by ASan. */
    size_t n = size - 1;
    char *text = malloc(n ? n : 1);
    FUZZ_ASSERT(text);
    if (n) memcpy(text, data + 1, n);
    uint8_t space[32], id[WEFT__BLOB_ID_BYTES];
    char sh[65], ih[33], back[160];
    uint32_t chunk = 0;
    if (mode == 0 && weft__blob_url_path_parse(space, id, &chunk, text, n) == 0) {
        FUZZ_ASSERT(chunk < WEFT__BLOB_MAX_CHUNKS && n > 10 + 65 + 33);
        FUZZ_ASSERT(same_lower("/v1/blobs/", (const uint8_t *)text, 10));
        /* The canonical form of what was read reads back the same. */
        weft__hex_encode(sh, sizeof sh, space, 32);
        weft__hex_encode(ih, sizeof ih, id, sizeof id);
        int bl = snprintf(back, sizeof back, "/v1/blobs/%s/%s/%u", sh, ih, chunk);
        uint8_t space2[32], id2[WEFT__BLOB_ID_BYTES];
        uint32_t chunk2;
        FUZZ_ASSERT(weft__blob_url_path_parse(space2, id2, &chunk2, back, (size_t)bl) == 0);
        FUZZ_ASSERT(!memcmp(space, space2, 32) && !memcmp(id, id2, sizeof id) && chunk == chunk2);
    } else if (mode == 1) {
        int k = weft__blob_tail_parse(id, &chunk, text, n);
        FUZZ_ASSERT(k >= 0 && k <= 2);
        if (k) {
            weft__hex_encode(ih, sizeof ih, id, sizeof id);
            FUZZ_ASSERT(n >= 32 && same_lower(ih, (const uint8_t *)text, 32));
            FUZZ_ASSERT(k == 1 ? n == 32 : (n > 33 && text[32] == '/'));
            if (k == 2) FUZZ_ASSERT(chunk < WEFT__BLOB_MAX_CHUNKS);
        }
    } else if (mode == 2 && n >= 4) {
        uint64_t len = (uint64_t)data[1] | (uint64_t)data[2] << 8 | (uint64_t)data[3] << 16 |
                       (uint64_t)data[4] << 24;
        uint64_t from = 0, to = 0;
        int r = weft__blob_range_parse(&from, &to, text + 4, n - 4, len);
        FUZZ_ASSERT(r >= -1 && r <= 1);
        if (r == 1) FUZZ_ASSERT(from <= to && to < len);
    }
    free(text);
    return 0;
}
