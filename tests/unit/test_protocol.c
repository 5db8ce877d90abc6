/*
 * Sync protocol frames: every type round-trips, a golden HELLO and ERROR
 * pin the bytes of docs/PROTOCOL.md, and every rejection the spec lists is
 * checked. Every prefix of every valid frame, and random mutations of them,
 * decode to an error or a frame without reading out of bounds (ASan runs
 * this too).
 */
#include "check.h"

static uint8_t buf[4096];
static size_t len;

static int decode(weft_frame *f, const uint8_t *p, size_t n) {
    return weft_frame_decode(f, p, n, 0);
}

/* Every strict prefix must fail, except that CHANGES and ACK frames, whose
 * entries run to the end of the frame, may be cut at an entry boundary, and
 * a CHALLENGE before its versions block (the transport delimits frames, so
 * that cannot happen by accident); mutating
 * any single byte must not crash. */
static void prefixes_and_mutations(const uint8_t *p, size_t n) {
    weft_frame f, whole;
    uint8_t *copy = malloc(n);
    CHECK_OK(decode(&whole, p, n));
    for (size_t i = 0; i < n; i++) {
        memcpy(copy, p, i);
        int rc = decode(&f, copy, i);
        /* A CHALLENGE cut just before its versions block is the version-1
         * CHALLENGE: the block is an extension without a flag. */
        if (rc == 0)
            CHECK(((f.type == WEFT_FRAME_CHANGES || f.type == WEFT_FRAME_ACK) && f.n < whole.n) ||
                  (f.type == WEFT_FRAME_CHALLENGE && whole.has_versions && !f.has_versions));
        else
            CHECK(rc < 0);
    }
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, p, n);
            copy[i] ^= (uint8_t)(1u << bit);
            if (decode(&f, copy, n) == 0 && f.type == WEFT_FRAME_CHANGES) {
                size_t pos = 0, rl;
                uint64_t rs;
                const uint8_t *rec;
                while (weft_frame_change_next(&f, &pos, &rs, &rec, &rl))
                    CHECK(rec >= copy && rec + rl <= copy + n);
            }
        }
    }
    free(copy);
}

static void hello_roundtrip(void) {
    uint8_t space[32], key[32], vv[33], token[100];
    fill_key(space, 0x11);
    fill_key(key, 0x22);
    memset(vv, 0x33, 32);
    vv[32] = 5;
    memset(token, 0x44, sizeof token);
    CHECK_OK(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, vv, sizeof vv, token,
                                     sizeof token, 1, 300));
    CHECK(len <= weft_frame_hello_bound(sizeof vv, sizeof token));
    weft_frame f;
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.version == 1 && f.type == WEFT_FRAME_HELLO);
    CHECK(memcmp(f.space, space, 32) == 0 && memcmp(f.key, key, 32) == 0);
    CHECK(f.vv_len == 33 && memcmp(f.vv, vv, 33) == 0);
    CHECK(f.token_len == 100 && memcmp(f.token, token, 100) == 0);
    CHECK(f.has_cursor && f.cursor == 300);
    prefixes_and_mutations(buf, len);

    /* Without a cursor, with an empty vector. */
    CHECK_OK(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, token, 10, 0, 0));
    CHECK_OK(decode(&f, buf, len));
    CHECK(!f.has_cursor && f.vv_len == 0 && f.token_len == 10);
    /* Capacity: one byte short fails and says so. */
    size_t need = len;
    CHECK_RC(weft_frame_hello_encode(buf, need - 1, &len, space, key, NULL, 0, token, 10, 0, 0),
             WEFT_ENOSPACE);
    uint8_t big[WEFT_PROTO_MAX_TOKEN + 1] = {0};
    CHECK_RC(
        weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, big, sizeof big, 0, 0),
        WEFT_EINVAL);
}

