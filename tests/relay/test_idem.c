/*
 * The idempotency cache alone (relay/idem.h): a hit gives the first answer
 * back, the same key on another body is a conflict, keys are per token id,
 * answers age out, and the cache stays within IDEM_SLOTS entries and
 * IDEM_BYTES_MAX bytes, forgetting the oldest first.
 */
#include "idem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

int main(void) {
    idem_cache *c = NULL;
    uint8_t tid[16] = {1}, other[16] = {2}, h1[32] = {1}, h2[32] = {2};
    const char *body;
    size_t len;
    CHECK(idem_find(c, tid, "k", h1, 100, &body, &len) == IDEM_MISS);
    idem_put(&c, tid, "k", h1, "answer", 6, 100);
    CHECK(idem_find(c, tid, "k", h1, 101, &body, &len) == IDEM_HIT && len == 6 &&
          memcmp(body, "answer", 6) == 0);
    CHECK(idem_find(c, tid, "k", h2, 101, &body, &len) == IDEM_CONFLICT);
    CHECK(idem_find(c, other, "k", h2, 101, &body, &len) == IDEM_MISS);
    CHECK(idem_find(c, tid, "k", h1, 100 + IDEM_TTL_S, &body, &len) == IDEM_MISS);
    idem_free(c);

    /* Entries: the oldest goes once IDEM_SLOTS are held. */
    c = NULL;
    char key[32];
    for (int i = 0; i < IDEM_SLOTS + 10; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        idem_put(&c, tid, key, h1, "x", 1, 100);
    }
    CHECK(idem_count(c) == IDEM_SLOTS);
    CHECK(idem_find(c, tid, "key-9", h1, 100, &body, &len) == IDEM_MISS);
    CHECK(idem_find(c, tid, "key-10", h1, 100, &body, &len) == IDEM_HIT);
    snprintf(key, sizeof key, "key-%d", IDEM_SLOTS + 9);
    CHECK(idem_find(c, tid, key, h1, 100, &body, &len) == IDEM_HIT);
    idem_free(c);

    /* Bytes: 64 KiB answers, at most IDEM_BYTES_MAX of them. */
    c = NULL;
    size_t big = 65536;
    char *b = malloc(big);
    memset(b, 'a', big);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "big-%d", i);
        idem_put(&c, tid, key, h1, b, big, 100);
        CHECK(idem_bytes(c) <= IDEM_BYTES_MAX);
    }
    CHECK(idem_count(c) == IDEM_BYTES_MAX / big);
    CHECK(idem_find(c, tid, "big-99", h1, 100, &body, &len) == IDEM_HIT && len == big);
    CHECK(idem_find(c, tid, "big-0", h1, 100, &body, &len) == IDEM_MISS);
    /* An answer larger than the whole bound is not kept, and evicts nothing. */
    char *huge = malloc(IDEM_BYTES_MAX + 1);
    memset(huge, 'h', IDEM_BYTES_MAX + 1);
    idem_put(&c, tid, "huge", h1, huge, IDEM_BYTES_MAX + 1, 100);
    CHECK(idem_find(c, tid, "huge", h1, 100, &body, &len) == IDEM_MISS);
    CHECK(idem_find(c, tid, "big-99", h1, 100, &body, &len) == IDEM_HIT);
    free(huge);
    free(b);
    idem_free(c);
    idem_free(NULL);
    printf("test_idem: %s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
