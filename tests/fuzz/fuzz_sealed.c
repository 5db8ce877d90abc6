/*
 * fuzz_sealed: the sealed snapshot decoder and checks of weft/snapshot.h
 * (weft_snapshot_header_decode, weft_snapshot_verify,
 * weft_replica_load_sealed_snapshot), over the native libsodium backend,
 * in the owner's space with the fixed content key of the corpus.
 *
 * A mutated record almost never keeps a valid signature and AEAD tag,
 * which would stop every input at the signature check. So each input is
 * tried twice: as given, and, when its header decodes, "resealed": the
 * bytes between the nonce and the tag are taken as a PLAIN snapshot (its
 * checksum fixed, as fuzz_snapshot does), sealed under the header with the
 * content key and signed by the fixed member, so the loader, the PLAIN
 * snapshot rules and the vector comparison all see fuzzed input. The
 * corpus (make_corpus) has real sealed snapshots for the first path and
 * records with a PLAIN snapshot in the ciphertext's place for the second.
 *
 * Invariants: header decode, verify and load agree (a load never succeeds
 * where verify refuses, and a structural error is the same code in all
 * three); a refused load leaves the replica empty and able to commit; an
 * accepted one has exactly the header's vector, and publishing it again
 * and loading that elsewhere gives the same state hash.
 */
#include "fuzz_common.h"
#include "weft/sodium.h"

static weft_crypto_backend be;
static uint8_t space[32], member_pk[32], member_sk[64], content_key[32];
static uint8_t empty_hash[32];
static int ready, have_empty_hash;

static void setup(void) {
    if (ready) return;
    uint8_t seed[32], sk[64];
    FUZZ_ASSERT(weft_sodium_backend(&be) == 0);
    fuzz_key(seed, FUZZ_SEED_OWNER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, space, sk, seed) == 0);
    fuzz_key(seed, FUZZ_SEED_MEMBER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, member_pk, member_sk, seed) == 0);
    fuzz_key(content_key, FUZZ_CONTENT_KEY_BYTE);
    ready = 1;
}

typedef struct v1 {
    weft_crypto table;
    weft_suite_v1 st;
    weft_replica *r;
} v1;

/* A replica of the owner's space signing as `author_byte`'s seed. */
static void v1_open(v1 *m, uint8_t author_byte) {
    uint8_t seed[32], pk[32], sk[64];
    fuzz_key(seed, author_byte);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, pk, sk, seed) == 0);
    FUZZ_ASSERT(weft_suite_v1_init(&m->table, &m->st, &be, content_key, sk) == 0);
    weft_replica_config cfg = {.space = space, .author = pk, .crypto = &m->table};
    FUZZ_ASSERT(weft_replica_new(&m->r, &cfg) == 0);
}

static void v1_close(v1 *m) {
    weft_replica_free(m->r);
    weft_suite_v1_wipe(&m->st);
}

static void check_one(const uint8_t *data, size_t size) {
    weft_snapshot_header h;
    int dec = weft_snapshot_header_decode(&h, data, size);
    int ver = weft_snapshot_verify(&be, space, data, size, NULL);
    if (dec) FUZZ_ASSERT(ver == dec);
    v1 m;
    v1_open(&m, FUZZ_TARGET_AUTHOR);
    int rc = weft_replica_load_sealed_snapshot(m.r, data, size);
    if (dec) FUZZ_ASSERT(rc == dec);
    if (ver) FUZZ_ASSERT(rc != 0);
    uint8_t h1[32], h2[32];
    if (rc) {
        FUZZ_ASSERT(rc < 0);
        fuzz_hash(m.r, h1);
        FUZZ_ASSERT(memcmp(h1, empty_hash, 32) == 0);
        FUZZ_ASSERT(weft_replica_change_count(m.r) == 0 && weft_replica_pending_count(m.r) == 0);
        uint8_t v[WEFT_VALUE_SCALAR_MAX];
        size_t vlen;
        const uint8_t *rec;
        size_t len;
        FUZZ_ASSERT(weft_value_write_int(v, sizeof v, &vlen, 1) == 0);
        FUZZ_ASSERT(weft_replica_put(m.r, "fz", 2, "doc", 3, "f", 1, v, vlen) == 0);
        FUZZ_ASSERT(weft_replica_commit(m.r, FUZZ_WALL_MS, &rec, &len) == 0);
        v1_close(&m);
        return;
    }
    FUZZ_ASSERT(dec == 0 && ver == 0);
    const uint8_t *vv;
    size_t vv_len;
    FUZZ_ASSERT(weft_replica_vv(m.r, &vv, &vv_len) == 0);
    FUZZ_ASSERT(vv_len == h.vv_len && memcmp(vv, h.vv, vv_len) == 0);
    fuzz_hash(m.r, h1);
    /* Published again, it loads elsewhere to the same state. */
    const uint8_t *again;
    size_t again_len;
    rc = weft_replica_publish_snapshot(m.r, h.rseq, h.wall_ms, &again, &again_len);
    FUZZ_ASSERT(rc == 0);
    v1 n;
    v1_open(&n, FUZZ_PRELOAD_B);
    rc = weft_replica_load_sealed_snapshot(n.r, again, again_len);
    if (rc) fprintf(stderr, "reloading our own sealed snapshot: %s\n", weft_err_name(rc));
    FUZZ_ASSERT(rc == 0);
    fuzz_hash(n.r, h2);
    FUZZ_ASSERT(memcmp(h1, h2, 32) == 0);
    v1_close(&n);
    v1_close(&m);
}

/* The input resealed and re-signed by the member (see the top). */
static void check_resealed(const uint8_t *data, size_t size) {
    weft_snapshot_header h;
    if (weft_snapshot_header_decode(&h, data, size)) return;
    size_t n = h.body_len - WEFT_SUITE_V1_OVERHEAD;
    uint8_t *rec = malloc(size), *plain = malloc(n + 1);
    FUZZ_ASSERT(rec && plain);
    memcpy(rec, data, size);
    memcpy(rec + 35, member_pk, 32);
    uint8_t *body = rec + (h.body - data);
    memcpy(plain, body + WEFT_AEAD_NPUBBYTES, n);
    if (n >= 32) FUZZ_ASSERT(weft_blake2b(plain + n - 32, 32, plain, n - 32) == 0);
    FUZZ_ASSERT(be.aead_encrypt(be.ctx, body + WEFT_AEAD_NPUBBYTES, plain, n, rec, h.header_len,
                                body, content_key) == 0);
    FUZZ_ASSERT(be.sign(be.ctx, rec + h.signed_len, rec, h.signed_len, member_sk) == 0);
    FUZZ_ASSERT(weft_snapshot_verify(&be, space, rec, size, NULL) == 0 ||
                memcmp(h.space, space, 32) != 0);
    check_one(rec, size);
    free(rec);
    free(plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (!have_empty_hash) {
        v1 m;
        v1_open(&m, FUZZ_TARGET_AUTHOR);
        fuzz_hash(m.r, empty_hash);
        v1_close(&m);
        have_empty_hash = 1;
    }
    check_one(data, size);
    check_resealed(data, size);
    return 0;
}
