/*
 * Growable arrays (vec.h). The capacity doubles, so n appends cost O(n)
 * copies; the doubling stops at the largest count whose byte size is at
 * most PTRDIFF_MAX rather than wrapping.
 */
#include "vec.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

void *weft__vec_grow(void *p, size_t *cap, size_t need, size_t elem, size_t min_cap) {
    if (!need) need = 1; /* so that NULL only ever means failure */
    if (need <= *cap && p) return p;
    /* No object may exceed PTRDIFF_MAX bytes (pointer differences in it
     * must be defined), which also keeps need * elem from wrapping. */
    size_t max = elem ? (size_t)PTRDIFF_MAX / elem : 0;
    if (need > max) return NULL;
    size_t c = *cap > min_cap ? *cap : min_cap;
    if (!c) c = 1;
    while (c < need)
        c = c > max / 2 ? max : c * 2;
    void *g = realloc(p, c * elem);
    if (!g) return NULL;
    *cap = c;
    return g;
}
