/*
 * Suite V1, tokens, proofs and invites over the libsodium backend, with
 * injected randomness so every byte is reproducible: the outputs are
 * compared with golden vectors in tests/vectors/crypto/v1.txt (the WASM
 * build must reproduce the same file). Then one test per rejection.
 *
 *   test_crypto VECTOR_FILE            check
 *   WEFT_UPDATE_VECTORS=1 test_crypto VECTOR_FILE   rewrite (review the diff!)
 */
#include "check.h"
#include "weft/level.h"
#include "weft/sodium.h"

static const char *vector_path;
static weft_crypto_backend BE; /* libsodium with deterministic randomness */

typedef struct det_rng {
    uint64_t counter;
} det_rng;
static det_rng RNG;

static int det_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    while (len) {
        uint8_t block[64], in[20] = "weft-test-rng";
        for (int i = 0; i < 8; i++)
            in[12 + i] = (uint8_t)(RNG.counter >> (8 * i));
        RNG.counter++;
        weft_blake2b(block, 64, in, sizeof in);
        size_t n = len < 64 ? len : 64;
        memcpy(buf, block, n);
        buf += n;
        len -= n;
    }
    return 0;
}

static void setup(void) {
    if (weft_sodium_backend(&BE)) abort();
    BE.random = det_random;
    RNG.counter = 0;
}

/* ---- golden vectors ---- */

static FILE *vec_out;
static char *vec_text;

static void vector(const char *name, const uint8_t *p, size_t n) {
    char *hex = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", p[i]);
    hex[2 * n] = 0;
    if (vec_out) {
        fprintf(vec_out, "%s %s\n", name, hex);
    } else {
        char *line = malloc(strlen(name) + 2 * n + 3);
        sprintf(line, "%s %s\n", name, hex);
        if (!vec_text || !strstr(vec_text, line)) {
            fprintf(stderr, "vector '%s' differs from %s:\n  got %s\n", name, vector_path, hex);
            check_failures++;
        }
        free(line);
    }
    free(hex);
}

/* A vector that cannot be reproduced byte for byte (a sealed box's
 * ephemeral key comes from the library's own randomness): written fresh on
 * update; on check, read back from the file for the caller to open. */
static size_t stored(const char *name, uint8_t *dst, size_t cap, const uint8_t *fresh, size_t n) {
    if (vec_out) {
        vector(name, fresh, n);
        memcpy(dst, fresh, n);
        return n;
    }
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s ", name);
    const char *at = vec_text ? strstr(vec_text, pat) : NULL;
    if (!at) {
        fprintf(stderr, "vector '%s' missing from %s\n", name, vector_path);
        check_failures++;
        return 0;
    }
    at += strlen(pat);
    size_t len = 0;
    while (len < cap && at[2 * len] && at[2 * len] != '\n') {
        unsigned v;
        if (sscanf(at + 2 * len, "%2x", &v) != 1) break;
        dst[len++] = (uint8_t)v;
    }
    return len;
}

static void keys(uint8_t *pk, uint8_t *sk) {
    CHECK_OK(weft_keypair_generate(&BE, pk, sk));
}

