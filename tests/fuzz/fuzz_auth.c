/*
 * fuzz_auth: the capability decoders of weft/auth.h, over the native
 * libsodium backend. Every input goes to all four:
 *
 * - weft_token_verify for the space of the fixed owner key at a fixed
 *   time. An accepted token is for that space, fits WEFT_TOKEN_MAX_BYTES,
 *   is valid now and not just outside its window, grants what its rights
 *   say to its grantee and nothing to another key, and survives an invite
 *   link round trip byte for byte;
 * - weft_invite_decode on the input as a link: an accepted link re-encodes
 *   to the same text (with the part before '#' as base);
 * - weft_base64url_decode: strict, so an accepted string re-encodes to
 *   itself;
 * - weft_level_decode and weft_level_verify (weft/level.h): a verified
 *   record decodes to the same fields, is for the fixed space, at most
 *   WEFT_LEVEL_MAX_BYTES, and any accepted structure has level >= 2 and a
 *   parent exactly when the issuer is not the owner.
 */
#include "fuzz_common.h"
#include "weft/level.h"
#include "weft/sodium.h"

static weft_crypto_backend be;
static uint8_t space[32];
static int ready;

static void setup(void) {
    if (ready) return;
    uint8_t seed[32], sk[64];
    FUZZ_ASSERT(weft_sodium_backend(&be) == 0);
    fuzz_key(seed, FUZZ_SEED_OWNER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, space, sk, seed) == 0);
    ready = 1;
}

static void invite_round_trip(const uint8_t *tok, size_t len) {
    static const char base[] = "https://weft.example/app";
    uint8_t key[32], sp[32], key2[32], tok2[WEFT_TOKEN_MAX_BYTES];
    size_t tlen, llen;
    fuzz_key(key, 0xab);
    size_t cap = weft_invite_bound(sizeof base - 1, len);
    char *link = malloc(cap);
    FUZZ_ASSERT(link);
    FUZZ_ASSERT(weft_invite_encode(link, cap, &llen, base, sizeof base - 1, space, tok, len, key) ==
                0);
    FUZZ_ASSERT(llen < cap && link[llen] == '\0');
    FUZZ_ASSERT(weft_invite_decode(link, llen, sp, tok2, sizeof tok2, &tlen, key2) == 0);
    FUZZ_ASSERT(memcmp(sp, space, 32) == 0 && memcmp(key2, key, 32) == 0);
    FUZZ_ASSERT(tlen == len && memcmp(tok2, tok, len) == 0);
    free(link);
}

static void fuzz_token(const uint8_t *data, size_t size) {
    weft_token t;
    int rc = weft_token_verify(&be, data, size, space, FUZZ_AUTH_NOW, &t);
    if (rc) {
        FUZZ_ASSERT(rc < 0);
        return;
    }
    FUZZ_ASSERT(size <= WEFT_TOKEN_MAX_BYTES);
    FUZZ_ASSERT(memcmp(t.space, space, 32) == 0);
    FUZZ_ASSERT(t.rights >= WEFT_RIGHT_READ && t.rights <= WEFT_RIGHT_ADMIN);
    FUZZ_ASSERT(t.not_before <= FUZZ_AUTH_NOW && (!t.expires || FUZZ_AUTH_NOW < t.expires));
    FUZZ_ASSERT(t.delegated == (memcmp(t.issuer, space, 32) != 0));
    static const uint8_t zero[32];
    FUZZ_ASSERT(t.any_grantee == (memcmp(t.grantee, zero, 32) == 0));

    /* Just outside its window it fails. */
    weft_token t2;
    if (t.not_before) FUZZ_ASSERT(weft_token_verify(&be, data, size, space, t.not_before - 1, &t2));
    if (t.expires) FUZZ_ASSERT(weft_token_verify(&be, data, size, space, t.expires, &t2));

    /* Rights: what it says, to whom it says. */
    uint8_t other[32];
    fuzz_key(other, 0xee);
    const uint8_t *holder = t.any_grantee ? other : t.grantee;
    FUZZ_ASSERT(weft_token_allows(&t, holder, t.rights) == 0);
    FUZZ_ASSERT(weft_token_allows(&t, holder, WEFT_RIGHT_READ) == 0);
    if (t.rights < WEFT_RIGHT_ADMIN)
        FUZZ_ASSERT(weft_token_allows(&t, holder, (uint8_t)(t.rights + 1)) == WEFT_ERIGHTS);
    if (!t.any_grantee && memcmp(t.grantee, other, 32) != 0)
        FUZZ_ASSERT(weft_token_allows(&t, other, WEFT_RIGHT_READ) == WEFT_ERIGHTS);

    invite_round_trip(data, size);
}

static void fuzz_invite(const uint8_t *data, size_t size) {
    const char *link = (const char *)data;
    uint8_t sp[32], key[32];
    uint8_t *tok = malloc(size + 1);
    FUZZ_ASSERT(tok);
    size_t tlen;
    int rc = weft_invite_decode(link, size, sp, tok, size + 1, &tlen, key);
    if (rc == 0) {
        const char *hash = memchr(link, '#', size);
        size_t base_len = hash ? (size_t)(hash - link) : 0;
        size_t cap = weft_invite_bound(base_len, tlen), len;
        char *out = malloc(cap);
        FUZZ_ASSERT(out);
        FUZZ_ASSERT(weft_invite_encode(out, cap, &len, link, base_len, sp, tok, tlen, key) == 0);
        /* Without a '#' the input was a bare fragment: the output adds one. */
        size_t skip = hash ? 0 : 1;
        FUZZ_ASSERT(len == size + skip && memcmp(out + skip, link, size) == 0);
        free(out);
    } else {
        FUZZ_ASSERT(rc == WEFT_EMALFORMED || rc == WEFT_ENOSPACE);
    }
    free(tok);
}

static void fuzz_base64(const uint8_t *data, size_t size) {
    uint8_t *bin = malloc(size + 1);
    FUZZ_ASSERT(bin);
    size_t n;
    int rc = weft_base64url_decode(bin, size, &n, (const char *)data, size);
    if (rc == 0) {
        FUZZ_ASSERT(weft_base64url_len(n) == size);
        char *txt = malloc(size + 1);
        size_t m;
        FUZZ_ASSERT(txt);
        FUZZ_ASSERT(weft_base64url_encode(txt, size, &m, bin, n) == 0);
        FUZZ_ASSERT(m == size && memcmp(txt, data, size) == 0);
        free(txt);
    } else {
        FUZZ_ASSERT(rc == WEFT_EMALFORMED);
    }
    free(bin);
}

static void fuzz_level(const uint8_t *data, size_t size) {
    weft_level d, v;
    int rc = weft_level_decode(&d, data, size);
    int rv = weft_level_verify(&be, data, size, space, &v);
    if (rc) {
        FUZZ_ASSERT(rc < 0 && rv == rc); /* verify decodes first */
        return;
    }
    FUZZ_ASSERT(size <= WEFT_LEVEL_MAX_BYTES && d.level >= 2);
    FUZZ_ASSERT(d.delegated == (memcmp(d.issuer, d.space, 32) != 0));
    if (rv) {
        FUZZ_ASSERT(rv < 0);
        return;
    }
    FUZZ_ASSERT(d.level == v.level && d.wall_ms == v.wall_ms && d.delegated == v.delegated);
    FUZZ_ASSERT(memcmp(d.issuer, v.issuer, 32) == 0 && memcmp(v.space, space, 32) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    fuzz_level(data, size);
    fuzz_token(data, size);
    fuzz_invite(data, size);
    fuzz_base64(data, size);
    return 0;
}
