/*
 * Allocator hooks.
 *
 * Every object that allocates takes an optional weft_allocator; NULL means
 * the C library's malloc/realloc/free. One realloc-style function covers all
 * three operations, as in Lua's lua_Alloc. Objects keep the pointer they
 * were given: the allocator must outlive them.
 */
#ifndef WEFT_ALLOC_H
#define WEFT_ALLOC_H

#include "weft/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* realloc(ud, NULL, n) allocates, realloc(ud, p, n) resizes, realloc(ud, p, 0)
 * frees and returns NULL. A failed allocation returns NULL and leaves `ptr`
 * untouched. */
typedef void *(*weft_realloc_fn)(void *ud, void *ptr, size_t size);

typedef struct weft_allocator {
    weft_realloc_fn realloc;
    void *ud;
} weft_allocator;

#ifdef __cplusplus
}
#endif
#endif