static void golden_vectors(void) {
    setup();
    int update = getenv("WEFT_UPDATE_VECTORS") != NULL;
    FILE *f = fopen(vector_path, update ? "w" : "rb");
    CHECK(f != NULL);
    if (!f) return;
    if (update) {
        vec_out = f;
        fprintf(f, "# Suite V1, token, proof and invite vectors (tests/unit/test_crypto.c).\n");
    } else {
        vec_text = calloc(1, 1 << 16);
        fread(vec_text, 1, (1 << 16) - 1, f);
    }
    uint8_t owner_pk[32], owner_sk[64], author_pk[32], author_sk[64], content_key[32];
    keys(owner_pk, owner_sk);
    keys(author_pk, author_sk);
    det_random(NULL, content_key, 32);
    vector("owner_pk", owner_pk, 32);
    vector("author_pk", author_pk, 32);
    vector("content_key", content_key, 32);
    /* A sealed, signed change. */
    weft_suite_v1 st;
    weft_crypto table;
    CHECK_OK(weft_suite_v1_init(&table, &st, &BE, content_key, author_sk));
    weft_replica *r;
    weft_replica_config cfg = {
        .space = owner_pk, .author = author_pk, .crypto = &table, .keep_records = 1};
    CHECK_OK(weft_replica_new(&r, &cfg));
    CHECK_OK(put_str(r, "notes", "n1", "title", "hello"));
    const uint8_t *rec;
    size_t len;
    CHECK_OK(weft_replica_commit(r, 1700000000000ULL, &rec, &len));
    vector("change_v1", rec, len);
    uint8_t hash[32];
    CHECK_OK(weft_state_hash(r, hash));
    vector("state_hash", hash, 32);
    weft_replica_free(r);
    weft_suite_v1_wipe(&st);
    /* Tokens: owner -> admin, admin -> writer, owner -> anyone (read). */
    uint8_t admin_tok[WEFT_TOKEN_MAX_BYTES], write_tok[WEFT_TOKEN_MAX_BYTES],
        read_tok[WEFT_TOKEN_MAX_BYTES];
    size_t admin_len, write_len, read_len;
    CHECK_OK(weft_token_issue(&BE, admin_tok, sizeof admin_tok, &admin_len, owner_pk, owner_sk,
                              NULL, 0, author_pk, WEFT_RIGHT_ADMIN, 1700000000, 1800000000));
    uint8_t w_pk[32], w_sk[64];
    keys(w_pk, w_sk);
    CHECK_OK(weft_token_issue(&BE, write_tok, sizeof write_tok, &write_len, owner_pk, author_sk,
                              admin_tok, admin_len, w_pk, WEFT_RIGHT_WRITE, 1700000000,
                              1750000000));
    CHECK_OK(weft_token_issue(&BE, read_tok, sizeof read_tok, &read_len, owner_pk, owner_sk, NULL,
                              0, NULL, WEFT_RIGHT_READ, 0, 0));
    vector("token_admin", admin_tok, admin_len);
    vector("token_write_delegated", write_tok, write_len);
    vector("token_read_any", read_tok, read_len);
    uint8_t sig[64], nonce[32];
    det_random(NULL, nonce, sizeof nonce);
    CHECK_OK(weft_proof_sign(&BE, sig, w_sk, owner_pk, nonce, sizeof nonce));
    vector("proof_nonce", nonce, sizeof nonce);
    vector("proof_sig", sig, 64);
    char link[1024];
    size_t link_len;
    CHECK_OK(weft_invite_encode(link, sizeof link, &link_len, "https://weft.example/app", 24,
                                owner_pk, read_tok, read_len, content_key));
    vector("invite", (const uint8_t *)link, link_len);
    /* Level records (FORMAT.md §10): by the owner, and by the admin with
     * its token as the parent. Last, so the vectors above keep their bytes. */
    uint8_t lvl[WEFT_LEVEL_MAX_BYTES];
    size_t lvl_len;
    weft_level lv;
    CHECK_OK(weft_level_sign(&BE, lvl, sizeof lvl, &lvl_len, owner_pk, owner_sk, NULL, 0, 2,
                             1700000000000ULL));
    CHECK_OK(weft_level_verify(&BE, lvl, lvl_len, owner_pk, &lv));
    vector("level_owner", lvl, lvl_len);
    CHECK_OK(weft_level_sign(&BE, lvl, sizeof lvl, &lvl_len, owner_pk, author_sk, admin_tok,
                             admin_len, 2, 1700000000000ULL));
    CHECK_OK(weft_level_verify(&BE, lvl, lvl_len, owner_pk, &lv));
    vector("level_admin", lvl, lvl_len);
    /* Membership (weft/members.h): the X25519 forms of a member's key, a
     * grant and a revocation (Ed25519 signatures are deterministic), and
     * records with sealed boxes, which the other backend must open. */
    uint8_t xpk[32], xsk[32], box[32 + WEFT_BOX_SEALBYTES], opened[32];
    CHECK_OK(BE.sign_pk_to_box(BE.ctx, xpk, author_pk));
    CHECK_OK(BE.sign_sk_to_box(BE.ctx, xsk, author_sk));
    vector("box_pk", xpk, 32);
    vector("box_sk", xsk, 32);
    uint8_t fresh_box[sizeof box];
    CHECK_OK(weft_box_seal_to(&BE, fresh_box, content_key, 32, author_pk));
    CHECK(stored("box_sealed", box, sizeof box, fresh_box, sizeof box) == sizeof box);
    CHECK_OK(weft_box_open_with(&BE, opened, box, sizeof box, author_sk));
    CHECK(memcmp(opened, content_key, 32) == 0);
    CHECK_RC(weft_box_open_with(&BE, opened, box, sizeof box, w_sk), WEFT_ECRYPTO);
    uint8_t mrec[WEFT_EPOCH_BYTES_BOUND(2)], fresh_epoch[sizeof mrec];
    size_t mlen;
    CHECK_OK(weft_grant_sign(&BE, mrec, sizeof mrec, &mlen, owner_pk, owner_sk, w_pk,
                             WEFT_RIGHT_WRITE, 0, 1800000000, 1700000000000ULL));
    vector("grant_owner", mrec, mlen);
    CHECK_OK(weft_revoke_sign(&BE, mrec, sizeof mrec, &mlen, owner_pk, owner_sk, w_pk, 7, 1,
                              1700000000000ULL));
    vector("revoke_owner", mrec, mlen);
    uint8_t both[64], new_key[32], prev[32];
    memcpy(both, author_pk, 32);
    memcpy(both + 32, w_pk, 32);
    det_random(NULL, new_key, 32);
    CHECK_OK(weft_epoch_sign(&BE, fresh_epoch, sizeof fresh_epoch, &mlen, owner_pk, owner_sk, 1,
                             new_key, content_key, both, 2, 1700000000000ULL));
    CHECK(mlen <= WEFT_EPOCH_BYTES_BOUND(2) && mlen == weft_epoch_bytes_bound(2) - 15);
    mlen = stored("epoch_owner", mrec, sizeof mrec, fresh_epoch, mlen);
    weft_member_record mr;
    CHECK_OK(weft_member_record_verify(&BE, mrec, mlen, owner_pk, &mr));
    CHECK(mr.kind == WEFT_RECORD_EPOCH && mr.epoch == 1 && mr.n_envelopes == 2);
    CHECK_OK(weft_epoch_open(&BE, mrec, mlen, author_sk, opened));
    CHECK(memcmp(opened, new_key, 32) == 0);
    CHECK_OK(weft_epoch_open(&BE, mrec, mlen, w_sk, opened));
    CHECK_OK(weft_epoch_prev_key(&BE, mrec, mlen, opened, prev));
    CHECK(memcmp(prev, content_key, 32) == 0);
    fclose(f);
    vec_out = NULL;
    free(vec_text);
    vec_text = NULL;
}

