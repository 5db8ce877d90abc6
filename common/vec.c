/*
 * Growable arrays (vec.h). The capacity doubles, so n appends cost O(n)
 * copies; the doubling stops at the largest count whose byte size fits in
 * a size_t rather than wrapping.
 */
#include "vec.h"

#include <stdint.h>
#include <stdlib.h>

void *weft__vec_grow(void *p, size_t *cap, size_t need, size_t elem, size_t min_cap) {
    if (!need) need = 1; /* so that NULL only ever means failure */
    if (need <= *cap && p) return p;
    if (!elem || need > SIZE_MAX / elem) return NULL;
    size_t max = SIZE_MAX / elem, c = *cap > min_cap ? *cap : min_cap;
    if (!c) c = 1;
    while (c < need)
        c = c > max / 2 ? max : c * 2;
    void *g = realloc(p, c * elem);
    if (!g) return NULL;
    *cap = c;
    return g;
}