/* The bytes docs/PROTOCOL.md shows. */
static void hello_golden(void) {
    uint8_t space[32], key[32], token[3] = {0xaa, 0xbb, 0xcc};
    fill_key(space, 0x11);
    fill_key(key, 0x22);
    CHECK_OK(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, token, 3, 1, 128));
    static const uint8_t want_head[] = {0x01, 0x01};
    static const uint8_t want_tail[] = {0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x01, 0x80, 0x01};
    CHECK(len == 2 + 64 + sizeof want_tail);
    CHECK(memcmp(buf, want_head, 2) == 0);
    CHECK(memcmp(buf + 66, want_tail, sizeof want_tail) == 0);

    static const uint8_t err[] = {0x01, 0x08, 0x0b, 0x01, 0x04, 's', 'l', 'o', 'w'};
    CHECK_OK(
        weft_frame_error_encode(buf, sizeof buf, &len, WEFT_PROTO_ESLOW_CONSUMER, 1, "slow", 4));
    CHECK(len == sizeof err && memcmp(buf, err, len) == 0);
}

/* HELLO flag 0x04: an admission after the cursor and the versions block
 * (golden tails), decoded back; over its bound ETOOBIG; a relay of before
 * it says MALFORMED. */
static void hello_admission(void) {
    uint8_t space[32], key[32], token[3] = {0xaa, 0xbb, 0xcc}, adm[3] = {0x01, 0x41, 0x99};
    fill_key(space, 0x11);
    fill_key(key, 0x22);
    CHECK_OK(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, NULL, 0, token, 3,
                                              1, 128, NULL, adm, 3));
    static const uint8_t want_tail[] = {0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x05,
                                        0x80, 0x01, 0x03, 0x01, 0x41, 0x99};
    CHECK(len == 2 + 64 + sizeof want_tail);
    CHECK(memcmp(buf + 66, want_tail, sizeof want_tail) == 0);
    CHECK(len <= weft_frame_hello_bound(0, 3) + 10 + 3);
    weft_frame f;
    CHECK_OK(weft_frame_decode(&f, buf, len, 0));
    CHECK(f.has_cursor && f.cursor == 128 && f.admission_len == 3 &&
          memcmp(f.admission, adm, 3) == 0);
    CHECK(!f.has_versions);
    prefixes_and_mutations(buf, len);
    /* With a versions block too: cursor, block, admission, in that order
     * (flags 0x07; levels 2 and 1, features 5). */
    weft_versions v = {.format_level = 2, .space_level = 1, .features = 5};
    CHECK_OK(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, NULL, 0, token, 3,
                                              1, 128, &v, adm, 3));
    static const uint8_t both_tail[] = {0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x07, 0x80, 0x01,
                                        0x02, 0x01, 0x05, 0x03, 0x01, 0x41, 0x99};
    CHECK(len == 2 + 64 + sizeof both_tail);
    CHECK(memcmp(buf + 66, both_tail, sizeof both_tail) == 0);
    CHECK(len <= weft_frame_hello_bound(0, 3) + 10 + 3);
    CHECK_OK(weft_frame_decode(&f, buf, len, 0));
    CHECK(f.has_cursor && f.cursor == 128 && f.has_versions && f.versions.format_level == 2 &&
          f.versions.space_level == 1 && f.versions.features == 5 && f.admission_len == 3 &&
          memcmp(f.admission, adm, 3) == 0);
    prefixes_and_mutations(buf, len);
    /* Without a cursor or block the admission follows the flags directly. */
    CHECK_OK(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, NULL, 0, token, 3,
                                              0, 0, NULL, adm, 3));
    CHECK_OK(weft_frame_decode(&f, buf, len, 0));
    CHECK(!f.has_cursor && f.admission_len == 3 && memcmp(f.admission, adm, 3) == 0);
    /* Without one, no flag and no field: the frame of weft_frame_hello_encode. */
    CHECK_OK(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, NULL, 0, token, 3,
                                              0, 0, NULL, NULL, 0));
    CHECK_OK(weft_frame_decode(&f, buf, len, 0));
    CHECK(f.admission == NULL && f.admission_len == 0);
    size_t plain = len;
    CHECK_OK(weft_frame_hello_encode(buf + 512, sizeof buf - 512, &len, space, key, NULL, 0, token,
                                     3, 0, 0));
    CHECK(len == plain && memcmp(buf, buf + 512, len) == 0);
    uint8_t big[WEFT_PROTO_MAX_ADMISSION + 1] = {0};
    CHECK_RC(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, NULL, 0, token, 3,
                                              0, 0, NULL, big, sizeof big),
             WEFT_EINVAL);
    CHECK_OK(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, NULL, 0, token, 3,
                                              0, 0, NULL, big, WEFT_PROTO_MAX_ADMISSION));
    buf[2 + 64 + 1 + 1 + 3 + 1] = 0x81; /* the length varint: 257 */
    buf[2 + 64 + 1 + 1 + 3 + 2] = 0x02;
    buf[len] = 0; /* and one byte more, so it is within the frame */
    CHECK_RC(weft_frame_decode(&f, buf, len + 1, 0), WEFT_ETOOBIG);
    /* 0x08 says the client reads membership records (no payload); flag
     * bits above it stay reserved. */
    CHECK_OK(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, token, 3, 1, 7));
    CHECK_OK(weft_frame_decode(&f, buf, len, 0));
    CHECK(!f.reads_members);
    CHECK_OK(weft_frame_hello_mark_members(buf, len));
    CHECK_OK(weft_frame_decode(&f, buf, len, 0));
    CHECK(f.reads_members && f.has_cursor && f.cursor == 7 && f.token_len == 3);
    CHECK_RC(weft_frame_hello_mark_members(buf, 1), WEFT_ETRUNCATED);
    /* By grant: the token field holds a claim (or nothing); no bytes added. */
    CHECK(!f.by_grant);
    CHECK_OK(weft_frame_hello_mark_grant(buf, len));
    CHECK_OK(weft_frame_decode(&f, buf, len, 0));
    CHECK(f.by_grant && f.reads_members && f.cursor == 7 && f.token_len == 3);
    CHECK_OK(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, token, 3, 0, 0));
    buf[len - 1] = 0x20;
    CHECK_RC(weft_frame_decode(&f, buf, len, 0), WEFT_EMALFORMED);
}

