/*
 * Level records (weft/level.h): the owner's and an admin's verify and say
 * what was signed; every other issuer, space, bit flip, cut and bound is
 * refused with the error the header names. The byte layout is pinned
 * against docs/FORMAT.md §10.
 */
#include "check.h"
#include "weft/level.h"
#include "weft/sodium.h"

static weft_crypto_backend BE;
static uint8_t space[32], owner_sk[64], admin_pk[32], admin_sk[64], member_pk[32], member_sk[64];
static uint8_t admin_tok[WEFT_TOKEN_MAX_BYTES], member_tok[WEFT_TOKEN_MAX_BYTES];
static size_t admin_len, member_len;

/* 2023-11-14T22:13:20Z, inside every token's window below. */
#define NOW_S 1700000000u

static void setup(void) {
    if (weft_sodium_backend(&BE)) abort();
    uint8_t seed[32];
    memset(seed, 1, 32);
    if (BE.sign_seed_keypair(BE.ctx, space, owner_sk, seed)) abort();
    memset(seed, 2, 32);
    if (BE.sign_seed_keypair(BE.ctx, admin_pk, admin_sk, seed)) abort();
    memset(seed, 3, 32);
    if (BE.sign_seed_keypair(BE.ctx, member_pk, member_sk, seed)) abort();
    if (weft_token_issue(&BE, admin_tok, sizeof admin_tok, &admin_len, space, owner_sk, NULL, 0,
                         admin_pk, WEFT_RIGHT_ADMIN, NOW_S - 100, NOW_S + 100))
        abort();
    if (weft_token_issue(&BE, member_tok, sizeof member_tok, &member_len, space, owner_sk, NULL, 0,
                         member_pk, WEFT_RIGHT_WRITE, 0, 0))
        abort();
}

static void owner_record(void) {
    uint8_t rec[WEFT_LEVEL_MAX_BYTES];
    size_t len;
    CHECK_OK(
        weft_level_sign(&BE, rec, sizeof rec, &len, space, owner_sk, NULL, 0, 2, NOW_S * 1000ull));
    /* version, kind 4, space, issuer = space, level 2, wall_ms (6 bytes), no parent, sig. */
    CHECK(len == 2 + 64 + 1 + 6 + 1 + 64);
    CHECK(rec[0] == 1 && rec[1] == WEFT_RECORD_LEVEL && rec[66] == 2 && rec[73] == 0);
    CHECK(memcmp(rec + 2, space, 32) == 0 && memcmp(rec + 34, space, 32) == 0);
    weft_level l;
    CHECK_OK(weft_level_verify(&BE, rec, len, space, &l));
    CHECK(l.level == 2 && l.wall_ms == NOW_S * 1000ull && !l.delegated);
    CHECK_OK(weft_level_decode(&l, rec, len));
    /* Another space, a flipped bit anywhere, a cut anywhere, a byte more. */
    uint8_t other[32];
    memset(other, 9, 32);
    CHECK_RC(weft_level_verify(&BE, rec, len, other, &l), WEFT_ESPACE);
    for (size_t i = 0; i < len; i++) {
        rec[i] ^= 0x10;
        CHECK(weft_level_verify(&BE, rec, len, space, &l) < 0);
        rec[i] ^= 0x10;
        CHECK(weft_level_verify(&BE, rec, i, space, &l) < 0);
    }
    rec[len] = 0;
    CHECK_RC(weft_level_decode(&l, rec, len + 1), WEFT_EMALFORMED);
    /* As the first of several records, it says where it ends. */
    size_t used = 0;
    CHECK_OK(weft_level_decode_prefix(&l, rec, len + 1, &used));
    CHECK(used == len && l.level == 2);
    CHECK_RC(weft_level_decode_prefix(&l, rec, len - 1, &used), WEFT_ETRUNCATED);
    /* A newer format version is EVERSION; a token is not a level record. */
    rec[0] = 2;
    CHECK_RC(weft_level_decode(&l, rec, len), WEFT_EVERSION);
    CHECK_RC(weft_level_decode(&l, member_tok, member_len), WEFT_EMALFORMED);
}

static void admin_record(void) {
    uint8_t rec[WEFT_LEVEL_MAX_BYTES];
    size_t len;
    weft_level l;
    CHECK_OK(weft_level_sign(&BE, rec, sizeof rec, &len, space, admin_sk, admin_tok, admin_len, 2,
                             NOW_S * 1000ull));
    CHECK(len <= WEFT_LEVEL_MAX_BYTES && len <= weft_level_max_bytes());
    CHECK_OK(weft_level_verify(&BE, rec, len, space, &l));
    CHECK(l.delegated && memcmp(l.issuer, admin_pk, 32) == 0);
    /* Signed after the admin token expired: its parent is checked at the
     * record's own time, so every replica refuses it alike. */
    CHECK_OK(weft_level_sign(&BE, rec, sizeof rec, &len, space, admin_sk, admin_tok, admin_len, 2,
                             (NOW_S + 200) * 1000ull));
    CHECK_RC(weft_level_verify(&BE, rec, len, space, &l), WEFT_EEXPIRED);
    /* A writer is not an admin. */
    CHECK_OK(weft_level_sign(&BE, rec, sizeof rec, &len, space, member_sk, member_tok, member_len,
                             2, NOW_S * 1000ull));
    CHECK_RC(weft_level_verify(&BE, rec, len, space, &l), WEFT_ERIGHTS);
    /* Someone else's admin token does not make the member an admin. */
    CHECK_OK(weft_level_sign(&BE, rec, sizeof rec, &len, space, member_sk, admin_tok, admin_len, 2,
                             NOW_S * 1000ull));
    CHECK_RC(weft_level_verify(&BE, rec, len, space, &l), WEFT_ERIGHTS);
}

static void bad_arguments(void) {
    uint8_t rec[WEFT_LEVEL_MAX_BYTES];
    size_t len;
    CHECK_RC(weft_level_sign(&BE, rec, sizeof rec, &len, space, owner_sk, NULL, 0, 1, 0),
             WEFT_EINVAL);
    CHECK_RC(weft_level_sign(&BE, rec, sizeof rec, &len, space, owner_sk, NULL, 0,
                             WEFT_FORMAT_LEVEL + 1, 0),
             WEFT_EINVAL);
    CHECK_RC(
        weft_level_sign(&BE, rec, sizeof rec, &len, space, owner_sk, admin_tok, admin_len, 2, 0),
        WEFT_EINVAL);
    CHECK_RC(weft_level_sign(&BE, rec, sizeof rec, &len, space, admin_sk, NULL, 0, 2, 0),
             WEFT_EINVAL);
    CHECK_RC(weft_level_sign(&BE, rec, 10, &len, space, owner_sk, NULL, 0, 2, 0), WEFT_ENOSPACE);
    CHECK(weft_format_level() == WEFT_FORMAT_LEVEL && WEFT_FORMAT_LEVEL >= 2);
    /* Level 1 and a parent on the owner's record are malformed on the wire too. */
    CHECK_OK(weft_level_sign(&BE, rec, sizeof rec, &len, space, owner_sk, NULL, 0, 2, 0));
    weft_level l;
    rec[66] = 1;
    CHECK_RC(weft_level_decode(&l, rec, len), WEFT_EMALFORMED);
}

static void setup_first(void) {
    setup();
}

RUN_TESTS(T(setup_first), T(owner_record), T(admin_record), T(bad_arguments))