/* ---- changes ---- */

typedef struct pair {
    uint8_t owner_pk[32], owner_sk[64], a_pk[32], a_sk[64], key[32];
    weft_suite_v1 sa, sb;
    weft_crypto ta, tb;
    weft_replica *a, *b;
} pair;

static void pair_open(pair *p, const uint8_t *b_key) {
    setup();
    keys(p->owner_pk, p->owner_sk);
    keys(p->a_pk, p->a_sk);
    det_random(NULL, p->key, 32);
    uint8_t b_pk[32], b_sk[64];
    keys(b_pk, b_sk);
    if (weft_suite_v1_init(&p->ta, &p->sa, &BE, p->key, p->a_sk) ||
        weft_suite_v1_init(&p->tb, &p->sb, &BE, b_key ? b_key : p->key, b_sk))
        abort();
    weft_replica_config ca = {
        .space = p->owner_pk, .author = p->a_pk, .crypto = &p->ta, .keep_records = 1};
    weft_replica_config cb = {
        .space = p->owner_pk, .author = b_pk, .crypto = &p->tb, .keep_records = 1};
    if (weft_replica_new(&p->a, &ca) || weft_replica_new(&p->b, &cb)) abort();
}

static void pair_close(pair *p) {
    weft_replica_free(p->a);
    weft_replica_free(p->b);
    weft_suite_v1_wipe(&p->sa);
    weft_suite_v1_wipe(&p->sb);
}

