/*
 * Sealed snapshots (weft/snapshot.h) over the libsodium backend, with
 * injected randomness so the record is reproducible byte for byte: the
 * golden vectors live in tests/vectors/crypto/sealed.txt and the WASM build
 * must reproduce them. Then joining from a snapshot plus the tail, the
 * relay's checks, and one test per refusal, each leaving the replica empty
 * and able to load the good record afterwards.
 *
 *   test_sealed VECTOR_FILE                            check
 *   WEFT_UPDATE_VECTORS=1 test_sealed VECTOR_FILE      rewrite (review the diff!)
 */
#include "check.h"
#include "weft/sodium.h"

static const char *vector_path;
static weft_crypto_backend BE;
static uint64_t rng_counter;

/* BLAKE2b of a counter: the same bytes on every platform. */
static int det_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    while (len) {
        uint8_t block[64], in[20] = "weft-test-rng";
        for (int i = 0; i < 8; i++)
            in[12 + i] = (uint8_t)(rng_counter >> (8 * i));
        rng_counter++;
        weft_blake2b(block, 64, in, sizeof in);
        size_t n = len < 64 ? len : 64;
        memcpy(buf, block, n);
        buf += n;
        len -= n;
    }
    return 0;
}

/* The members of one space: the owner (its key is the space id), a writer
 * A, a joiner B, and the content key. */
typedef struct member {
    uint8_t pk[32], sk[64];
    weft_suite_v1 st;
    weft_crypto table;
    weft_replica *r;
} member;

static uint8_t OWNER_PK[32], OWNER_SK[64], CONTENT_KEY[32];

static void setup(void) {
    if (weft_sodium_backend(&BE)) abort();
    BE.random = det_random;
    rng_counter = 0;
    CHECK_OK(weft_keypair_generate(&BE, OWNER_PK, OWNER_SK));
    det_random(NULL, CONTENT_KEY, 32);
}

/* A V1 replica of the space (or of `space` when not NULL) with `key` as
 * content key; sign 0 makes a reader. */
static void join(member *m, const uint8_t *space, const uint8_t *key, int sign) {
    CHECK_OK(weft_keypair_generate(&BE, m->pk, m->sk));
    CHECK_OK(weft_suite_v1_init(&m->table, &m->st, &BE, key, sign ? m->sk : NULL));
    weft_replica_config cfg = {
        .space = space ? space : OWNER_PK, .author = m->pk, .crypto = &m->table, .keep_records = 1};
    CHECK_OK(weft_replica_new(&m->r, &cfg));
}

static void leave(member *m) {
    weft_replica_free(m->r);
    weft_suite_v1_wipe(&m->st);
}

/* Some history: fields, a counter, a deleted document and a text. */
static void write_history(weft_replica *r, int rounds) {
    for (int i = 0; i < rounds; i++) {
        char doc[8];
        snprintf(doc, sizeof doc, "n%d", i % 5);
        CHECK_OK(put_int(r, "notes", doc, "n", i));
        CHECK_OK(put_str(r, "notes", doc, "title", "a title"));
        CHECK_OK(weft_replica_counter_add(r, "stats", 5, "x", 1, "hits", 4, 1));
        if (i % 7 == 3) CHECK_OK(weft_replica_delete_doc(r, "notes", 5, "n1", 2));
        const uint8_t *rec;
        size_t len;
        CHECK_OK(weft_replica_commit(r, 1700000000000ULL + (uint64_t)i, &rec, &len));
        size_t tl = 0;
        weft_replica_text_length(r, "docs", 4, "d", 1, "body", 4, &tl);
        CHECK_OK(weft_replica_text_splice(r, "docs", 4, "d", 1, "body", 4, tl / 2, 0, "hé", 3,
                                          1700000000000ULL, &rec, &len));
    }
}

static uint8_t *publish(weft_replica *r, uint64_t rseq, size_t *len) {
    const uint8_t *rec;
    CHECK_OK(weft_replica_publish_snapshot(r, rseq, 1700000000000ULL, &rec, len));
    uint8_t *copy = malloc(*len);
    memcpy(copy, rec, *len);
    return copy;
}