static void challenge_proof(void) {
    uint8_t nonce[32], vv[66], sig[64];
    memset(nonce, 7, 32);
    memset(vv, 9, sizeof vv);
    vv[32] = 1;
    vv[65] = 2;
    memset(sig, 0x5a, 64);
    CHECK_OK(weft_frame_challenge_encode(buf, sizeof buf, &len, nonce, 1234567, vv, sizeof vv));
    CHECK(len <= weft_frame_challenge_bound(sizeof vv));
    weft_frame f;
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.type == WEFT_FRAME_CHALLENGE && f.head == 1234567 && f.vv_len == 66);
    CHECK(memcmp(f.nonce, nonce, 32) == 0);
    prefixes_and_mutations(buf, len);

    CHECK_OK(weft_frame_proof_encode(buf, sizeof buf, &len, sig));
    CHECK(len == 66);
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.type == WEFT_FRAME_PROOF && memcmp(f.sig, sig, 64) == 0);
    prefixes_and_mutations(buf, len);
}

static void changes_roundtrip(void) {
    uint8_t rec1[5] = {1, 2, 3, 4, 5}, rec2[200];
    memset(rec2, 0xee, sizeof rec2);
    for (int with = 0; with < 2; with++) {
        CHECK_OK(weft_frame_changes_begin(buf, sizeof buf, &len, with));
        CHECK_OK(weft_frame_changes_add(buf, sizeof buf, &len, with ? 7 : 0, rec1, sizeof rec1));
        CHECK_OK(weft_frame_changes_add(buf, sizeof buf, &len, with ? 300 : 0, rec2, sizeof rec2));
        /* rseq given to a frame without them, or missing from one with. */
        CHECK_RC(weft_frame_changes_add(buf, sizeof buf, &len, with ? 0 : 5, rec1, 5), WEFT_EINVAL);
        size_t before = len;
        CHECK_RC(weft_frame_changes_add(buf, len + 10, &len, with ? 8 : 0, rec2, sizeof rec2),
                 WEFT_ENOSPACE);
        CHECK(len == before);
        weft_frame f;
        CHECK_OK(decode(&f, buf, len));
        CHECK(f.type == WEFT_FRAME_CHANGES && f.n == 2 && f.with_rseq == with);
        size_t pos = 0, rl;
        uint64_t rs;
        const uint8_t *rec;
        CHECK(weft_frame_change_next(&f, &pos, &rs, &rec, &rl) == 1);
        CHECK(rs == (with ? 7u : 0u) && rl == 5 && memcmp(rec, rec1, 5) == 0);
        CHECK(weft_frame_change_next(&f, &pos, &rs, &rec, &rl) == 1);
        CHECK(rs == (with ? 300u : 0u) && rl == 200 && memcmp(rec, rec2, 200) == 0);
        CHECK(weft_frame_change_next(&f, &pos, &rs, &rec, &rl) == 0);
        /* The change limit. */
        CHECK_RC(weft_frame_decode(&f, buf, len, 1), WEFT_ETOOBIG);
        CHECK_OK(weft_frame_decode(&f, buf, len, 2));
        prefixes_and_mutations(buf, len);
    }
    /* An empty CHANGES frame, an empty record, a zero relay sequence. */
    weft_frame f;
    static const uint8_t empty[] = {1, 4, 0};
    CHECK_RC(decode(&f, empty, sizeof empty), WEFT_EMALFORMED);
    static const uint8_t zero_rec[] = {1, 4, 0, 0};
    CHECK_RC(decode(&f, zero_rec, sizeof zero_rec), WEFT_EMALFORMED);
    static const uint8_t zero_rseq[] = {1, 4, 1, 0, 1, 9};
    CHECK_RC(decode(&f, zero_rseq, sizeof zero_rseq), WEFT_EMALFORMED);
    static const uint8_t bad_flags[] = {1, 4, 2, 1, 9};
    CHECK_RC(decode(&f, bad_flags, sizeof bad_flags), WEFT_EMALFORMED);
    static const uint8_t long_len[] = {1, 4, 0, 5, 9};
    CHECK_RC(decode(&f, long_len, sizeof long_len), WEFT_ETRUNCATED);
}

