/* Admission tokens (common/admission.h): golden bytes, round trip, every
 * refusal, and every cut and flipped byte refused. */
#include "check.h"

#include "admission.h"
#include "weft/sodium.h"

#include <stdint.h>

static weft_crypto_backend be;
static uint8_t op_pk[32], op_sk[64], other_pk[32], other_sk[64], space[32];

/* Token ids from a fixed byte, so the golden bytes are stable (Ed25519
 * signatures are deterministic). */
static int fixed_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    memset(buf, 0x5a, len);
    return 0;
}

static void setup(void) {
    uint8_t seed[32];
    CHECK_OK(weft_sodium_backend(&be));
    be.random = fixed_random;
    memset(seed, 0x0a, 32);
    CHECK_OK(be.sign_seed_keypair(be.ctx, op_pk, op_sk, seed));
    memset(seed, 0x0b, 32);
    CHECK_OK(be.sign_seed_keypair(be.ctx, other_pk, other_sk, seed));
    memset(space, 0x11, 32);
}

static void golden_and_round_trip(void) {
    uint8_t t[WEFT__ADMISSION_MAX_BYTES];
    size_t len;
    CHECK_OK(weft__admission_issue(&be, t, sizeof t, &len, space, op_sk, 1000000, 1700000000,
                                   1800000000));
    /* version, kind, space, operator, varints 1000000 / 1700000000 /
     * 1800000000, id, signature. */
    static const uint8_t varints[] = {0xc0, 0x84, 0x3d, 0x80, 0xe2, 0xcf, 0xaa,
                                      0x06, 0x80, 0xa4, 0xa7, 0xda, 0x06};
    CHECK(len == 2 + 64 + sizeof varints + 16 + 64);
    CHECK(t[0] == 1 && t[1] == WEFT__ADMISSION_KIND);
    CHECK(memcmp(t + 2, space, 32) == 0 && memcmp(t + 34, op_pk, 32) == 0);
    CHECK(memcmp(t + 66, varints, sizeof varints) == 0);
    for (int i = 0; i < 16; i++)
        CHECK(t[66 + sizeof varints + i] == 0x5a);
    weft__admission a;
    CHECK_OK(weft__admission_verify(&be, t, len, op_pk, space, 1750000000, &a));
    CHECK(a.bytes == 1000000 && a.not_before == 1700000000 && a.expires == 1800000000);
    /* The signature covers the domain string: signing the same bytes
     * without it does not verify. */
    uint8_t sig[64];
    CHECK_OK(be.sign(be.ctx, sig, t, len - 64, op_sk));
    CHECK(memcmp(sig, t + len - 64, 64) != 0);
}

static void refusals(void) {
    uint8_t t[WEFT__ADMISSION_MAX_BYTES], other_space[32];
    size_t len;
    weft__admission a;
    memset(other_space, 0x12, 32);
    CHECK_OK(weft__admission_issue(&be, t, sizeof t, &len, space, op_sk, 0, 100, 200));
    CHECK_RC(weft__admission_verify(&be, t, len, op_pk, space, 99, &a), WEFT_ENOTYET);
    CHECK_RC(weft__admission_verify(&be, t, len, op_pk, space, 200, &a), WEFT_EEXPIRED);
    CHECK_OK(weft__admission_verify(&be, t, len, op_pk, space, 199, &a));
    CHECK_RC(weft__admission_verify(&be, t, len, other_pk, space, 150, &a), WEFT_ECRYPTO);
    CHECK_RC(weft__admission_verify(&be, t, len, op_pk, other_space, 150, &a), WEFT_ESPACE);
    /* Signed by another key but naming this operator: a forgery. */
    CHECK_OK(weft__admission_issue(&be, t, sizeof t, &len, space, other_sk, 0, 100, 200));
    memcpy(t + 34, op_pk, 32);
    CHECK_RC(weft__admission_verify(&be, t, len, op_pk, space, 150, &a), WEFT_ECRYPTO);
    /* expires <= not_before: refused at issue and at decode. */
    CHECK_RC(weft__admission_issue(&be, t, sizeof t, &len, space, op_sk, 0, 200, 200), WEFT_EINVAL);
    CHECK_RC(weft__admission_issue(&be, t, 10, &len, space, op_sk, 0, 0, 0), WEFT_ENOSPACE);
}

static void cuts_and_flips(void) {
    uint8_t t[WEFT__ADMISSION_MAX_BYTES + 1], c[WEFT__ADMISSION_MAX_BYTES + 1];
    size_t len;
    weft__admission a;
    CHECK_OK(weft__admission_issue(&be, t, sizeof t, &len, space, op_sk, 5, 0, 0));
    for (size_t i = 0; i < len; i++)
        CHECK(weft__admission_decode(&a, t, i) < 0);
    t[len] = 0;
    CHECK_RC(weft__admission_decode(&a, t, len + 1), WEFT_EMALFORMED);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(c, t, len);
            c[i] ^= (uint8_t)(1u << bit);
            CHECK(weft__admission_verify(&be, c, len, op_pk, space, 10, &a) != 0);
        }
    }
    memcpy(c, t, len);
    c[0] = 2;
    CHECK_RC(weft__admission_decode(&a, c, len), WEFT_EVERSION);
    c[0] = 1, c[1] = 3; /* a capability token's kind */
    CHECK_RC(weft__admission_decode(&a, c, len), WEFT_EMALFORMED);
    /* A non-minimal varint (bytes = 5 as 0x85 0x00). */
    size_t n = 0;
    memcpy(c, t, 66), n = 66;
    c[n++] = 0x85, c[n++] = 0x00;
    memcpy(c + n, t + 67, len - 67), n += len - 67;
    CHECK_RC(weft__admission_decode(&a, c, n), WEFT_EMALFORMED);
}

RUN_TESTS(T(setup), T(golden_and_round_trip), T(refusals), T(cuts_and_flips))