static int empty(weft_replica *r) {
    static const uint8_t empty_hash[32] = {0xce, 0x59, 0xb1, 0x4a, 0x3b, 0x53, 0x2d, 0x6e,
                                           0xde, 0x3d, 0x22, 0x57, 0xbd, 0x13, 0xb5, 0x3e,
                                           0xde, 0xc9, 0x9b, 0xc6, 0x7c, 0xc8, 0xef, 0x9f,
                                           0x1f, 0x54, 0x03, 0xda, 0x72, 0x53, 0x5c, 0xb0};
    uint8_t h[32];
    return !weft_state_hash(r, h) && !memcmp(h, empty_hash, 32) && !weft_replica_change_count(r) &&
           !weft_replica_pending_count(r);
}

/* ---- golden vectors ---- */

static char *vec_text;
static FILE *vec_out;

static void vector(const char *name, const uint8_t *p, size_t n) {
    char *line = malloc(strlen(name) + 2 * n + 3);
    size_t k = (size_t)sprintf(line, "%s ", name);
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(line + k, "%02x", p[i]);
    strcpy(line + k, "\n");
    if (vec_out) {
        fputs(line, vec_out);
    } else if (!vec_text || !strstr(vec_text, line)) {
        fprintf(stderr, "vector '%s' differs from %s:\n  got %s", name, vector_path, line);
        check_failures++;
    }
    free(line);
}

static void golden_vectors(void) {
    setup();
    int update = getenv("WEFT_UPDATE_VECTORS") != NULL;
    FILE *f = fopen(vector_path, update ? "w" : "rb");
    CHECK(f != NULL);
    if (!f) return;
    if (update) {
        vec_out = f;
        fprintf(f, "# Sealed snapshot vectors (tests/unit/test_sealed.c).\n");
    } else {
        vec_text = calloc(1, 1 << 16);
        fread(vec_text, 1, (1 << 16) - 1, f);
    }
    member a, b;
    join(&a, NULL, CONTENT_KEY, 1);
    CHECK_OK(put_str(a.r, "notes", "n1", "title", "hello"));
    CHECK_OK(weft_replica_counter_add(a.r, "notes", 5, "n1", 2, "hits", 4, 3));
    const uint8_t *rec;
    size_t len;
    CHECK_OK(weft_replica_commit(a.r, 1700000000000ULL, &rec, &len));
    CHECK_OK(weft_replica_text_splice(a.r, "notes", 5, "n1", 2, "body", 4, 0, 0, "hi", 2,
                                      1700000000001ULL, &rec, &len));
    uint8_t *snap = publish(a.r, 7, &len);
    vector("publisher_pk", a.pk, 32);
    vector("sealed_snapshot", snap, len);
    uint8_t hash[32];
    CHECK_OK(weft_state_hash(a.r, hash));
    vector("state_hash", hash, 32);

    /* The header says what it was made from, without any key. */
    weft_snapshot_header h;
    CHECK_OK(weft_snapshot_verify(&BE, OWNER_PK, snap, len, &h));
    const uint8_t *vv;
    size_t vv_len;
    CHECK_OK(weft_replica_vv(a.r, &vv, &vv_len));
    CHECK(h.rseq == 7 && h.wall_ms == 1700000000000ULL && h.total_len == len);
    CHECK(!memcmp(h.publisher, a.pk, 32) && !memcmp(h.space, OWNER_PK, 32));
    CHECK(h.vv_len == vv_len && !memcmp(h.vv, vv, vv_len));
    CHECK(h.header_len == 3 + 64 + 1 + 6 + 1 + vv_len && h.signed_len + 64 == len);

    join(&b, NULL, CONTENT_KEY, 1);
    CHECK_OK(weft_replica_load_sealed_snapshot(b.r, snap, len));
    CHECK(same_hash(a.r, b.r));
    leave(&a);
    leave(&b);
    free(snap);
    fclose(f);
    vec_out = NULL;
    free(vec_text);
    vec_text = NULL;
}

/* ---- joining ---- */

/* A joiner that loads the snapshot and then takes every change (those
 * before it as duplicates) ends where a full replay does, and goes on. */