static void ack_roundtrip(void) {
    CHECK_OK(weft_frame_ack_begin(buf, sizeof buf, &len, 99));
    weft_frame f;
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.type == WEFT_FRAME_ACK && f.cursor == 99 && f.n == 0);
    CHECK_OK(weft_frame_ack_add(buf, sizeof buf, &len, WEFT_ACK_STORED, 100));
    CHECK_OK(weft_frame_ack_add(buf, sizeof buf, &len, WEFT_ACK_DUPLICATE, 0));
    CHECK_OK(weft_frame_ack_add(buf, sizeof buf, &len, WEFT_ACK_REJECTED, WEFT_PROTO_ERIGHTS));
    CHECK_RC(weft_frame_ack_add(buf, sizeof buf, &len, 4, 0), WEFT_EINVAL);
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.n == 3);
    size_t pos = 0;
    uint8_t st;
    uint64_t v;
    CHECK(weft_frame_ack_next(&f, &pos, &st, &v) && st == WEFT_ACK_STORED && v == 100);
    CHECK(weft_frame_ack_next(&f, &pos, &st, &v) && st == WEFT_ACK_DUPLICATE && v == 0);
    CHECK(weft_frame_ack_next(&f, &pos, &st, &v) && st == WEFT_ACK_REJECTED &&
          v == WEFT_PROTO_ERIGHTS);
    CHECK(!weft_frame_ack_next(&f, &pos, &st, &v));
    prefixes_and_mutations(buf, len);
    static const uint8_t bad_status[] = {1, 5, 0, 4, 0};
    CHECK_RC(decode(&f, bad_status, sizeof bad_status), WEFT_EMALFORMED);
}

