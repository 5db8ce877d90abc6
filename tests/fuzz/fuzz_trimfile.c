/*
 * fuzz_trimfile: the relay's trim-checkpoint codec (common/trimfile.h),
 * which a relay reads when it opens a space whose log prefix it trimmed.
 * Input: the file's bytes. weft__trim_parse must accept or refuse any input
 * without reading out of bounds; what it accepts re-encodes to the same
 * bytes.
 */
#include "fuzz_common.h"

#include "trimfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t trimmed;
    size_t n;
    if (weft__trim_parse(&trimmed, &n, data, size)) return 0;
    FUZZ_ASSERT(weft__trim_size(n) == size);
    weft__trim_author *a = malloc(n ? n * sizeof *a : 1);
    FUZZ_ASSERT(a);
    for (size_t i = 0; i < n; i++)
        weft__trim_author_get(&a[i], data, i);
    uint8_t *again = malloc(size);
    FUZZ_ASSERT(again);
    weft__trim_encode(again, trimmed, a, n);
    FUZZ_ASSERT(memcmp(again, data, size) == 0);
    free(again);
    free(a);
    return 0;
}