static void sealed_changes_and_tampering(void) {
    pair p;
    pair_open(&p, NULL);
    CHECK_OK(put_str(p.a, "notes", "n1", "body", "the plaintext marker"));
    uint8_t *rec;
    size_t len = commit_copy(p.a, &rec);
    weft_change c;
    CHECK_OK(weft_change_decode(&c, rec, len));
    /* A relay can verify without the content key; a client can open. */
    CHECK_OK(weft_change_verify(&BE, &c));
    uint8_t plain[256];
    size_t pl;
    CHECK_OK(weft_change_open(&BE, p.key, &c, plain, sizeof plain, &pl));
    CHECK(pl == c.body_len - WEFT_SUITE_V1_OVERHEAD);
    uint8_t wrong[32];
    memcpy(wrong, p.key, 32);
    wrong[0] ^= 1;
    CHECK_RC(weft_change_open(&BE, wrong, &c, plain, sizeof plain, &pl), WEFT_ECRYPTO);
    /* One flipped bit in the header, the body or the signature. */
    size_t spots[] = {5, 3 + 32 + 5, c.header_len + 2, c.header_len + c.body_len / 2,
                      c.signed_len + 10};
    for (size_t k = 0; k < sizeof spots / sizeof *spots; k++) {
        rec[spots[k]] ^= 0x10;
        weft_change t;
        int rc = weft_change_decode(&t, rec, len);
        if (!rc) CHECK_RC(weft_change_verify(&BE, &t), WEFT_ECRYPTO);
        weft_apply_result res;
        CHECK(weft_replica_apply(p.b, rec, len, &res) < 0 && res.applied == 0);
        rec[spots[k]] ^= 0x10;
    }
    CHECK_OK(weft_replica_apply(p.b, rec, len, NULL));
    CHECK(same_hash(p.a, p.b));
    /* Replayed: a duplicate, ignored. */
    weft_apply_result res;
    CHECK_OK(weft_replica_apply(p.b, rec, len, &res));
    CHECK(res.duplicates == 1 && res.applied == 0);
    free(rec);
    pair_close(&p);
}

static void wrong_content_key(void) {
    uint8_t other[32];
    memset(other, 0x42, 32);
    pair p;
    pair_open(&p, other);
    CHECK_OK(put_int(p.a, "c", "d", "f", 1));
    uint8_t *rec;
    size_t len = commit_copy(p.a, &rec);
    weft_apply_result res;
    CHECK_RC(weft_replica_apply(p.b, rec, len, &res), WEFT_ECRYPTO);
    CHECK(weft_replica_change_count(p.b) == 0);
    free(rec);
    pair_close(&p);
}

/* Someone else signing as the author: the signature is by the wrong key. */
static void forged_author_and_fork(void) {
    pair p;
    pair_open(&p, NULL);
    CHECK_OK(put_int(p.a, "c", "d", "f", 1));
    uint8_t *good;
    size_t glen = commit_copy(p.a, &good);
    /* Mallory signs a change with her key, then puts A's key in the header. */
    uint8_t m_pk[32], m_sk[64];
    keys(m_pk, m_sk);
    weft_suite_v1 sm;
    weft_crypto tm;
    CHECK_OK(weft_suite_v1_init(&tm, &sm, &BE, p.key, m_sk));
    weft_replica *m;
    weft_replica_config cm = {
        .space = p.owner_pk, .author = m_pk, .crypto = &tm, .keep_records = 1};
    CHECK_OK(weft_replica_new(&m, &cm));
    CHECK_OK(put_int(m, "c", "d", "f", 666));
    uint8_t *forged;
    size_t flen = commit_copy(m, &forged);
    memcpy(forged + 3 + 32, p.a_pk, 32);
    CHECK_RC(weft_replica_apply(p.b, forged, flen, NULL), WEFT_ECRYPTO);
    CHECK_OK(weft_replica_apply(p.b, good, glen, NULL));
    /* A genuine fork: A's key signs two different seq-1 changes. */
    weft_replica *a2;
    weft_replica_config c2 = {
        .space = p.owner_pk, .author = p.a_pk, .crypto = &p.ta, .keep_records = 1};
    CHECK_OK(weft_replica_new(&a2, &c2));
    CHECK_OK(put_int(a2, "c", "d", "f", 2));
    uint8_t *fork;
    size_t klen = commit_copy(a2, &fork);
    CHECK_RC(weft_replica_apply(p.b, fork, klen, NULL), WEFT_EFORK);
    CHECK(get_int(p.b, "c", "d", "f") == 1);
    free(good);
    free(forged);
    free(fork);
    weft_replica_free(m);
    weft_replica_free(a2);
    weft_suite_v1_wipe(&sm);
    pair_close(&p);
}