static void signal_presence_error(void) {
    uint8_t peer[32], zero[32] = {0}, data[300];
    fill_key(peer, 0x66);
    memset(data, 1, sizeof data);
    weft_frame f;
    CHECK_OK(weft_frame_signal_encode(buf, sizeof buf, &len, WEFT_FRAME_SIGNAL, peer, data, 300));
    CHECK(len <= weft_frame_signal_bound(300));
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.type == WEFT_FRAME_SIGNAL && memcmp(f.peer, peer, 32) == 0 && f.data_len == 300);
    prefixes_and_mutations(buf, len);
    CHECK_RC(weft_frame_signal_encode(buf, sizeof buf, &len, WEFT_FRAME_SIGNAL, zero, data, 1),
             WEFT_EINVAL);
    CHECK_OK(weft_frame_signal_encode(buf, sizeof buf, &len, WEFT_FRAME_PRESENCE, zero, data, 1));
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.type == WEFT_FRAME_PRESENCE && f.data_len == 1);
    buf[1] = WEFT_FRAME_SIGNAL; /* a signal to nobody */
    CHECK_RC(decode(&f, buf, len), WEFT_EMALFORMED);

    CHECK_OK(weft_frame_error_encode(buf, sizeof buf, &len, WEFT_PROTO_ERATE_LIMITED, 0,
                                     "slow down", 9));
    CHECK(len <= weft_frame_error_bound(9));
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.type == WEFT_FRAME_ERROR && f.code == WEFT_PROTO_ERATE_LIMITED && !f.fatal);
    CHECK(f.message_len == 9 && memcmp(f.message, "slow down", 9) == 0);
    prefixes_and_mutations(buf, len);
    static const uint8_t bad_fatal[] = {1, 8, 1, 2, 0};
    CHECK_RC(decode(&f, bad_fatal, sizeof bad_fatal), WEFT_EMALFORMED);
    /* Overlong messages are cut to the bound, not refused. */
    char msg[2000];
    memset(msg, 'x', sizeof msg);
    CHECK_OK(weft_frame_error_encode(buf, sizeof buf, &len, 1, 1, msg, sizeof msg));
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.message_len == WEFT_PROTO_MAX_MESSAGE);
}

static void rejections(void) {
    weft_frame f;
    static const uint8_t v2[] = {2, 1};
    CHECK_RC(decode(&f, v2, sizeof v2), WEFT_EVERSION);
    CHECK(f.version == 2);
    static const uint8_t unknown[] = {1, 12};
    CHECK_RC(decode(&f, unknown, sizeof unknown), WEFT_EMALFORMED);
    static const uint8_t zero_type[] = {1, 0};
    CHECK_RC(decode(&f, zero_type, sizeof zero_type), WEFT_EMALFORMED);
    CHECK_RC(decode(&f, NULL, 0), WEFT_ETRUNCATED);
    static const uint8_t one[] = {1};
    CHECK_RC(decode(&f, one, 1), WEFT_ETRUNCATED);
    /* Trailing bytes after a complete PROOF. */
    uint8_t sig[64] = {0};
    CHECK_OK(weft_frame_proof_encode(buf, sizeof buf, &len, sig));
    buf[len++] = 0;
    CHECK_RC(decode(&f, buf, len), WEFT_EMALFORMED);
    /* A token above the bound is TOOBIG, not a truncation. */
    uint8_t hello[2 + 64 + 1 + 2 + WEFT_PROTO_MAX_TOKEN + 1 + 1] = {1, 1};
    size_t o = 66;
    hello[o++] = 0;    /* empty vv */
    hello[o++] = 0x81; /* token length 1025 */
    hello[o++] = 0x08;
    o += WEFT_PROTO_MAX_TOKEN + 1;
    hello[o++] = 0;
    CHECK_RC(decode(&f, hello, o), WEFT_ETOOBIG);
    /* Unknown HELLO flags. */
    uint8_t space[32] = {1}, key[32] = {2};
    CHECK_OK(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, NULL, 0, 0, 0));
    buf[len - 1] = 0x20; /* 0x01 cursor, 0x02 versions, 0x04 admission, 0x08 members, 0x10 grant */
    CHECK_RC(decode(&f, buf, len), WEFT_EMALFORMED);
}