static void join_then_tail(void) {
    setup();
    member a, b, full;
    join(&a, NULL, CONTENT_KEY, 1);
    join(&b, NULL, CONTENT_KEY, 1);
    join(&full, NULL, CONTENT_KEY, 0);
    write_history(a.r, 20);
    size_t len;
    uint8_t *snap = publish(a.r, 0, &len);
    write_history(a.r, 5);
    CHECK_OK(weft_replica_load_sealed_snapshot(b.r, snap, len));
    CHECK(weft_replica_change_count(b.r) == 0);
    weft_apply_result res;
    const uint8_t *recs;
    size_t rlen;
    CHECK_OK(weft_replica_diff(a.r, NULL, 0, &recs, &rlen));
    CHECK_OK(weft_replica_apply(b.r, recs, rlen, &res));
    CHECK(res.applied == 10 && res.duplicates == 40 && res.rejected == 0);
    CHECK_OK(weft_replica_apply(full.r, recs, rlen, &res));
    CHECK(same_hash(a.r, b.r) && same_hash(a.r, full.r));
    /* The joiner writes on top, and the writer takes it. */
    CHECK_OK(put_int(b.r, "notes", "n9", "n", 9));
    uint8_t *mine;
    commit_copy(b.r, &mine);
    free(mine);
    CHECK_OK(sync_to(b.r, a.r));
    CHECK(same_hash(a.r, b.r) && get_int(a.r, "notes", "n9", "n") == 9);
    free(snap);
    leave(&a);
    leave(&b);
    leave(&full);
}

/* What a relay runs: the signature and space without the content key,
 * then whether its log holds every change the vector names. */
static void relay_checks(void) {
    setup();
    member a;
    join(&a, NULL, CONTENT_KEY, 1);
    write_history(a.r, 3);
    size_t len;
    uint8_t *snap = publish(a.r, 42, &len);
    weft_log *log;
    weft_log_config lc = {.space = OWNER_PK, .keep_records = 1};
    CHECK_OK(weft_log_new(&log, &lc));
    weft_snapshot_header h;
    CHECK_OK(weft_snapshot_verify(&BE, OWNER_PK, snap, len, &h));
    CHECK_RC(weft_log_covers(log, h.vv, h.vv_len), WEFT_EUNCOVERED);
    const uint8_t *recs;
    size_t rlen, off = 0;
    CHECK_OK(weft_replica_diff(a.r, NULL, 0, &recs, &rlen));
    int n = 0;
    while (off < rlen) {
        weft_change c;
        CHECK_OK(weft_change_decode(&c, recs + off, rlen - off));
        CHECK(weft_log_check(log, &c) == WEFT_LOG_READY);
        CHECK_OK(weft_log_commit(log, &c));
        off += c.total_len;
        /* One change short of the snapshot is still not enough. */
        if (++n == 5) CHECK_RC(weft_log_covers(log, h.vv, h.vv_len), WEFT_EUNCOVERED);
    }
    CHECK_OK(weft_log_covers(log, h.vv, h.vv_len));
    CHECK_OK(weft_log_covers(log, NULL, 0));
    CHECK_RC(weft_log_covers(log, h.vv, h.vv_len - 1), WEFT_ETRUNCATED);
    uint8_t other[32];
    fill_key(other, 0x77);
    CHECK_RC(weft_snapshot_verify(&BE, other, snap, len, &h), WEFT_ESPACE);
    weft_log_free(log);
    free(snap);
    leave(&a);
}

/* ---- refusals ---- */

/* rc is the expected refusal; afterwards b is empty and takes the good
 * record, so the refusal changed nothing. */
static void refused(member *b, const uint8_t *rec, size_t len, int want, const uint8_t *good,
                    size_t good_len) {
    CHECK_RC(weft_replica_load_sealed_snapshot(b->r, rec, len), want);
    CHECK(empty(b->r));
    if (good) {
        CHECK_OK(weft_replica_load_sealed_snapshot(b->r, good, good_len));
        CHECK(!empty(b->r));
    }
}

/* Re-seals and re-signs a snapshot with another vector in its header:
 * what a publisher that lies about its vector would send. */
