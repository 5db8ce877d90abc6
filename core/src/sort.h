/*
 * A stable merge sort of uint32_t items with a context-taking comparison:
 * C11's qsort has no context argument, and the core keeps no globals.
 */
#ifndef WEFT_SORT_H
#define WEFT_SORT_H

#include "mem.h"

typedef int (*wsort_cmp_fn)(const void *ctx, uint32_t a, uint32_t b);

/* Sorts items[0..n). Returns 0 or WEFT_ENOMEM (items unchanged then). */
int weft__sort_u32(uint32_t *items, size_t n, wsort_cmp_fn cmp, const void *ctx,
                   const weft_allocator *a);

#endif
