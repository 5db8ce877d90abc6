/*
 * The seeded generator of the text property tests (splitmix64): the same
 * seed gives the same cases natively and in WASM, whose digests must match.
 */
#ifndef WEFT_TEST_PROP_RNG_H
#define WEFT_TEST_PROP_RNG_H

#include <stddef.h>
#include <stdint.h>

static uint64_t rng;

static inline uint64_t next_rand(void) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A number in [0, n), 0 when n is 0. */
static inline size_t below(size_t n) {
    return n ? (size_t)(next_rand() % n) : 0;
}

#endif
