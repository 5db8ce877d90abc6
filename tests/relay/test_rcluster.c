/*
 * Redis Cluster slot routing helpers (relay/rcluster.h) against the
 * vectors of Redis' cluster specification: CRC16 XMODEM of "123456789" is
 * 0x31C3; hash tags select the bytes a key is hashed by. The same slots
 * are checked against a real cluster's CLUSTER KEYSLOT in test_cluster.c.
 */
#include "../../relay/rcluster.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                           \
        }                                                                         \
    } while (0)

static unsigned slot(const char *k) {
    return rcluster_key_slot(k, strlen(k));
}

static int parse(const char *s, rcluster_redirect *r) {
    return rcluster_parse_redirect(s, strlen(s), r);
}

int main(void) {
    CHECK(rcluster_crc16((const uint8_t *)"123456789", 9) == 0x31C3);
    CHECK(rcluster_crc16((const uint8_t *)"", 0) == 0);
    /* Known slots (CLUSTER KEYSLOT on Redis 7). */
    CHECK(slot("foo") == 12182);
    CHECK(slot("bar") == 5061);
    CHECK(slot("hello") == 866);
    /* Hash tags, the specification's examples. */
    CHECK(slot("{user1000}.following") == slot("{user1000}.followers"));
    CHECK(slot("{user1000}.following") == slot("user1000"));
    CHECK(slot("foo{}{bar}") == rcluster_crc16((const uint8_t *)"foo{}{bar}", 10) % 16384);
    CHECK(slot("foo{{bar}}zap") == slot("{bar"));
    CHECK(slot("foo{bar}{zap}") == slot("bar"));
    CHECK(slot("foo{bar") == rcluster_crc16((const uint8_t *)"foo{bar", 7) % 16384);
    /* A space's keys share one slot: the tag is the space's hex. */
    const char *hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char a[128], b[128];
    snprintf(a, sizeof a, "weft:{%s}:log", hex);
    snprintf(b, sizeof b, "weft:rl:{%s}:0123", hex);
    CHECK(slot(a) == slot(b) && slot(a) == slot(hex));

    rcluster_redirect r;
    CHECK(parse("MOVED 3999 127.0.0.1:6381", &r) == 1);
    CHECK(!r.ask && r.slot == 3999 && strcmp(r.host, "127.0.0.1") == 0 && r.port == 6381);
    CHECK(parse("ASK 16383 ::1:7000", &r) == 1);
    CHECK(r.ask && r.slot == 16383 && strcmp(r.host, "::1") == 0 && r.port == 7000);
    CHECK(parse("MOVED 16384 127.0.0.1:6381", &r) == 0); /* no such slot */
    CHECK(parse("MOVED 1 127.0.0.1:0", &r) == 0);
    CHECK(parse("MOVED 1 127.0.0.1:65536", &r) == 0);
    CHECK(parse("MOVED 1 127.0.0.1", &r) == 0);
    CHECK(parse("MOVED 1 :6379", &r) == 0);
    CHECK(parse("MOVED  1 a:1", &r) == 0);
    CHECK(parse("MOVED 1 a:1 x", &r) == 0);
    CHECK(parse("ERR unknown command", &r) == 0);
    CHECK(parse("CLUSTERDOWN Hash slot not served", &r) == 0);
    CHECK(rcluster_parse_redirect("MOVED 1 a:1", 5, &r) == 0); /* length, not NUL, bounds it */
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    else
        printf("rcluster: all checks passed\n");
    return failures != 0;
}