/* ---- tokens ---- */

static void token_rejections(void) {
    setup();
    uint8_t o_pk[32], o_sk[64], a_pk[32], a_sk[64], w_pk[32], w_sk[64], x_pk[32], x_sk[64];
    keys(o_pk, o_sk);
    keys(a_pk, a_sk);
    keys(w_pk, w_sk);
    keys(x_pk, x_sk);
    uint8_t tok[WEFT_TOKEN_MAX_BYTES], admin[WEFT_TOKEN_MAX_BYTES], sub[WEFT_TOKEN_MAX_BYTES];
    size_t tl, al, sl;
    weft_token t;
    const uint64_t now = 1750000000;
    CHECK_OK(weft_token_issue(&BE, tok, sizeof tok, &tl, o_pk, o_sk, NULL, 0, w_pk,
                              WEFT_RIGHT_WRITE, now - 100, now + 100));
    CHECK_OK(weft_token_verify(&BE, tok, tl, o_pk, now, &t));
    CHECK(t.rights == WEFT_RIGHT_WRITE && !t.any_grantee && !t.delegated);
    CHECK_OK(weft_token_allows(&t, w_pk, WEFT_RIGHT_READ));
    CHECK_OK(weft_token_allows(&t, w_pk, WEFT_RIGHT_WRITE));
    CHECK_RC(weft_token_allows(&t, w_pk, WEFT_RIGHT_ADMIN), WEFT_ERIGHTS);
    CHECK_RC(weft_token_allows(&t, x_pk, WEFT_RIGHT_READ), WEFT_ERIGHTS); /* not the grantee */
    CHECK_RC(weft_token_verify(&BE, tok, tl, o_pk, now + 100, &t), WEFT_EEXPIRED);
    CHECK_RC(weft_token_verify(&BE, tok, tl, o_pk, now - 101, &t), WEFT_ENOTYET);
    CHECK_RC(weft_token_verify(&BE, tok, tl, x_pk, now, &t), WEFT_ESPACE);
    for (size_t i = 0; i < tl; i += 9) { /* any altered byte */
        tok[i] ^= 4;
        CHECK(weft_token_verify(&BE, tok, tl, o_pk, now, &t) < 0);
        tok[i] ^= 4;
    }
    CHECK(weft_token_verify(&BE, tok, tl - 1, o_pk, now, &t) < 0);
    /* Forged: signed by a key that is not the owner, claiming to be it. */
    uint8_t forged[WEFT_TOKEN_MAX_BYTES];
    size_t fl;
    CHECK_OK(weft_token_issue(&BE, forged, sizeof forged, &fl, x_pk, x_sk, NULL, 0, w_pk,
                              WEFT_RIGHT_ADMIN, 0, 0));
    memcpy(forged + 2, o_pk, 32);  /* space := victim */
    memcpy(forged + 34, o_pk, 32); /* issuer := victim's owner */
    CHECK_RC(weft_token_verify(&BE, forged, fl, o_pk, now, &t), WEFT_ECRYPTO);
    /* Delegation: owner -> admin A -> W is fine... */
    CHECK_OK(weft_token_issue(&BE, admin, sizeof admin, &al, o_pk, o_sk, NULL, 0, a_pk,
                              WEFT_RIGHT_ADMIN, 0, now + 1000));
    CHECK_OK(weft_token_issue(&BE, sub, sizeof sub, &sl, o_pk, a_sk, admin, al, w_pk,
                              WEFT_RIGHT_WRITE, 0, now + 500));
    CHECK_OK(weft_token_verify(&BE, sub, sl, o_pk, now, &t));
    CHECK(t.delegated && t.rights == WEFT_RIGHT_WRITE);
    /* ...but not with a parent that is not admin, not A's, outlived, or
     * itself delegated (three links). */
    uint8_t wtok[WEFT_TOKEN_MAX_BYTES], bad[WEFT_TOKEN_MAX_BYTES];
    size_t wl, bl;
    CHECK_OK(weft_token_issue(&BE, wtok, sizeof wtok, &wl, o_pk, o_sk, NULL, 0, a_pk,
                              WEFT_RIGHT_WRITE, 0, 0));
    CHECK_RC(weft_token_issue(&BE, bad, sizeof bad, &bl, o_pk, a_sk, wtok, wl, w_pk,
                              WEFT_RIGHT_READ, 0, 0),
             WEFT_EDELEGATION);
    CHECK_RC(weft_token_issue(&BE, bad, sizeof bad, &bl, o_pk, x_sk, admin, al, w_pk,
                              WEFT_RIGHT_READ, 0, 0),
             WEFT_EDELEGATION);
    CHECK_OK(weft_token_issue(&BE, bad, sizeof bad, &bl, o_pk, a_sk, admin, al, w_pk,
                              WEFT_RIGHT_READ, 0, now + 2000));
    CHECK_RC(weft_token_verify(&BE, bad, bl, o_pk, now, &t), WEFT_EDELEGATION); /* outlives */
    CHECK_RC(weft_token_verify(&BE, sub, sl, o_pk, now + 1000, &t), WEFT_EEXPIRED);
    uint8_t sub_admin[WEFT_TOKEN_MAX_BYTES], third[WEFT_TOKEN_MAX_BYTES];
    size_t sal, thl;
    CHECK_OK(weft_token_issue(&BE, sub_admin, sizeof sub_admin, &sal, o_pk, a_sk, admin, al, w_pk,
                              WEFT_RIGHT_ADMIN, 0, now + 500));
    CHECK_RC(weft_token_issue(&BE, third, sizeof third, &thl, o_pk, w_sk, sub_admin, sal, x_pk,
                              WEFT_RIGHT_READ, 0, now + 100),
             WEFT_EDELEGATION);
    /* An admin's token without its parent. */
    CHECK_RC(weft_token_issue(&BE, bad, sizeof bad, &bl, o_pk, a_sk, NULL, 0, w_pk, WEFT_RIGHT_READ,
                              0, 0),
             WEFT_EINVAL);
    /* Bad parameters. */
    CHECK_RC(weft_token_issue(&BE, bad, sizeof bad, &bl, o_pk, o_sk, NULL, 0, w_pk, 4, 0, 0),
             WEFT_EINVAL);
    CHECK_RC(weft_token_issue(&BE, bad, sizeof bad, &bl, o_pk, o_sk, NULL, 0, w_pk, 1, 10, 10),
             WEFT_EINVAL);
    CHECK_RC(weft_token_issue(&BE, bad, 50, &bl, o_pk, o_sk, NULL, 0, w_pk, 1, 0, 0),
             WEFT_ENOSPACE);
}

