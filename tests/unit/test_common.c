/* The small shared helpers in common/: hex, growable arrays, the id table. */
#include "check.h"

#include "hex.h"
#include "idtable.h"
#include "vec.h"

#include <stdint.h>

static void hex_golden(void) {
    static const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char s[WEFT__HEX_LEN(6)];
    CHECK_OK(weft__hex_encode(s, sizeof s, b, 6));
    CHECK(strcmp(s, "00017f80abff") == 0);
    CHECK_RC(weft__hex_encode(s, sizeof s - 1, b, 6), WEFT_ENOSPACE);
    char e[1];
    CHECK_OK(weft__hex_encode(e, 1, b, 0));
    CHECK(e[0] == 0);
    uint8_t out[8];
    size_t n = 99;
    CHECK_OK(weft__hex_decode(out, sizeof out, &n, "00017F80abFF", 12));
    CHECK(n == 6 && memcmp(out, b, 6) == 0);
    CHECK_OK(weft__hex_decode(out, 0, &n, "", 0));
    CHECK(n == 0);
}

static void hex_rejects(void) {
    uint8_t out[8] = {1, 2, 3};
    size_t n = 42;
    static const char *bad[] = {"0", "abc", "0g", "g0", " 0", "0x", "-1", "00\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_RC(weft__hex_decode(out, sizeof out, &n, bad[i], strlen(bad[i])), WEFT_EMALFORMED);
    CHECK_RC(weft__hex_decode(out, sizeof out, &n, "0\0", 2), WEFT_EMALFORMED);
    CHECK_RC(weft__hex_decode(out, 2, &n, "000000", 6), WEFT_ENOSPACE);
    CHECK(n == 42 && out[0] == 1 && out[1] == 2 && out[2] == 3); /* untouched */
}

static void vec_growth(void) {
    int *v = NULL;
    size_t cap = 0;
    for (int i = 0; i < 1000; i++) {
        int *g = weft__vec_grow(v, &cap, (size_t)i + 1, sizeof *v, 16);
        CHECK(g != NULL);
        if (!g) break;
        v = g;
        v[i] = i;
    }
    CHECK(cap == 1024);
    int sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += v[i];
    CHECK(sum == 999 * 1000 / 2);
    /* Room already: the same pointer, capacity unchanged. */
    CHECK(weft__vec_grow(v, &cap, 10, sizeof *v, 16) == v && cap == 1024);
    /* Overflow is refused, the array left alone. */
    CHECK(weft__vec_grow(v, &cap, SIZE_MAX / 2, sizeof *v, 16) == NULL && cap == 1024);
    CHECK(weft__vec_grow(v, &cap, SIZE_MAX, 1, 16) == NULL && cap == 1024);
    CHECK(v[999] == 999);
    free(v);
    /* NULL with need 0 still allocates, so NULL always means failure. */
    size_t c0 = 0;
    void *p = weft__vec_grow(NULL, &c0, 0, 8, 0);
    CHECK(p != NULL && c0 == 1);
    free(p);
}

static void siphash_vector(void) {
    /* SipHash-2-4 reference vector for 32 bytes 00..1f under key 00..0f
     * (the paper's test vectors; also OpenSSL's SIPHASH with size 8). */
    uint8_t id[32], seed[16];
    for (int i = 0; i < 32; i++)
        id[i] = (uint8_t)i;
    for (int i = 0; i < 16; i++)
        seed[i] = (uint8_t)i;
    weft__idtab t;
    weft__idtab_init(&t, seed);
    CHECK(weft__idtab_hash(t.k0, t.k1, id) == 0x7127512f72f27cceULL);
    weft__idtab_free(&t);
}

static void key_of(uint8_t id[32], uint32_t i) {
    memset(id, 0, 32);
    memcpy(id, &i, sizeof i);
    id[31] = 0x5a;
}

static void idtab_basic(void) {
    uint8_t seed[16] = {9}, id[32];
    weft__idtab t;
    weft__idtab_init(&t, seed);
    key_of(id, 1);
    CHECK(weft__idtab_get(&t, id) == NULL);
    CHECK(weft__idtab_del(&t, id) == NULL);
    CHECK_RC(weft__idtab_put(&t, id, NULL, NULL), WEFT_EINVAL);
    int a = 1, b = 2;
    void *old = &b;
    CHECK_OK(weft__idtab_put(&t, id, &a, &old));
    CHECK(old == NULL && weft__idtab_get(&t, id) == &a && weft__idtab_count(&t) == 1);
    CHECK_OK(weft__idtab_put(&t, id, &b, &old));
    CHECK(old == &a && weft__idtab_get(&t, id) == &b && weft__idtab_count(&t) == 1);
    CHECK(weft__idtab_del(&t, id) == &b && weft__idtab_count(&t) == 0);
    CHECK(weft__idtab_get(&t, id) == NULL);
    weft__idtab_free(&t);
    weft__idtab_free(&t);
    weft__idtab_free(NULL);
}

/* Many ids in and out, in an order that leaves long probe runs, checked
 * against a plain array after every step. */
static void idtab_churn(void) {
    enum { N = 5000 };
    uint8_t seed[16] = {1, 2, 3}, id[32];
    weft__idtab t;
    weft__idtab_init(&t, seed);
    static char in[N];
    uint32_t x = 12345;
    size_t held = 0;
    for (int step = 0; step < 40000; step++) {
        x = x * 1103515245u + 12345u;
        uint32_t k = (x >> 8) % N;
        key_of(id, k);
        if (in[k] && (x & 1)) {
            CHECK(weft__idtab_del(&t, id) == (void *)(uintptr_t)(k + 1));
            in[k] = 0;
            held--;
        } else if (!in[k]) {
            CHECK_OK(weft__idtab_put(&t, id, (void *)(uintptr_t)(k + 1), NULL));
            in[k] = 1;
            held++;
        }
        CHECK(weft__idtab_count(&t) == held);
        CHECK(t.n * 2 <= t.cap);
    }
    int wrong = 0;
    for (uint32_t k = 0; k < N; k++) {
        key_of(id, k);
        void *v = weft__idtab_get(&t, id);
        wrong += in[k] ? v != (void *)(uintptr_t)(k + 1) : v != NULL;
    }
    CHECK(wrong == 0);
    weft__idtab_free(&t);
}

/* Ids that share their first bytes (what the relay's old table hashed)
 * spread out under the keyed hash. */
static void idtab_spreads(void) {
    uint8_t seed[16] = {7}, id[32];
    weft__idtab t;
    weft__idtab_init(&t, seed);
    for (uint32_t k = 0; k < 1024; k++) {
        memset(id, 0xee, 32);
        memcpy(id + 28, &k, 4);
        CHECK_OK(weft__idtab_put(&t, id, &t, NULL));
    }
    /* The longest probe run stays short for uniformly placed slots. */
    size_t longest = 0, run = 0;
    for (size_t i = 0; i < 2 * t.cap; i++) {
        run = t.slots[i % t.cap].val ? run + 1 : 0;
        if (run > longest) longest = run;
    }
    CHECK(longest < 64);
    weft__idtab_free(&t);
}

RUN_TESTS(T(hex_golden), T(hex_rejects), T(vec_growth), T(siphash_vector), T(idtab_basic),
          T(idtab_churn), T(idtab_spreads))