/* HELLO and CHALLENGE with their versions blocks (docs/PROTOCOL.md §6). */
static void versions_blocks(void) {
    uint8_t space[32], key[32], nonce[32], token[3] = {0xaa, 0xbb, 0xcc};
    fill_key(space, 0x11);
    fill_key(key, 0x22);
    memset(nonce, 7, 32);
    weft_versions v = {.format_level = 2, .space_level = 1, .features = 0x8000000000000001ULL};
    weft_frame f;
    /* With and without a cursor: the block comes after it. */
    for (int cur = 0; cur <= 1; cur++) {
        CHECK_OK(weft_frame_hello_encode_v(buf, sizeof buf, &len, space, key, NULL, 0, token, 3,
                                           cur, 128, &v));
        CHECK(len <= weft_frame_hello_bound(0, 3));
        CHECK_OK(decode(&f, buf, len));
        CHECK(f.has_cursor == cur && (!cur || f.cursor == 128));
        CHECK(f.has_versions && f.versions.format_level == 2 && f.versions.space_level == 1 &&
              f.versions.features == v.features);
        prefixes_and_mutations(buf, len);
    }
    /* The golden bytes: flags 0x03, cursor 128, levels 2 and 1, features 5. */
    v.features = 5;
    CHECK_OK(weft_frame_hello_encode_v(buf, sizeof buf, &len, space, key, NULL, 0, token, 3, 1, 128,
                                       &v));
    static const uint8_t tail[] = {0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x03,
                                   0x80, 0x01, 0x02, 0x01, 0x05};
    CHECK(len == 66 + sizeof tail && memcmp(buf + 66, tail, sizeof tail) == 0);
    /* A plain HELLO says nothing about versions: the receiver assumes level 1. */
    CHECK_OK(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, NULL, 0, 0, 0));
    CHECK_OK(decode(&f, buf, len));
    CHECK(!f.has_versions && f.versions.format_level == 0);
    /* Level 0 is not a level, on either side. */
    v.format_level = 0;
    CHECK_RC(
        weft_frame_hello_encode_v(buf, sizeof buf, &len, space, key, NULL, 0, NULL, 0, 0, 0, &v),
        WEFT_EINVAL);
    static const uint8_t zero_level[] = {0x00, 0x00, 0x02, 0x00, 0x01, 0x00};
    CHECK_OK(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, NULL, 0, 0, 0));
    memcpy(buf + 66, zero_level, sizeof zero_level);
    CHECK_RC(decode(&f, buf, 66 + sizeof zero_level), WEFT_EMALFORMED);

    /* CHALLENGE: the block, when present, is read from the bytes after the vector. */
    v = (weft_versions){.format_level = 3, .space_level = 2, .features = 0};
    CHECK_OK(weft_frame_challenge_encode_v(buf, sizeof buf, &len, nonce, 9, NULL, 0, &v));
    CHECK(len == 2 + 32 + 1 + 1 + 3 && len <= weft_frame_challenge_bound(0));
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.has_versions && f.versions.format_level == 3 && f.versions.space_level == 2 &&
          f.head == 9);
    prefixes_and_mutations(buf, len);
    /* One byte of a block is a truncation, not silently ignored. */
    CHECK_RC(decode(&f, buf, len - 2), WEFT_ETRUNCATED);
    /* A CHALLENGE without a block is the version-1 one, byte for byte. */
    size_t with = len;
    CHECK_OK(weft_frame_challenge_encode(buf, sizeof buf, &len, nonce, 9, NULL, 0));
    CHECK(len == with - 3);
    CHECK_OK(decode(&f, buf, len));
    CHECK(!f.has_versions);
}

/* Random bytes behind a valid header never crash the decoder. */
static void random_frames(void) {
    uint64_t x = 88172645463325252ULL;
    uint8_t in[256];
    weft_frame f;
    for (int i = 0; i < 200000; i++) {
        size_t n = 2 + (size_t)(x % 100);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            in[k] = (uint8_t)x;
        }
        in[0] = 1;
        in[1] = (uint8_t)(1 + in[1] % 8);
        if (weft_frame_decode(&f, in, n, 4) == 0 && f.type == WEFT_FRAME_CHANGES) {
            size_t pos = 0, rl;
            uint64_t rs;
            const uint8_t *rec;
            uint32_t count = 0;
            while (weft_frame_change_next(&f, &pos, &rs, &rec, &rl))
                count++;
            CHECK(count == f.n && count <= 4);
        }
    }
}

