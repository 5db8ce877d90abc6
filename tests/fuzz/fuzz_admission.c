/*
 * fuzz_admission: the admission token decoder (common/admission.h), which
 * weft-relay --admit signed:KEY runs on bytes from any client's HELLO or
 * Weft-Admission header.
 *
 * Every input is decoded and verified against the fixed operator key (the
 * FUZZ_SEED_ADMIN key pair) for the fuzz space at FUZZ_AUTH_NOW. Neither
 * may read out of bounds, and:
 * - a decoded token has exactly the length its fields imply, fits
 *   WEFT__ADMISSION_MAX_BYTES and has a sane validity window;
 * - a verified token also decodes, names that operator and space and is
 *   valid now; with any one byte changed it no longer verifies.
 */
#include "fuzz_common.h"
#include "weft/sodium.h"

#include "admission.h"

static weft_crypto_backend be;
static uint8_t operator_pk[32], space[32];
static int ready;

static void setup(void) {
    if (ready) return;
    uint8_t seed[32], sk[64];
    FUZZ_ASSERT(weft_sodium_backend(&be) == 0);
    fuzz_key(seed, FUZZ_SEED_ADMIN);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, operator_pk, sk, seed) == 0);
    fuzz_key(space, FUZZ_SPACE_BYTE);
    ready = 1;
}

static size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    weft__admission a;
    if (weft__admission_decode(&a, data, size) == 0) {
        size_t want = 2 + 64 + varint_len(a.bytes) + varint_len(a.not_before) +
                      varint_len(a.expires) + 16 + 64;
        FUZZ_ASSERT(size == want && size <= WEFT__ADMISSION_MAX_BYTES);
        FUZZ_ASSERT(!a.expires || a.expires > a.not_before);
    }
    if (weft__admission_verify(&be, data, size, operator_pk, space, FUZZ_AUTH_NOW, &a) == 0) {
        FUZZ_ASSERT(memcmp(a.operator_pk, operator_pk, 32) == 0 && memcmp(a.space, space, 32) == 0);
        FUZZ_ASSERT(a.not_before <= FUZZ_AUTH_NOW && (!a.expires || FUZZ_AUTH_NOW < a.expires));
        uint8_t copy[WEFT__ADMISSION_MAX_BYTES];
        memcpy(copy, data, size);
        size_t i = (size_t)data[size / 2] % size;
        copy[i] ^= 0x01;
        weft__admission b;
        FUZZ_ASSERT(
            weft__admission_verify(&be, copy, size, operator_pk, space, FUZZ_AUTH_NOW, &b) != 0);
    }
    return 0;
}