static size_t forge_vv(uint8_t *dst, const uint8_t *snap, size_t len, const member *signer,
                       const uint8_t *vv, size_t vv_len) {
    weft_snapshot_header h;
    CHECK_OK(weft_snapshot_header_decode(&h, snap, len));
    size_t plain_len = h.body_len - 40;
    uint8_t *plain = malloc(plain_len);
    CHECK_OK(BE.aead_decrypt(NULL, plain, h.body + 24, h.body_len - 24, snap, h.header_len, h.body,
                             CONTENT_KEY));
    size_t k = 3 + 64 + 1 + 6; /* version..publisher, rseq 0, wall_ms */
    memcpy(dst, snap, k);
    dst[k++] = (uint8_t)vv_len; /* short vectors only */
    memcpy(dst + k, vv, vv_len);
    k += vv_len;
    size_t header_len = k;
    k += (size_t)(h.signed_len - h.header_len - h.body_len); /* body_len varint, same length */
    memcpy(dst + header_len, snap + h.header_len, k - header_len);
    memcpy(dst + k, h.body, 24);
    CHECK_OK(BE.aead_encrypt(NULL, dst + k + 24, plain, plain_len, dst, header_len, dst + k,
                             CONTENT_KEY));
    k += h.body_len;
    CHECK_OK(BE.sign(NULL, dst + k, dst, k, signer->sk));
    free(plain);
    return k + 64;
}

static void refusals(void) {
    setup();
    member a, b, stranger, other_key, plain_space;
    join(&a, NULL, CONTENT_KEY, 1);
    join(&b, NULL, CONTENT_KEY, 1);
    write_history(a.r, 4);
    size_t len;
    uint8_t *snap = publish(a.r, 3, &len);
    uint8_t *bad = malloc(len + 64);

    /* A bad signature: the signature itself, the ciphertext, the header. */
    memcpy(bad, snap, len);
    bad[len - 1] ^= 1;
    refused(&b, bad, len, WEFT_ESIGNATURE, NULL, 0);
    CHECK_RC(weft_snapshot_verify(&BE, OWNER_PK, bad, len, NULL), WEFT_ESIGNATURE);
    memcpy(bad, snap, len);
    bad[len - 100] ^= 0x80;
    refused(&b, bad, len, WEFT_ESIGNATURE, NULL, 0);
    /* Another member claiming it: the publisher key swapped. */
    memcpy(bad, snap, len);
    memcpy(bad + 35, b.pk, 32);
    refused(&b, bad, len, WEFT_ESIGNATURE, NULL, 0);

    /* Another space: a replica of another space, and a record moved to it. */
    uint8_t other[32];
    fill_key(other, 0x55);
    join(&stranger, other, CONTENT_KEY, 1);
    refused(&stranger, snap, len, WEFT_ESPACE, NULL, 0);

    /* Bytes that do not open: a member with another content key. */
    uint8_t wrong_key[32];
    fill_key(wrong_key, 0x99);
    join(&other_key, NULL, wrong_key, 1);
    refused(&other_key, snap, len, WEFT_ECRYPTO, NULL, 0);

    /* A validly signed record whose header's vector is not the state's:
     * shorter (claims less) and empty. */
    weft_snapshot_header h;
    CHECK_OK(weft_snapshot_header_decode(&h, snap, len));
    CHECK(h.vv_len == 33);
    uint8_t lie[33];
    memcpy(lie, h.vv, 33);
    lie[32] = 1; /* seq 1 instead of 8 */
    size_t fl = forge_vv(bad, snap, len, &a, lie, 33);
    CHECK_OK(weft_snapshot_verify(&BE, OWNER_PK, bad, fl, NULL));
    refused(&b, bad, fl, WEFT_EUNCOVERED, NULL, 0);
    fl = forge_vv(bad, snap, len, &a, lie, 0);
    refused(&b, bad, fl, WEFT_EUNCOVERED, NULL, 0);

    /* Structure: every truncation, a trailing byte, another version,
     * kind or suite. */
    for (size_t n = 0; n < len; n++) {
        int rc = weft_replica_load_sealed_snapshot(b.r, snap, n);
        CHECK(rc == WEFT_ETRUNCATED || rc == WEFT_EMALFORMED);
        if (rc != WEFT_ETRUNCATED && rc != WEFT_EMALFORMED) fprintf(stderr, "prefix %zu\n", n);
    }
    CHECK(empty(b.r));
    memcpy(bad, snap, len);
    bad[len] = 0;
    refused(&b, bad, len + 1, WEFT_EMALFORMED, NULL, 0);
    memcpy(bad, snap, len);
    bad[0] = 2;
    refused(&b, bad, len, WEFT_EVERSION, NULL, 0);
    bad[0] = 1;
    bad[1] = 1;
    refused(&b, bad, len, WEFT_EMALFORMED, NULL, 0);
    bad[1] = 2;
    bad[2] = 0;
    refused(&b, bad, len, WEFT_ESUITE, NULL, 0);

    /* Every single flipped bit is refused, whatever it hits. */
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, snap, len);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        CHECK(weft_replica_load_sealed_snapshot(b.r, bad, len) < 0);
    }
    CHECK(empty(b.r));

    /* A PLAIN replica cannot check or open it; a PLAIN snapshot is not a
     * sealed one. */
    plain_space.r = new_replica(OWNER_PK, OWNER_PK);
    CHECK_RC(weft_replica_load_sealed_snapshot(plain_space.r, snap, len), WEFT_ESUITE);
    const uint8_t *p;
    size_t pl;
    CHECK_OK(weft_replica_snapshot(a.r, &p, &pl));
    CHECK_RC(weft_replica_load_sealed_snapshot(b.r, p, pl), WEFT_ESUITE);
    CHECK_RC(weft_snapshot_verify(&BE, OWNER_PK, p, pl, NULL), WEFT_ESUITE);

    /* And the good record still loads, once. */
    refused(&b, snap, 0, WEFT_ETRUNCATED, snap, len);
    CHECK_RC(weft_replica_load_sealed_snapshot(b.r, snap, len), WEFT_ESTATE);
    CHECK(same_hash(a.r, b.r));

    weft_replica_free(plain_space.r);
    leave(&a);
    leave(&b);
    leave(&stranger);
    leave(&other_key);
    free(snap);
    free(bad);
}

