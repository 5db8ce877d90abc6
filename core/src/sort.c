/*
 * Bottom-up merge sort for sort.h: runs of 16 sorted by insertion first,
 * then merged between the array and one scratch buffer.
 */
#include "sort.h"

static void insertion(uint32_t *v, size_t n, wsort_cmp_fn cmp, const void *ctx) {
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;
        while (j > 0 && cmp(ctx, v[j - 1], x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

int weft__sort_u32(uint32_t *items, size_t n, wsort_cmp_fn cmp, const void *ctx,
                   const weft_allocator *a) {
    const size_t run = 16;
    for (size_t i = 0; i < n; i += run)
        insertion(items + i, n - i < run ? n - i : run, cmp, ctx);
    if (n <= run) return WEFT_OK;
    uint32_t *tmp = weft__alloc(a, n * sizeof *tmp);
    if (!tmp) return WEFT_ENOMEM;
    uint32_t *src = items, *dst = tmp;
    for (size_t width = run; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = cmp(ctx, src[j], src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != items) memcpy(items, src, n * sizeof *items);
    weft__free(a, tmp);
    return WEFT_OK;
}
