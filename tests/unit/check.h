/*
 * A minimal test harness: CHECK macros that report file:line and keep
 * going, a TEST list run by main(), and the closing "N passed, M failed"
 * line that CI reads. Shared helpers for building replicas live here too.
 */
#ifndef WEFT_TEST_CHECK_H
#define WEFT_TEST_CHECK_H

#include "weft/weft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

#define CHECK_RC(expr, want)                                                                  \
    do {                                                                                      \
        int rc_ = (expr);                                                                     \
        if (rc_ != (want)) {                                                                  \
            fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s)\n", __FILE__, __LINE__, \
                    #expr, rc_, weft_err_name(rc_), (want), weft_err_name(want));             \
            check_failures++;                                                                 \
        }                                                                                     \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, 0)

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

static inline int run_tests(const test_case *tests, size_t n) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        int before = check_failures;
        tests[i].fn();
        if (check_failures == before) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define RUN_TESTS(...)                                            \
    int main(void) {                                              \
        static const test_case tests_[] = {__VA_ARGS__};          \
        return run_tests(tests_, sizeof tests_ / sizeof *tests_); \
    }
#define T(fn) \
    { #fn, fn }

/* ---- fixtures ---- */

static inline void fill_key(uint8_t key[32], uint8_t v) {
    memset(key, v, 32);
}

static inline weft_replica *new_replica(const uint8_t *space, const uint8_t *author) {
    weft_replica *r = NULL;
    weft_replica_config cfg = {.space = space, .author = author, .keep_records = 1};
    if (weft_replica_new(&r, &cfg)) abort();
    return r;
}

static inline int put_int(weft_replica *r, const char *coll, const char *doc, const char *field,
                          int64_t v) {
    uint8_t buf[16];
    size_t len;
    weft_value_write_int(buf, sizeof buf, &len, v);
    return weft_replica_put(r, coll, strlen(coll), doc, strlen(doc), field, strlen(field), buf,
                            len);
}

static inline int put_str(weft_replica *r, const char *coll, const char *doc, const char *field,
                          const char *s) {
    uint8_t buf[256];
    size_t len;
    if (weft_value_write_string(buf, sizeof buf, &len, s, strlen(s))) return -99;
    return weft_replica_put(r, coll, strlen(coll), doc, strlen(doc), field, strlen(field), buf,
                            len);
}

/* Commits and copies the record into *out (caller frees). */
static inline size_t commit_copy(weft_replica *r, uint8_t **out) {
    const uint8_t *rec;
    size_t len;
    if (weft_replica_commit(r, 1700000000000ULL, &rec, &len)) abort();
    *out = malloc(len);
    memcpy(*out, rec, len);
    return len;
}

/* The int value of a field, or INT64_MIN when absent or not an int. */
static inline int64_t get_int(weft_replica *r, const char *coll, const char *doc,
                              const char *field) {
    const uint8_t *v;
    size_t len;
    weft_value val;
    if (weft_replica_get_field(r, coll, strlen(coll), doc, strlen(doc), field, strlen(field), &v,
                               &len) ||
        weft_value_read(&val, NULL, v, len) || val.type != WEFT_TYPE_INT)
        return INT64_MIN;
    return val.i;
}

/* Sends everything a has that b lacks. */
static inline int sync_to(weft_replica *a, weft_replica *b) {
    const uint8_t *vv, *recs;
    size_t vlen, rlen;
    int rc = weft_replica_vv(b, &vv, &vlen);
    if (rc) return rc;
    uint8_t *copy = malloc(vlen + 1);
    memcpy(copy, vv, vlen);
    rc = weft_replica_diff(a, copy, vlen, &recs, &rlen);
    free(copy);
    return rc ? rc : weft_replica_apply(b, recs, rlen, NULL);
}

static inline int same_hash(weft_replica *a, weft_replica *b) {
    uint8_t ha[32], hb[32];
    if (weft_state_hash(a, ha) || weft_state_hash(b, hb)) return 0;
    return memcmp(ha, hb, 32) == 0;
}

#endif