/* Who cannot publish: a PLAIN replica, a reader, an open transaction. */
static void publish_refusals(void) {
    setup();
    member reader, a;
    join(&reader, NULL, CONTENT_KEY, 0);
    join(&a, NULL, CONTENT_KEY, 1);
    const uint8_t *rec;
    size_t len;
    weft_replica *plain = new_replica(OWNER_PK, OWNER_PK);
    CHECK_RC(weft_replica_publish_snapshot(plain, 0, 0, &rec, &len), WEFT_ESUITE);
    CHECK_RC(weft_replica_publish_snapshot(reader.r, 0, 0, &rec, &len), WEFT_ECRYPTO);
    CHECK_OK(put_int(a.r, "notes", "n1", "n", 1));
    CHECK_RC(weft_replica_publish_snapshot(a.r, 0, 0, &rec, &len), WEFT_ESTATE);
    CHECK_OK(weft_replica_commit(a.r, 1, &rec, &len));
    CHECK_OK(weft_replica_publish_snapshot(a.r, 0, 0, &rec, &len));
    /* An empty space has a snapshot too: the empty state, empty vector. */
    member e, j;
    join(&e, NULL, CONTENT_KEY, 1);
    join(&j, NULL, CONTENT_KEY, 1);
    CHECK_OK(weft_replica_publish_snapshot(e.r, 0, 0, &rec, &len));
    CHECK_OK(weft_replica_load_sealed_snapshot(j.r, rec, len));
    CHECK(empty(j.r));
    leave(&e);
    leave(&j);
    CHECK(weft_sealed_snapshot_max_bytes() == WEFT_MAX_SEALED_SNAPSHOT_BYTES);
    weft_replica_free(plain);
    leave(&reader);
    leave(&a);
}

/* A snapshot made while some changes wait for their dependencies covers
 * only what was applied; the joiner takes the rest from the tail. */