static void proofs(void) {
    setup();
    uint8_t space[32], pk[32], sk[64], x_pk[32], x_sk[64], sig[64], nonce[32];
    memset(space, 7, 32);
    keys(pk, sk);
    keys(x_pk, x_sk);
    det_random(NULL, nonce, 32);
    CHECK_OK(weft_proof_sign(&BE, sig, sk, space, nonce, 32));
    CHECK_OK(weft_proof_verify(&BE, sig, pk, space, nonce, 32));
    CHECK_RC(weft_proof_verify(&BE, sig, x_pk, space, nonce, 32), WEFT_ECRYPTO);
    nonce[0] ^= 1;
    CHECK_RC(weft_proof_verify(&BE, sig, pk, space, nonce, 32), WEFT_ECRYPTO);
    space[0] ^= 1;
    nonce[0] ^= 1;
    CHECK_RC(weft_proof_verify(&BE, sig, pk, space, nonce, 32), WEFT_ECRYPTO);
    CHECK_RC(weft_proof_sign(&BE, sig, sk, space, nonce, 0), WEFT_EINVAL);
}

static void invites_and_base64(void) {
    setup();
    uint8_t space[32], key[32], tok[100], s2[32], k2[32], t2[200];
    det_random(NULL, space, 32);
    det_random(NULL, key, 32);
    det_random(NULL, tok, sizeof tok);
    char link[512];
    size_t len, tl;
    CHECK_OK(weft_invite_encode(link, sizeof link, &len, "http://localhost:8080/", 22, space, tok,
                                sizeof tok, key));
    CHECK(strlen(link) == len && strncmp(link, "http://localhost:8080/#", 23) == 0);
    CHECK_OK(weft_invite_decode(link, len, s2, t2, sizeof t2, &tl, k2));
    CHECK(tl == sizeof tok && !memcmp(s2, space, 32) && !memcmp(k2, key, 32) &&
          !memcmp(t2, tok, tl));
    /* Just the fragment works too; broken ones do not. */
    const char *frag = strchr(link, '#');
    CHECK_OK(weft_invite_decode(frag + 1, strlen(frag + 1), s2, t2, sizeof t2, &tl, k2));
    CHECK_RC(weft_invite_decode("#abc.def", 8, s2, t2, sizeof t2, &tl, k2), WEFT_EMALFORMED);
    link[len - 1] = '*';
    CHECK_RC(weft_invite_decode(link, len, s2, t2, sizeof t2, &tl, k2), WEFT_EMALFORMED);
    CHECK_RC(weft_invite_encode(link, sizeof link, &len, "a#b", 3, space, tok, 10, key),
             WEFT_EINVAL);
    /* base64url against RFC 4648 vectors, in the URL alphabet. */
    char out[16];
    uint8_t bin[16];
    CHECK_OK(weft_base64url_encode(out, sizeof out, &len, (const uint8_t *)"foobar", 6));
    CHECK(len == 8 && memcmp(out, "Zm9vYmFy", 8) == 0);
    CHECK_OK(weft_base64url_encode(out, sizeof out, &len, (const uint8_t *)"fo", 2));
    CHECK(len == 3 && memcmp(out, "Zm8", 3) == 0);
    CHECK_OK(weft_base64url_encode(out, sizeof out, &len, (const uint8_t *)"\xfb\xff", 2));
    CHECK(memcmp(out, "-_8", 3) == 0);
    CHECK_OK(weft_base64url_decode(bin, sizeof bin, &len, "Zm9vYg", 6));
    CHECK(len == 4 && memcmp(bin, "foob", 4) == 0);
    CHECK_RC(weft_base64url_decode(bin, sizeof bin, &len, "Zm9vYh", 6), WEFT_EMALFORMED);
    CHECK_RC(weft_base64url_decode(bin, sizeof bin, &len, "Zm9=", 4), WEFT_EMALFORMED);
    CHECK_RC(weft_base64url_decode(bin, sizeof bin, &len, "Z", 1), WEFT_EMALFORMED);
}

