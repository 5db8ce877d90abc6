/*
 * Growable arrays: the one place the relay and the CLI grow a buffer, so
 * the doubling and its size_t overflow checks are written once. The array
 * itself stays the caller's (a pointer and a capacity in elements, plus
 * whatever count it keeps), allocated with realloc and freed with free.
 *
 *     item *g = weft__vec_grow(v, &cap, n + 1, sizeof *v, 16);
 *     if (!g) return WEFT_ENOMEM;   // v and cap are as they were
 *     v = g;
 */
#ifndef WEFT_COMMON_VEC_H
#define WEFT_COMMON_VEC_H

#include <stddef.h>

/* Makes room for at least `need` elements of `elem` bytes in p (capacity
 * *cap elements; p may be NULL when *cap is 0): returns p itself when it
 * already has room, else p reallocated to the next capacity that holds
 * need (at least 1), doubling from max(*cap, min_cap), and sets *cap. So a
 * NULL p always gets an allocation, and NULL is returned only when
 * need * elem would exceed PTRDIFF_MAX (so never wraps) or realloc fails: then p
 * is still valid and still owned by the caller, and *cap is unchanged. */
void *weft__vec_grow(void *p, size_t *cap, size_t need, size_t elem, size_t min_cap);

#endif