static void parked_changes(void) {
    setup();
    member a, c, j;
    join(&a, NULL, CONTENT_KEY, 1);
    join(&c, NULL, CONTENT_KEY, 1);
    join(&j, NULL, CONTENT_KEY, 1);
    uint8_t *recs[6];
    size_t lens[6];
    for (int i = 0; i < 6; i++) {
        CHECK_OK(put_int(a.r, "notes", "n1", "n", i));
        lens[i] = commit_copy(a.r, &recs[i]);
    }
    /* c gets 1, 2, then 4 and 5 (parked: 3 is missing). */
    weft_apply_result res;
    int order[] = {0, 1, 3, 4};
    for (int k = 0; k < 4; k++)
        CHECK_OK(weft_replica_apply(c.r, recs[order[k]], lens[order[k]], &res));
    CHECK(weft_replica_pending_count(c.r) == 2);
    size_t len;
    uint8_t *snap = publish(c.r, 0, &len);
    weft_snapshot_header h;
    CHECK_OK(weft_snapshot_header_decode(&h, snap, len));
    size_t pos = 0;
    const uint8_t *author;
    uint64_t seq;
    CHECK(weft_vv_next(h.vv, h.vv_len, &pos, &author, &seq) && seq == 2);
    CHECK_OK(weft_replica_load_sealed_snapshot(j.r, snap, len));
    for (int i = 5; i >= 0; i--)
        CHECK_OK(weft_replica_apply(j.r, recs[i], lens[i], &res));
    CHECK(same_hash(a.r, j.r) && weft_replica_pending_count(j.r) == 0);
    CHECK(get_int(j.r, "notes", "n1", "n") == 5);
    for (int i = 0; i < 6; i++)
        free(recs[i]);
    free(snap);
    leave(&a);
    leave(&c);
    leave(&j);
}

/* The trust rule (docs/SECURITY.md, "Snapshots: who may publish") as a
 * joiner applies it: the publisher's token must grant admin, checked by
 * the caller from the header before the core loads anything. */
static int load_if_admin(weft_replica *r, const uint8_t *rec, size_t len, const uint8_t *tok,
                         size_t tok_len, uint64_t now) {
    weft_snapshot_header h;
    weft_token t;
    int rc = weft_snapshot_header_decode(&h, rec, len);
    if (!rc) rc = weft_token_verify(&BE, tok, tok_len, h.space, now, &t);
    if (!rc) rc = weft_token_allows(&t, h.publisher, WEFT_RIGHT_ADMIN);
    return rc ? rc : weft_replica_load_sealed_snapshot(r, rec, len);
}

static void publisher_rights(void) {
    setup();
    member admin, writer, j;
    join(&admin, NULL, CONTENT_KEY, 1);
    join(&writer, NULL, CONTENT_KEY, 1);
    join(&j, NULL, CONTENT_KEY, 1);
    uint8_t admin_tok[WEFT_TOKEN_MAX_BYTES], write_tok[WEFT_TOKEN_MAX_BYTES];
    size_t al, wl;
    CHECK_OK(weft_token_issue(&BE, admin_tok, sizeof admin_tok, &al, OWNER_PK, OWNER_SK, NULL, 0,
                              admin.pk, WEFT_RIGHT_ADMIN, 1700000000, 1800000000));
    CHECK_OK(weft_token_issue(&BE, write_tok, sizeof write_tok, &wl, OWNER_PK, OWNER_SK, NULL, 0,
                              writer.pk, WEFT_RIGHT_WRITE, 1700000000, 1800000000));
    write_history(writer.r, 3);
    CHECK_OK(sync_to(writer.r, admin.r));
    size_t wlen, alen;
    uint8_t *from_writer = publish(writer.r, 0, &wlen), *from_admin = publish(admin.r, 0, &alen);
    /* A writer's snapshot is refused even with its own valid token; the
     * admin's token does not cover another publisher; an expired admin
     * token no longer admits its snapshots. */
    CHECK_RC(load_if_admin(j.r, from_writer, wlen, write_tok, wl, 1750000000), WEFT_ERIGHTS);
    CHECK_RC(load_if_admin(j.r, from_writer, wlen, admin_tok, al, 1750000000), WEFT_ERIGHTS);
    CHECK_RC(load_if_admin(j.r, from_admin, alen, admin_tok, al, 1900000000), WEFT_EEXPIRED);
    CHECK(empty(j.r));
    CHECK_OK(load_if_admin(j.r, from_admin, alen, admin_tok, al, 1750000000));
    CHECK(same_hash(j.r, writer.r));
    free(from_writer);
    free(from_admin);
    leave(&admin);
    leave(&writer);
    leave(&j);
}

int main(int argc, char **argv) {
    vector_path = argc > 1 ? argv[1] : "tests/vectors/crypto/sealed.txt";
    static const test_case tests[] = {T(golden_vectors),  T(join_then_tail),   T(relay_checks),
                                      T(refusals),        T(publish_refusals), T(parked_changes),
                                      T(publisher_rights)};
    return run_tests(tests, sizeof tests / sizeof *tests);
}