static void snapshot_frames(void) {
    weft_frame f;
    static const uint8_t tok[] = {1, 3, 0xaa};
    uint8_t rec[100];
    memset(rec, 0x77, sizeof rec);
    /* A relay's answer: flags, base, token, record. */
    CHECK(weft_frame_snapshot_bound(sizeof tok, sizeof rec) <= sizeof buf);
    CHECK_OK(weft_frame_snapshot_encode(buf, sizeof buf, &len, 0, 300, tok, sizeof tok, rec,
                                        sizeof rec));
    CHECK(len == 2 + 1 + 2 + 1 + sizeof tok + 1 + sizeof rec);
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.type == WEFT_FRAME_SNAPSHOT && f.snap_flags == 0 && f.snap_rseq == 300);
    CHECK(f.token_len == sizeof tok && memcmp(f.token, tok, sizeof tok) == 0);
    CHECK(f.snap_len == sizeof rec && memcmp(f.snap, rec, sizeof rec) == 0);
    prefixes_and_mutations(buf, len);
    /* "None held": everything empty. "Use REST": no record with it. */
    CHECK_OK(weft_frame_snapshot_encode(buf, sizeof buf, &len, 0, 0, NULL, 0, NULL, 0));
    static const uint8_t none[] = {1, 9, 0, 0, 0, 0};
    CHECK(len == sizeof none && memcmp(buf, none, len) == 0);
    CHECK_OK(weft_frame_snapshot_encode(buf, sizeof buf, &len, WEFT_SNAPSHOT_USE_REST, 5, tok,
                                        sizeof tok, NULL, 0));
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.snap_flags == WEFT_SNAPSHOT_USE_REST && f.snap_len == 0);
    CHECK_RC(weft_frame_snapshot_encode(buf, sizeof buf, &len, WEFT_SNAPSHOT_USE_REST, 5, NULL, 0,
                                        rec, 1),
             WEFT_EINVAL);
    static const uint8_t rest_with_rec[] = {1, 9, 1, 5, 0, 1, 0x77};
    CHECK_RC(decode(&f, rest_with_rec, sizeof rest_with_rec), WEFT_EMALFORMED);
    static const uint8_t bad_flag[] = {1, 9, 2, 0, 0, 0};
    CHECK_RC(decode(&f, bad_flag, sizeof bad_flag), WEFT_EMALFORMED);
    /* SNAPSHOT_GET: no payload. */
    CHECK_OK(weft_frame_snapshot_get_encode(buf, sizeof buf, &len));
    CHECK(len == 2 && buf[1] == WEFT_FRAME_SNAPSHOT_GET);
    CHECK_OK(decode(&f, buf, len));
    static const uint8_t get_trailing[] = {1, 10, 0};
    CHECK_RC(decode(&f, get_trailing, sizeof get_trailing), WEFT_EMALFORMED);
    /* SNAPSHOT_ACK: stored with the base, or rejected with a code. */
    CHECK_OK(weft_frame_snapshot_ack_encode(buf, sizeof buf, &len, WEFT_ACK_REJECTED,
                                            WEFT_PROTO_EUNCOVERED));
    static const uint8_t ack[] = {1, 11, 3, 24};
    CHECK(len == sizeof ack && memcmp(buf, ack, len) == 0);
    CHECK_OK(decode(&f, buf, len));
    CHECK(f.status == WEFT_ACK_REJECTED && f.value == WEFT_PROTO_EUNCOVERED);
    CHECK_RC(weft_frame_snapshot_ack_encode(buf, sizeof buf, &len, WEFT_ACK_PARKED, 0),
             WEFT_EINVAL);
    static const uint8_t parked[] = {1, 11, 2, 0};
    CHECK_RC(decode(&f, parked, sizeof parked), WEFT_EMALFORMED);
}

static void names(void) {
    CHECK(strcmp(weft_proto_err_name(WEFT_PROTO_ESLOW_CONSUMER), "SLOW_CONSUMER") == 0);
    CHECK(strcmp(weft_proto_err_name(9999), "UNKNOWN") == 0);
    /* Codes are part of the protocol: pinned by number. */
    CHECK(strcmp(weft_proto_err_name(24), "UNCOVERED") == 0);
    CHECK(strcmp(weft_proto_err_name(25), "BAD_SNAPSHOT") == 0);
    CHECK(strcmp(weft_proto_err_name(26), "STALE_SNAPSHOT") == 0);
    CHECK(strcmp(weft_proto_err_name(27), "NOT_ADMITTED") == 0);
    CHECK(strcmp(weft_proto_err_name(28), "QUOTA") == 0);
    CHECK(strcmp(weft_proto_strerror(WEFT_PROTO_EGOING_AWAY), "server is shutting down") == 0);
    CHECK(weft_protocol_version() == WEFT_PROTOCOL_VERSION);
}

RUN_TESTS(T(hello_roundtrip), T(hello_golden), T(versions_blocks), T(hello_admission),
          T(challenge_proof), T(changes_roundtrip), T(ack_roundtrip), T(signal_presence_error),
          T(rejections), T(random_frames), T(snapshot_frames), T(names))