static void passphrase_keys(void) {
    setup();
    uint8_t salt[16] = {1, 2, 3}, k1[32], k2[32];
    CHECK_OK(weft_key_from_passphrase(&BE, k1, "correct horse", 13, salt));
    CHECK_OK(weft_key_from_passphrase(&BE, k2, "correct horse", 13, salt));
    CHECK(memcmp(k1, k2, 32) == 0);
    CHECK_OK(weft_key_from_passphrase(&BE, k2, "correct horsf", 13, salt));
    CHECK(memcmp(k1, k2, 32) != 0);
    weft_crypto_backend no_pw = BE;
    no_pw.pwhash = NULL;
    CHECK_RC(weft_key_from_passphrase(&no_pw, k1, "x", 1, salt), WEFT_EUNAVAILABLE);
    CHECK(weft_signbytes() == WEFT_SIGNBYTES && weft_aead_keybytes() == 32 &&
          weft_suite_v1_overhead() == 40 && weft_sign_secretkeybytes() == 64 &&
          weft_sign_publickeybytes() == 32);
}

int main(int argc, char **argv) {
    vector_path = argc > 1 ? argv[1] : "tests/vectors/crypto/v1.txt";
    static const test_case tests[] = {T(golden_vectors),     T(sealed_changes_and_tampering),
                                      T(wrong_content_key),  T(forged_author_and_fork),
                                      T(token_rejections),   T(proofs),
                                      T(invites_and_base64), T(passphrase_keys)};
    return run_tests(tests, sizeof tests / sizeof *tests);
}
