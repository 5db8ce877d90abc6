/*
 * make_corpus: writes the seed corpus of every fuzz target, so no binary
 * blob is committed and the seeds follow the format as it changes.
 *
 *   make_corpus OUTDIR [STAMP]
 *
 * creates OUTDIR/<target>/ for value, change, vv, snapshot, sealed, apply, merge,
 * auth, ops, segment, admission (and protocol and text, when built with FUZZ_PROTOCOL /
 * FUZZ_TEXT, which meson sets once those modules exist), filled with real
 * encodings made by the library itself (values, PLAIN and signed V1 changes,
 * vectors, snapshots, continuations of the fuzz_apply history, merge
 * scripts, op buffers, tokens, invite links, base64url, frames, text updates
 * and states, relay segment files), plus a
 * few near misses the decoders must reject. STAMP, when given, is written
 * last (meson's record that the corpus is complete).
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_common.h"
#include "admission.h"
#include "segment.h"
#include "snapfile.h"
#include "trimfile.h"
#include "weft/level.h"
#include "weft/members.h"
#include "weft/backup.h"
#include "weft/sodium.h"
#if FUZZ_TEXT
#include "weft/text.h"
#endif
#if FUZZ_PROTOCOL
#include "weft/protocol.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *outdir;
static char target[32];
static int seq_no;
static size_t n_files;

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_corpus: mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* Starts the seeds of one target, removing those an earlier run wrote. */
static void begin(const char *name) {
    char path[4096], file[4096 + 256];
    snprintf(target, sizeof target, "%s", name);
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    make_dir(path);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "seed-", 5) != 0) continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        unlink(file);
    }
    if (d) closedir(d);
    seq_no = 0;
}

/* Writes one seed of the current target. */
static void emit(const void *p, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/seed-%03d", outdir, target, ++seq_no);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
    n_files++;
}

static void emit_buf(const fuzz_buf *b) {
    emit(b->p, b->len);
}

/* ---- values ---- */

/* Appends one more piece of a value being built in v (length n). */
#define APPEND(call)              \
    do {                          \
        FUZZ_ASSERT((call) == 0); \
        n += k;                   \
    } while (0)

static void values(void) {
    begin("value");
    uint8_t v[256];
    size_t n, k;
    FUZZ_ASSERT(weft_value_write_null(v, sizeof v, &n) == 0);
    emit(v, n);
    FUZZ_ASSERT(weft_value_write_bool(v, sizeof v, &n, 1) == 0);
    emit(v, n);
    const int64_t ints[] = {0, -1, 1, 300, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        FUZZ_ASSERT(weft_value_write_int(v, sizeof v, &n, ints[i]) == 0);
        emit(v, n);
    }
    const double floats[] = {1.0, -0.0, 1e308};
    for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
        FUZZ_ASSERT(weft_value_write_float(v, sizeof v, &n, floats[i]) == 0);
        emit(v, n);
    }
    FUZZ_ASSERT(weft_value_write_string(v, sizeof v, &n, "", 0) == 0);
    emit(v, n);
    static const char utf8[] = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";
    FUZZ_ASSERT(weft_value_write_string(v, sizeof v, &n, utf8, sizeof utf8 - 1) == 0);
    emit(v, n);
    FUZZ_ASSERT(weft_value_write_bytes(v, sizeof v, &n, (const uint8_t *)"\0\1\2\377", 4) == 0);
    emit(v, n);
    /* [1, "a", [null], {}] */
    FUZZ_ASSERT(weft_value_write_array(v, sizeof v, &n, 4) == 0);
    APPEND(weft_value_write_int(v + n, sizeof v - n, &k, 1));
    APPEND(weft_value_write_string(v + n, sizeof v - n, &k, "a", 1));
    APPEND(weft_value_write_array(v + n, sizeof v - n, &k, 1));
    APPEND(weft_value_write_null(v + n, sizeof v - n, &k));
    APPEND(weft_value_write_map(v + n, sizeof v - n, &k, 0));
    emit(v, n);
    /* {"": true, "a": 1, "b": {"c": []}} */
    FUZZ_ASSERT(weft_value_write_map(v, sizeof v, &n, 3) == 0);
    APPEND(weft_value_write_key(v + n, sizeof v - n, &k, "", 0));
    APPEND(weft_value_write_bool(v + n, sizeof v - n, &k, 1));
    APPEND(weft_value_write_key(v + n, sizeof v - n, &k, "a", 1));
    APPEND(weft_value_write_int(v + n, sizeof v - n, &k, 1));
    APPEND(weft_value_write_key(v + n, sizeof v - n, &k, "b", 1));
    APPEND(weft_value_write_map(v + n, sizeof v - n, &k, 1));
    APPEND(weft_value_write_key(v + n, sizeof v - n, &k, "c", 1));
    APPEND(weft_value_write_array(v + n, sizeof v - n, &k, 0));
    emit(v, n);
    /* Nesting at the limit (32 arrays around a null), and one past it. */
    for (int i = 0; i < 33; i++) {
        v[2 * i] = WEFT_TYPE_ARRAY;
        v[2 * i + 1] = 1;
    }
    v[66] = WEFT_TYPE_NULL;
    emit(v + 2, 65);
    emit(v, 67);
    /* Near misses: unsorted keys, non-minimal varint, bad UTF-8, bad tag. */
    static const uint8_t bad[][8] = {
        {0x08, 0x02, 0x01, 'b', 0x00, 0x01, 'a', 0x00},
        {0x03, 0x80, 0x00},
        {0x05, 0x02, 0xc0, 0x80},
        {0x09},
    };
    static const size_t bad_len[] = {8, 3, 4, 1};
    for (size_t i = 0; i < 4; i++)
        emit(bad[i], bad_len[i]);
}

/* ---- changes, vectors, snapshots, continuations ---- */

static weft_crypto_backend be;

/* A V1 replica of the owner's space, signing as `seed_byte`'s key. */
static weft_replica *v1_replica(weft_crypto *table, weft_suite_v1 *st, const uint8_t *space,
                                uint8_t seed_byte) {
    uint8_t seed[32], pk[32], sk[64], content_key[32];
    fuzz_key(seed, seed_byte);
    fuzz_key(content_key, FUZZ_CONTENT_KEY_BYTE);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, pk, sk, seed) == 0);
    FUZZ_ASSERT(weft_suite_v1_init(table, st, &be, content_key, sk) == 0);
    weft_replica_config cfg = {.space = space, .author = pk, .crypto = table, .keep_records = 1};
    weft_replica *r = NULL;
    FUZZ_ASSERT(weft_replica_new(&r, &cfg) == 0);
    return r;
}

static void emit_snapshot(weft_replica *r) {
    const uint8_t *snap;
    size_t len;
    FUZZ_ASSERT(weft_replica_snapshot(r, &snap, &len) == 0);
    emit(snap, len);
}

static void emit_vv(weft_replica *r) {
    const uint8_t *vv;
    size_t len;
    FUZZ_ASSERT(weft_replica_vv(r, &vv, &len) == 0);
    emit(vv, len);
}

/* Splits the concatenated records of `all` and emits each, and returns the
 * offset of record `i` in *off (and its length). */
static size_t nth_record(const fuzz_buf *all, size_t i, size_t *off) {
    size_t o = 0;
    for (;;) {
        weft_change c;
        FUZZ_ASSERT(weft_change_decode(&c, all->p + o, all->len - o) == 0);
        if (i-- == 0) {
            *off = o;
            return c.total_len;
        }
        o += c.total_len;
    }
}

/* Appends rec (a PLAIN change with one dep) with its dep dropped, as a
 * member hiding its change's causal past would send it. */
static void hide_deps(fuzz_buf *out, const fuzz_buf *rec) {
    weft_change ch;
    FUZZ_ASSERT(weft_change_decode(&ch, rec->p, rec->len) == 0 && ch.n_deps == 1);
    size_t cut = (size_t)(ch.deps - rec->p) - 1; /* the one-byte n_deps */
    fuzz_buf_put(out, rec->p, cut);
    fuzz_buf_put(out, "", 1); /* n_deps = 0 */
    fuzz_buf_put(out, rec->p + ch.header_len, rec->len - ch.header_len);
}

/* The snapshot of a replica that got only these records. */
static void emit_snapshot_of(const fuzz_buf *recs) {
    weft_replica *z = fuzz_replica(0x77);
    FUZZ_ASSERT(weft_replica_apply(z, recs->p, recs->len, NULL) == 0);
    emit_snapshot(z);
    weft_replica_free(z);
}

/* Emits r's sealed snapshot, and the same record with r's PLAIN snapshot
 * in the ciphertext's place (nonce, PLAIN, 16 zero bytes, zero signature),
 * the form fuzz_sealed's resealing path turns into a valid record. */
static void emit_sealed(weft_replica *r, uint64_t rseq) {
    const uint8_t *rec, *plain;
    size_t len, plain_len;
    FUZZ_ASSERT(weft_replica_publish_snapshot(r, rseq, FUZZ_WALL_MS, &rec, &len) == 0);
    emit(rec, len);
    uint8_t *copy = malloc(len);
    FUZZ_ASSERT(copy);
    memcpy(copy, rec, len);
    weft_snapshot_header h;
    FUZZ_ASSERT(weft_snapshot_header_decode(&h, copy, len) == 0);
    FUZZ_ASSERT(weft_replica_snapshot(r, &plain, &plain_len) == 0);
    FUZZ_ASSERT(plain_len + WEFT_SUITE_V1_OVERHEAD == h.body_len);
    memcpy(copy + (h.body - copy) + WEFT_AEAD_NPUBBYTES, plain, plain_len);
    memset(copy + h.signed_len - WEFT_AEAD_ABYTES, 0, WEFT_AEAD_ABYTES + WEFT_SIGNBYTES);
    emit(copy, len);
    free(copy);
}

/* Seeds of fuzz_sealed: sealed snapshots of the owner's space, made by
 * the member with the shared content key. */
static void sealed_snapshots(weft_replica *v1, const uint8_t *space) {
    begin("sealed");
    weft_crypto table;
    weft_suite_v1 st;
    weft_replica *fresh = v1_replica(&table, &st, space, FUZZ_SEED_ADMIN);
    emit_sealed(fresh, 0);
    emit_sealed(v1, 2);
    /* The fresh one takes v1's history and adds text: two authors. */
    const uint8_t *recs;
    size_t len;
    FUZZ_ASSERT(weft_replica_diff(v1, NULL, 0, &recs, &len) == 0);
    FUZZ_ASSERT(weft_replica_apply(fresh, recs, len, NULL) == 0);
    const uint8_t *rec;
    FUZZ_ASSERT(weft_replica_text_splice(fresh, "notes", 5, "n2", 2, "body", 4, 0, 0, "h\xc3\xa9",
                                         3, FUZZ_WALL_MS, &rec, &len) == 0);
    emit_sealed(fresh, 3);
    weft_replica_free(fresh);
    weft_suite_v1_wipe(&st);
}

static void changes_and_friends(void) {
    weft_replica *a, *b;
    fuzz_buf pre = {0};
    fuzz_preload(&a, &b, &pre);

    /* Continuations of the fuzz_apply history: b goes on, a newcomer joins. */
    fuzz_buf more = {0};
    fuzz_put_str(b, "notes", "n1", "title", "from b");
    fuzz_counter(b, "notes", "n1", "votes", 10);
    fuzz_commit(b, &more);
    weft_replica *c = fuzz_replica(0x66);
    FUZZ_ASSERT(weft_replica_apply(c, pre.p, pre.len, NULL) == 0);
    FUZZ_ASSERT(weft_replica_delete_doc(c, "notes", 5, "n2", 2) == 0);
    fuzz_counter(c, "notes", "n2", "count", 2);
    fuzz_commit(c, &more);
    fuzz_put_str(c, "todos", "t2", "what", "eggs");
    fuzz_commit(c, &more);
    /* Text: c types, b (after c) edits inside it, c turns a string into text. */
    fuzz_splice(c, "n3", 0, 0, "h\xc3\xa9llo", &more);
    fuzz_splice(c, "n3", 5, 0, " world", &more);
    FUZZ_ASSERT(weft_replica_apply(b, more.p, more.len, NULL) == 0);
    fuzz_splice(b, "n3", 1, 1, "e", &more);
    fuzz_splice(c, "n1", 0, 0, "title? ", &more);

    begin("change");
    for (size_t i = 0; i < 4; i++) {
        size_t off, len = nth_record(&pre, i, &off);
        emit(pre.p + off, len);
    }
    emit_buf(&pre);
    emit_buf(&more);
    uint8_t owner_seed[32], space[32], sk[64];
    fuzz_key(owner_seed, FUZZ_SEED_OWNER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, space, sk, owner_seed) == 0);
    weft_crypto table;
    weft_suite_v1 st;
    weft_replica *v1 = v1_replica(&table, &st, space, FUZZ_SEED_MEMBER);
    fuzz_buf signed_recs = {0};
    fuzz_put_str(v1, "notes", "n1", "title", "sealed");
    fuzz_commit(v1, &signed_recs);
    fuzz_counter(v1, "notes", "n1", "n", 1);
    fuzz_commit(v1, &signed_recs);
    emit_buf(&signed_recs);

    begin("vv");
    emit("", 0);
    emit_vv(a);
    emit_vv(c);
    emit_vv(v1);
    {
        uint8_t one[33];
        fuzz_key(one, FUZZ_PRELOAD_A);
        one[32] = 1;
        emit(one, 33);
    }

    begin("snapshot");
    fuzz_buf hidden = {0};
    weft_replica *empty = fuzz_replica(FUZZ_TARGET_AUTHOR);
    emit_snapshot(empty);
    emit_snapshot(a);
    emit_snapshot(c);
    {
        /* Everything: a counter on a deleted document, field tombstones,
         * four authors. */
        weft_replica *d = fuzz_replica(0x77);
        FUZZ_ASSERT(weft_replica_apply(d, pre.p, pre.len, NULL) == 0);
        FUZZ_ASSERT(weft_replica_apply(d, more.p, more.len, NULL) == 0);
        emit_snapshot(d);
        weft_replica_free(d);
    }

    fuzz_buf hidden_text = {0};
    {
        /* Text ops whose observed write (a field delete) is hidden: they
         * build a waiting text, which the snapshot carries. */
        weft_replica *y = fuzz_replica(0x88), *x = fuzz_replica(0x99);
        fuzz_buf ry = {0}, rx = {0};
        fuzz_put_str(y, "notes", "n8", "body", "base");
        fuzz_commit(y, &ry);
        FUZZ_ASSERT(weft_replica_delete_field(y, "notes", 5, "n8", 2, "body", 4) == 0);
        fuzz_commit(y, &ry);
        FUZZ_ASSERT(weft_replica_apply(x, ry.p, ry.len, NULL) == 0);
        fuzz_splice(x, "n8", 0, 0, "mine", &rx);
        hide_deps(&hidden_text, &rx);
        emit_snapshot_of(&hidden_text);
        weft_replica_free(x);
        weft_replica_free(y);
        free(ry.p);
        free(rx.p);
    }
    {
        /* A counter add whose observed write is hidden: a member dropped the
         * dep on it from its change (PLAIN: nothing signed to break). A
         * replica that gets the add alone keeps it waiting, and its snapshot
         * carries a waiting add. */
        weft_replica *y = fuzz_replica(0x88), *x = fuzz_replica(0x99);
        fuzz_buf ry = {0}, rx = {0};
        fuzz_put_str(y, "notes", "n9", "n", "base");
        fuzz_commit(y, &ry);
        FUZZ_ASSERT(weft_replica_apply(x, ry.p, ry.len, NULL) == 0);
        fuzz_counter(x, "notes", "n9", "n", 5);
        fuzz_commit(x, &rx);
        hidden.len = 0;
        hide_deps(&hidden, &rx);
        emit_snapshot_of(&hidden);
        weft_replica_free(x);
        weft_replica_free(y);
        free(ry.p);
        free(rx.p);
    }

    begin("apply");
    emit_buf(&hidden);
    emit_buf(&hidden_text);
    emit_buf(&more);
    {
        size_t off, len = nth_record(&more, 0, &off);
        emit(more.p + off, len);
        len = nth_record(&more, 2, &off); /* parked: its predecessor is missing */
        emit(more.p + off, len);
        /* Out of order, then the missing one, with a duplicate. */
        fuzz_buf mix = {0};
        fuzz_buf_put(&mix, more.p + off, len);
        size_t off1, len1 = nth_record(&more, 1, &off1);
        fuzz_buf_put(&mix, more.p + off1, len1);
        fuzz_buf_put(&mix, more.p + off, len);
        emit_buf(&mix);
        free(mix.p);
    }
    emit_buf(&pre);             /* all duplicates */
    emit_buf(&signed_recs);     /* the wrong suite for a PLAIN replica */
    emit(more.p, more.len / 2); /* cut short */

    begin("ops");
    {
        /* One of each kind (a put, a replace, an update, a field delete, a
         * document delete, a counter add), then the same with a bad name
         * last, and cut short. */
        static const uint8_t each[] = {WEFT_OPS_PUT,
                                       5,
                                       'n',
                                       'o',
                                       't',
                                       'e',
                                       's',
                                       1,
                                       'a',
                                       1,
                                       'y',
                                       WEFT_TYPE_INT,
                                       4,
                                       WEFT_OPS_REPLACE,
                                       5,
                                       'n',
                                       'o',
                                       't',
                                       'e',
                                       's',
                                       1,
                                       'a',
                                       WEFT_TYPE_MAP,
                                       2,
                                       1,
                                       'x',
                                       WEFT_TYPE_STRING,
                                       2,
                                       'h',
                                       'i',
                                       1,
                                       'z',
                                       WEFT_TYPE_NULL,
                                       WEFT_OPS_UPDATE,
                                       5,
                                       't',
                                       'o',
                                       'd',
                                       'o',
                                       's',
                                       2,
                                       't',
                                       '1',
                                       WEFT_TYPE_MAP,
                                       1,
                                       4,
                                       'd',
                                       'o',
                                       'n',
                                       'e',
                                       WEFT_TYPE_TRUE,
                                       WEFT_OPS_DELETE_FIELD,
                                       5,
                                       'n',
                                       'o',
                                       't',
                                       'e',
                                       's',
                                       2,
                                       'n',
                                       '1',
                                       5,
                                       't',
                                       'i',
                                       't',
                                       'l',
                                       'e',
                                       WEFT_OPS_DELETE_DOC,
                                       5,
                                       't',
                                       'o',
                                       'd',
                                       'o',
                                       's',
                                       1,
                                       'b',
                                       WEFT_OPS_COUNTER_ADD,
                                       5,
                                       'n',
                                       'o',
                                       't',
                                       'e',
                                       's',
                                       2,
                                       'n',
                                       '1',
                                       5,
                                       'v',
                                       'o',
                                       't',
                                       'e',
                                       's',
                                       WEFT_TYPE_INT,
                                       3};
        emit(each, sizeof each);
        uint8_t bad[sizeof each + 8];
        memcpy(bad, each, sizeof each);
        static const uint8_t tail[] = {WEFT_OPS_PUT, 1, 'c', 1, 'd', 0, WEFT_TYPE_NULL};
        memcpy(bad + sizeof each, tail, sizeof tail);
        emit(bad, sizeof each + sizeof tail);
        emit(each, sizeof each - 3);
        emit(each, 13); /* the put alone */
    }

    begin("merge");
    /* Hand-written: two writers on one field, a counter over a put, a
     * document delete racing a put, delivered out of order and twice. */
    static const uint8_t scripts[][40] = {
        {MERGE_PUT,
         0,
         0,
         0,
         0,
         1,
         5,
         MERGE_COMMIT,
         0,
         MERGE_PUT,
         1,
         0,
         0,
         0,
         2,
         7,
         MERGE_COMMIT,
         1,
         MERGE_DELIVER,
         2,
         1,
         MERGE_DELIVER,
         2,
         0,
         MERGE_DELIVER,
         2,
         1},
        {MERGE_PUT,
         0,
         1,
         1,
         2,
         1,
         40,
         MERGE_COMMIT,
         0,
         MERGE_SYNC,
         1,
         0,
         MERGE_COUNTER,
         1,
         1,
         1,
         2,
         3,
         MERGE_COMMIT,
         1,
         MERGE_DEL_DOC,
         2,
         1,
         1,
         MERGE_COMMIT,
         2,
         MERGE_SYNC,
         0,
         2},
        {MERGE_COUNTER,
         0,
         0,
         3,
         2,
         250,
         MERGE_COMMIT,
         0,
         MERGE_COUNTER,
         0,
         0,
         3,
         2,
         9,
         MERGE_COMMIT,
         0,
         MERGE_DELIVER,
         1,
         1,
         MERGE_DEL_FIELD,
         2,
         0,
         3,
         2,
         MERGE_COMMIT,
         2,
         MERGE_DELIVER,
         1,
         2,
         MERGE_DELIVER,
         1,
         0,
         MERGE_ROLLBACK,
         0},
        /* Two typists in one note, a put over the text, then conversion. */
        {MERGE_TEXT, 0, 0, 0,          0, 0, 0, 3, MERGE_TEXT, 0, 0, 0,          0, 1, 0, 5,
         MERGE_SYNC, 1, 0, MERGE_TEXT, 1, 0, 0, 0, 1,          0, 7, MERGE_TEXT, 0, 0, 0, 0,
         1,          0, 2, MERGE_PUT,  2, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof scripts / sizeof *scripts; i++)
        emit(scripts[i], sizeof scripts[i]);
    /* Ops buffers (a replace over an update, a bad op refusing its buffer)
     * and text edits joining open transactions, then syncs. */
    static const uint8_t ops_script[] = {MERGE_OPS,
                                         0,
                                         2,
                                         3,
                                         0,
                                         0,
                                         7,
                                         2,
                                         5,
                                         2,
                                         0,
                                         0,
                                         3,
                                         1,
                                         1,
                                         1,
                                         2,
                                         MERGE_TEXT_EDIT,
                                         0,
                                         0,
                                         1,
                                         0,
                                         0,
                                         0,
                                         3,
                                         MERGE_TEXT_EDIT,
                                         0,
                                         0,
                                         1,
                                         0,
                                         1,
                                         0,
                                         5,
                                         MERGE_OPS,
                                         1,
                                         1,
                                         1,
                                         0,
                                         1,
                                         1,
                                         1,
                                         3,
                                         MERGE_ROLLBACK,
                                         0,
                                         MERGE_COMMIT,
                                         0,
                                         MERGE_COMMIT,
                                         1,
                                         MERGE_SYNC,
                                         1,
                                         0,
                                         MERGE_SYNC,
                                         0,
                                         1,
                                         MERGE_OPS,
                                         2,
                                         1,
                                         6,
                                         0,
                                         0,
                                         0,
                                         MERGE_TEXT_EDIT,
                                         2,
                                         0,
                                         0,
                                         0,
                                         0,
                                         0,
                                         7};
    emit(ops_script, sizeof ops_script);
    /* Lists: three inserts, a sync, concurrent moves of one item to two
     * places, a delete and a set against them, edits joining a
     * transaction, an array put turned into a list, then syncs. */
#define L(rep, kind, index, to, vbyte) MERGE_LIST, rep, 1, 0, 0, kind, index, to, 1, vbyte
    static const uint8_t list_script[] = {L(0, 0, 0, 0, 1),
                                          L(0, 0, 1, 0, 2),
                                          L(0, 0, 2, 0, 3),
                                          MERGE_SYNC,
                                          1,
                                          0,
                                          MERGE_SYNC,
                                          2,
                                          0,
                                          L(0, 2, 0, 2, 0),
                                          L(1, 2, 0, 1, 0),
                                          L(2, 1, 0, 0, 0),
                                          L(1, 3, 1, 0, 9),
                                          L(2, 0x80, 0, 0, 7),
                                          L(2, 0x83, 0, 0, 8),
                                          MERGE_SYNC,
                                          0,
                                          1,
                                          MERGE_DELIVER,
                                          1,
                                          3,
                                          MERGE_COMMIT,
                                          2,
                                          MERGE_SYNC,
                                          0,
                                          2,
                                          MERGE_PUT,
                                          0,
                                          1,
                                          0,
                                          0,
                                          6,
                                          4,
                                          MERGE_COMMIT,
                                          0,
                                          L(0, 0, 1, 0, 5),
                                          MERGE_SYNC,
                                          0,
                                          1,
                                          MERGE_SYNC,
                                          1,
                                          0,
                                          MERGE_SYNC,
                                          2,
                                          1};
#undef L
    emit(list_script, sizeof list_script);
    /* Marks: one types, everyone syncs, three format overlapping ranges
     * at once (bold, italic, a link removed and added; one joining a
     * transaction), another types at the edges, then syncs. */
#define TX(rep, pos, ins)    MERGE_TEXT, rep, 0, 0, 0, pos, 0, ins
#define MK(rep, pos, n, how) MERGE_MARK, rep, 0, 0, 0, pos, n, how
    static const uint8_t mark_script[] = {TX(0, 0, 1),
                                          TX(0, 1, 3),
                                          TX(0, 2, 5),
                                          TX(0, 3, 7),
                                          TX(0, 4, 2),
                                          MERGE_SYNC,
                                          1,
                                          0,
                                          MERGE_SYNC,
                                          2,
                                          0,
                                          MK(0, 0, 1, 0),
                                          MK(1, 1, 2, 1),
                                          MK(2, 0, 3, 130),
                                          MK(1, 2, 0, 2),
                                          MK(2, 1, 1, 64),
                                          TX(2, 2, 9),
                                          TX(2, 0, 11),
                                          MK(0, 1, 0, 128),
                                          MERGE_COMMIT,
                                          2,
                                          MERGE_SYNC,
                                          0,
                                          1,
                                          MERGE_SYNC,
                                          2,
                                          0,
                                          MERGE_SYNC,
                                          1,
                                          2};
#undef TX
#undef MK
    emit(mark_script, sizeof mark_script);
    /* Forgetting below a replica's own vector, between writes and syncs:
     * replica 0 then answers a sync from below with ETRIMMED. */
    static const uint8_t forget_script[] = {MERGE_PUT,
                                            0,
                                            0,
                                            0,
                                            0,
                                            1,
                                            5,
                                            MERGE_COMMIT,
                                            0,
                                            MERGE_PUT,
                                            0,
                                            0,
                                            1,
                                            1,
                                            1,
                                            6,
                                            MERGE_COMMIT,
                                            0,
                                            MERGE_PUT,
                                            0,
                                            1,
                                            2,
                                            2,
                                            1,
                                            7,
                                            MERGE_COMMIT,
                                            0,
                                            MERGE_FORGET,
                                            0,
                                            0,
                                            MERGE_SYNC,
                                            1,
                                            0,
                                            MERGE_PUT,
                                            1,
                                            0,
                                            0,
                                            0,
                                            1,
                                            8,
                                            MERGE_COMMIT,
                                            1,
                                            MERGE_SYNC,
                                            0,
                                            1,
                                            MERGE_FORGET,
                                            1,
                                            1,
                                            MERGE_SYNC,
                                            2,
                                            1,
                                            MERGE_FORGET,
                                            0,
                                            3,
                                            MERGE_SYNC,
                                            2,
                                            0};
    emit(forget_script, sizeof forget_script);
    /* And some random ones (xorshift, fixed seed). */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 8; i++) {
        uint8_t s[256];
        size_t len = 32 + (size_t)i * 28;
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[k] = (uint8_t)x;
        }
        emit(s, len);
    }

    sealed_snapshots(v1, space);
    weft_suite_v1_wipe(&st);
    weft_replica_free(v1);
    weft_replica_free(empty);
    weft_replica_free(a);
    weft_replica_free(b);
    weft_replica_free(c);
    free(pre.p);
    free(more.p);
    free(signed_recs.p);
    free(hidden.p);
    free(hidden_text.p);
}

/* ---- tokens, invites, base64url ---- */

static void auth(void) {
    begin("auth");
    uint8_t seed[32], space[32], owner_sk[64], admin_pk[32], admin_sk[64], member[32], msk[64];
    fuzz_key(seed, FUZZ_SEED_OWNER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, space, owner_sk, seed) == 0);
    fuzz_key(seed, FUZZ_SEED_ADMIN);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, admin_pk, admin_sk, seed) == 0);
    fuzz_key(seed, FUZZ_SEED_MEMBER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, member, msk, seed) == 0);

    uint8_t tok[WEFT_TOKEN_MAX_BYTES], admin_tok[WEFT_TOKEN_MAX_BYTES];
    size_t len, admin_len;
    const uint64_t nb = FUZZ_AUTH_NOW - 1000, exp = FUZZ_AUTH_NOW + 1000;
    for (uint8_t rights = WEFT_RIGHT_READ; rights <= WEFT_RIGHT_ADMIN; rights++) {
        FUZZ_ASSERT(weft_token_issue(&be, tok, sizeof tok, &len, space, owner_sk, NULL, 0, member,
                                     rights, nb, exp) == 0);
        emit(tok, len);
    }
    FUZZ_ASSERT(weft_token_issue(&be, tok, sizeof tok, &len, space, owner_sk, NULL, 0, NULL,
                                 WEFT_RIGHT_WRITE, 0, 0) == 0);
    emit(tok, len);
    FUZZ_ASSERT(weft_token_issue(&be, tok, sizeof tok, &len, space, owner_sk, NULL, 0, member,
                                 WEFT_RIGHT_READ, FUZZ_AUTH_NOW + 5, 0) == 0);
    emit(tok, len); /* not yet valid */
    /* Delegation: the owner makes an admin, the admin invites a member. */
    FUZZ_ASSERT(weft_token_issue(&be, admin_tok, sizeof admin_tok, &admin_len, space, owner_sk,
                                 NULL, 0, admin_pk, WEFT_RIGHT_ADMIN, nb, exp + 5000) == 0);
    emit(admin_tok, admin_len);
    FUZZ_ASSERT(weft_token_issue(&be, tok, sizeof tok, &len, space, admin_sk, admin_tok, admin_len,
                                 member, WEFT_RIGHT_WRITE, nb, exp) == 0);
    emit(tok, len);
    FUZZ_ASSERT(weft_token_issue(&be, tok, sizeof tok, &len, space, admin_sk, admin_tok, admin_len,
                                 NULL, WEFT_RIGHT_READ, nb, exp) == 0);
    emit(tok, len);

    /* Level records (weft/level.h): by the owner, and by the admin with its
     * token as the parent. */
    uint8_t lvl[WEFT_LEVEL_MAX_BYTES];
    size_t lvl_len;
    FUZZ_ASSERT(weft_level_sign(&be, lvl, sizeof lvl, &lvl_len, space, owner_sk, NULL, 0, 2,
                                FUZZ_AUTH_NOW * 1000) == 0);
    emit(lvl, lvl_len);
    FUZZ_ASSERT(weft_level_sign(&be, lvl, sizeof lvl, &lvl_len, space, admin_sk, admin_tok,
                                admin_len, 2, FUZZ_AUTH_NOW * 1000) == 0);
    emit(lvl, lvl_len);

    /* Invite links around the delegated token, and bare base64url. */
    uint8_t key[32];
    fuzz_key(key, 0xab);
    char link[2048];
    size_t llen;
    FUZZ_ASSERT(weft_invite_encode(link, sizeof link, &llen, "https://weft.example/app", 24, space,
                                   tok, len, key) == 0);
    emit(link, llen);
    FUZZ_ASSERT(
        weft_invite_encode(link, sizeof link, &llen, "", 0, space, admin_tok, admin_len, key) == 0);
    emit(link, llen);
    emit(link + 1, llen - 1); /* the fragment alone */
    char b64[64];
    uint8_t bin[34];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 30; n <= sizeof bin; n++) {
        FUZZ_ASSERT(weft_base64url_encode(b64, sizeof b64, &llen, bin, n) == 0);
        emit(b64, llen);
    }
}

/* ---- membership records (weft/members.h) ---- */

/* Appends one record behind its 2-byte length, as fuzz_members reads. */
static size_t framed(uint8_t *dst, const uint8_t *rec, size_t len) {
    dst[0] = (uint8_t)len;
    dst[1] = (uint8_t)(len >> 8);
    memcpy(dst + 2, rec, len);
    return len + 2;
}

static void members(void) {
    begin("members");
    uint8_t seed[32], space[32], owner_sk[64], admin_pk[32], admin_sk[64], member[32], msk[64];
    fuzz_key(seed, FUZZ_SEED_OWNER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, space, owner_sk, seed) == 0);
    fuzz_key(seed, FUZZ_SEED_ADMIN);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, admin_pk, admin_sk, seed) == 0);
    fuzz_key(seed, FUZZ_SEED_MEMBER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, member, msk, seed) == 0);
    static uint8_t out[8192];
    uint8_t rec[WEFT_EPOCH_BYTES_BOUND(2)], key[32], prev[32], both[64];
    size_t len, n = 0;
    const uint64_t wall = FUZZ_AUTH_NOW * 1000;
    FUZZ_ASSERT(weft_grant_sign(&be, rec, sizeof rec, &len, space, owner_sk, admin_pk,
                                WEFT_RIGHT_ADMIN, 0, FUZZ_AUTH_NOW + 1000, wall) == 0);
    emit(out + n, framed(out + n, rec, len));
    n += framed(out + n, rec, len);
    FUZZ_ASSERT(weft_grant_sign(&be, rec, sizeof rec, &len, space, admin_sk, member,
                                WEFT_RIGHT_WRITE, 0, FUZZ_AUTH_NOW + 500, wall) == 0);
    n += framed(out + n, rec, len);
    FUZZ_ASSERT(weft_grant_sign(&be, rec, sizeof rec, &len, space, owner_sk, member,
                                WEFT_RIGHT_READ, WEFT_GRANT_INVITE, 0, wall) == 0);
    n += framed(out + n, rec, len);
    emit(out, n); /* the admin grants */
    fuzz_key(key, 0x71);
    fuzz_key(prev, FUZZ_CONTENT_KEY_BYTE);
    memcpy(both, admin_pk, 32);
    memcpy(both + 32, member, 32);
    FUZZ_ASSERT(weft_epoch_sign(&be, rec, sizeof rec, &len, space, admin_sk, 1, key, prev, both, 2,
                                wall) == 0);
    emit(out + n, framed(out + n, rec, len));
    n += framed(out + n, rec, len);
    FUZZ_ASSERT(weft_revoke_sign(&be, rec, sizeof rec, &len, space, owner_sk, member, 3, 2, wall) ==
                0);
    emit(out + n, framed(out + n, rec, len));
    n += framed(out + n, rec, len);
    FUZZ_ASSERT(weft_epoch_sign(&be, rec, sizeof rec, &len, space, owner_sk, 2, prev, key, admin_pk,
                                1, wall) == 0);
    n += framed(out + n, rec, len);
    emit(out, n); /* ... then removes the member and rotates */
    /* A claimed invite: the admin's invite grant, its ticket, the claim. */
    uint8_t ticket[WEFT_TICKET_MAX_BYTES];
    size_t tl;
    n = 0;
    FUZZ_ASSERT(weft_invite_issue(&be, rec, sizeof rec, &len, ticket, &tl, space, admin_sk,
                                  WEFT_RIGHT_WRITE, FUZZ_AUTH_NOW + 300, wall) == 0);
    n += framed(out + n, rec, len);
    emit(out + n, framed(out + n, ticket, tl)); /* the ticket alone */
    n += framed(out + n, ticket, tl);
    FUZZ_ASSERT(
        weft_invite_claim(&be, rec, sizeof rec, &len, space, ticket, tl, member, wall, NULL) == 0);
    n += framed(out + n, rec, len);
    emit(out, n);
    /* A grant chain as one record (weft_grant_chain_verify): the owner's
     * admin invite and its claim, concatenated. */
    uint8_t chain[WEFT_GRANT_CHAIN_MAX_BYTES];
    size_t cl;
    FUZZ_ASSERT(weft_invite_issue(&be, chain, sizeof chain, &cl, ticket, &tl, space, owner_sk,
                                  WEFT_RIGHT_ADMIN, 0, wall) == 0);
    FUZZ_ASSERT(weft_invite_claim(&be, rec, sizeof rec, &len, space, ticket, tl, admin_pk, wall,
                                  NULL) == 0);
    memcpy(chain + cl, rec, len);
    emit(out + n, framed(out + n, chain, cl + len));
    /* The admin links a second device of theirs (kind 9, both signatures). */
    uint8_t dev_pk[32], dev_sk[64], dsig[64];
    fuzz_key(seed, 0x72);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, dev_pk, dev_sk, seed) == 0);
    FUZZ_ASSERT(weft_link_sign_device(&be, dsig, space, admin_pk, dev_sk, wall) == 0);
    FUZZ_ASSERT(weft_link_sign(&be, rec, sizeof rec, &len, space, admin_sk, dev_pk, wall, dsig) ==
                0);
    emit(out + n, framed(out + n, rec, len));
    n += framed(out + n, rec, len);
    emit(out, n);
}

/* ---- key backups (weft/backup.h) ---- */

static void backups(void) {
    begin("backup");
    uint8_t seed[32], space[32], owner_sk[64], author[32], author_sk[64], key[32];
    fuzz_key(seed, FUZZ_SEED_OWNER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, space, owner_sk, seed) == 0);
    fuzz_key(seed, FUZZ_SEED_MEMBER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, author, author_sk, seed) == 0);
    fuzz_key(key, FUZZ_CONTENT_KEY_BYTE);
    uint8_t grant[WEFT_GRANT_MAX_BYTES];
    size_t glen;
    FUZZ_ASSERT(weft_grant_sign(&be, grant, sizeof grant, &glen, space, owner_sk, author,
                                WEFT_RIGHT_WRITE, 0, 0, FUZZ_AUTH_NOW * 1000) == 0);
    /* A payload by hand (mode 1): owner secret, one key, a record, a relay. */
    static uint8_t p[1024];
    size_t n = 0;
    p[n++] = 1;
    memcpy(p + n, space, 32), n += 32;
    memcpy(p + n, author_sk, 64), n += 64;
    p[n++] = WEFT_BACKUP_FLAG_OWNER;
    memcpy(p + n, owner_sk, 64), n += 64;
    p[n++] = 0, p[n++] = 1;
    memcpy(p + n, key, 32), n += 32;
    p[n++] = 0;
    if (glen >= 128)
        p[n++] = (uint8_t)(glen | 0x80), p[n++] = (uint8_t)(glen >> 7);
    else
        p[n++] = (uint8_t)glen;
    memcpy(p + n, grant, glen), n += glen;
    p[n++] = 0;
    p[n++] = 5;
    memcpy(p + n, "ws://", 5), n += 5;
    emit(p, n);
    /* A sealed backup (mode 0 reads its header). */
    weft_backup b = {.n_keys = 1, .keys = key};
    memcpy(b.space, space, 32);
    memcpy(b.author_sk, author_sk, 64);
    static uint8_t blob[1024];
    size_t len;
    FUZZ_ASSERT(weft_backup_seal(&be, blob + 1, sizeof blob - 1, &len, &b, "fuzz passphrase", 15) ==
                0);
    blob[0] = 0;
    emit(blob, len + 1);
}

/* ---- text updates and states ---- */

#if FUZZ_TEXT
static void text(void) {
    begin("text");
    weft_text *a, *b;
    fuzz_buf state = {0};
    fuzz_text_preload(&a, &b, &state);
    emit_buf(&state);
    /* Continuations: b types on, a newcomer joins from the state, a
     * concurrent edit of a; each update alone, as a replica sends it. */
    weft_text *c = fuzz_text_new(0x66);
    FUZZ_ASSERT(weft_text_load(c, state.p, state.len) == 0);
    fuzz_buf upd = {0};
    FUZZ_ASSERT(weft_text_insert(b, 0, "H", 1) == 0);
    FUZZ_ASSERT(weft_text_delete(b, 3, 2) == 0);
    fuzz_text_send(b, c, &upd);
    emit_buf(&upd);
    upd.len = 0;
    FUZZ_ASSERT(weft_text_insert(c, 1, "\xf0\x9f\x98\x80 \xe2\x82\xac", 8) == 0);
    fuzz_text_send(c, b, &upd);
    emit_buf(&upd);
    upd.len = 0;
    FUZZ_ASSERT(weft_text_insert(a, 4, "concurrent", 10) == 0);
    FUZZ_ASSERT(weft_text_delete(a, 0, 2) == 0);
    fuzz_text_send(a, b, &upd);
    emit_buf(&upd);
    const uint8_t *enc;
    size_t len;
    FUZZ_ASSERT(weft_text_encode(b, &enc, &len) == 0);
    emit(enc, len);
    /* A fresh author's first update, on its own (needs nothing). */
    weft_text *d = fuzz_text_new(0x77);
    upd.len = 0;
    FUZZ_ASSERT(weft_text_insert(d, 0, "abc", 3) == 0);
    fuzz_text_send(d, c, &upd);
    emit_buf(&upd);
    free(upd.p);
    free(state.p);
    weft_text_free(a);
    weft_text_free(b);
    weft_text_free(c);
    weft_text_free(d);
}
#endif

/* ---- sync protocol frames ---- */

#if FUZZ_PROTOCOL
static void protocol(void) {
    begin("protocol");
    uint8_t space[32], key[32], nonce[32], sig[64], buf[4096];
    size_t len;
    fuzz_key(space, FUZZ_SPACE_BYTE);
    fuzz_key(key, FUZZ_PRELOAD_A);
    fuzz_key(nonce, 0x4e);
    memset(sig, 0x5a, sizeof sig);
    uint8_t vv[33];
    memcpy(vv, key, 32);
    vv[32] = 2;
    static const uint8_t token[] = {1, 3, 0xaa, 0xbb};
    FUZZ_ASSERT(weft_frame_hello_encode(buf, sizeof buf, &len, space, key, vv, sizeof vv, token,
                                        sizeof token, 1, 300) == 0);
    emit(buf, len);
    FUZZ_ASSERT(
        weft_frame_hello_encode(buf, sizeof buf, &len, space, key, NULL, 0, NULL, 0, 0, 0) == 0);
    emit(buf, len);
    static const uint8_t adm[] = {1, 0x41, 7, 7, 7};
    FUZZ_ASSERT(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, vv, sizeof vv,
                                                 token, sizeof token, 1, 300, NULL, adm,
                                                 sizeof adm) == 0);
    emit(buf, len); /* with an admission (opaque to the codec) */
    FUZZ_ASSERT(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, NULL, 0, NULL,
                                                 0, 0, 0, NULL, adm, 0) == 0);
    emit(buf, len);
    /* Both optional fields, in their fixed order: versions block, then
     * admission. */
    weft_versions both = {.format_level = 2, .space_level = 2, .features = 1};
    FUZZ_ASSERT(weft_frame_hello_encode_admitted(buf, sizeof buf, &len, space, key, vv, sizeof vv,
                                                 token, sizeof token, 1, 300, &both, adm,
                                                 sizeof adm) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_challenge_encode(buf, sizeof buf, &len, nonce, 77, vv, sizeof vv) == 0);
    emit(buf, len);
    /* Versions blocks: a newer client's HELLO and the answer to it. */
    weft_versions ver = {.format_level = 2, .space_level = 1, .features = 0x3};
    FUZZ_ASSERT(weft_frame_hello_encode_v(buf, sizeof buf, &len, space, key, vv, sizeof vv, token,
                                          sizeof token, 1, 300, &ver) == 0);
    emit(buf, len);
    ver = (weft_versions){.format_level = 7, .space_level = 5, .features = UINT64_MAX};
    FUZZ_ASSERT(weft_frame_hello_encode_v(buf, sizeof buf, &len, space, key, NULL, 0, NULL, 0, 0, 0,
                                          &ver) == 0);
    emit(buf, len);
    FUZZ_ASSERT(
        weft_frame_challenge_encode_v(buf, sizeof buf, &len, nonce, 77, vv, sizeof vv, &ver) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_proof_encode(buf, sizeof buf, &len, sig) == 0);
    emit(buf, len);
    /* CHANGES with and without relay sequences, around real records. */
    weft_replica *a, *b;
    fuzz_buf pre = {0};
    fuzz_preload(&a, &b, &pre);
    for (int with_rseq = 0; with_rseq <= 1; with_rseq++) {
        FUZZ_ASSERT(weft_frame_changes_begin(buf, sizeof buf, &len, with_rseq) == 0);
        for (size_t i = 0; i < 4; i++) {
            size_t off, rlen = nth_record(&pre, i, &off);
            FUZZ_ASSERT(weft_frame_changes_add(buf, sizeof buf, &len, with_rseq ? 10 + i : 0,
                                               pre.p + off, rlen) == 0);
        }
        emit(buf, len);
    }
    FUZZ_ASSERT(weft_frame_ack_begin(buf, sizeof buf, &len, 1234) == 0);
    for (uint8_t st = WEFT_ACK_STORED; st <= WEFT_ACK_REJECTED; st++)
        FUZZ_ASSERT(weft_frame_ack_add(buf, sizeof buf, &len, st, st == 0 ? 99 : 0) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_signal_encode(buf, sizeof buf, &len, WEFT_FRAME_SIGNAL, key,
                                         (const uint8_t *)"{\"sdp\":1}", 9) == 0);
    emit(buf, len);
    uint8_t zero[32] = {0};
    FUZZ_ASSERT(weft_frame_signal_encode(buf, sizeof buf, &len, WEFT_FRAME_PRESENCE, zero,
                                         (const uint8_t *)"here", 4) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_error_encode(buf, sizeof buf, &len, WEFT_PROTO_ERATE_LIMITED, 1,
                                        "slow down", 9) == 0);
    emit(buf, len);
    /* Snapshot frames: an upload, an answer, "none", "use REST", a GET, ACKs. */
    FUZZ_ASSERT(weft_frame_snapshot_encode(buf, sizeof buf, &len, 0, 0, NULL, 0, pre.p,
                                           pre.len < 200 ? pre.len : 200) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_snapshot_encode(buf, sizeof buf, &len, 0, 42, token, sizeof token, pre.p,
                                           pre.len < 100 ? pre.len : 100) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_snapshot_encode(buf, sizeof buf, &len, 0, 0, NULL, 0, NULL, 0) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_snapshot_encode(buf, sizeof buf, &len, WEFT_SNAPSHOT_USE_REST, 42, token,
                                           sizeof token, NULL, 0) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_snapshot_get_encode(buf, sizeof buf, &len) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_snapshot_ack_encode(buf, sizeof buf, &len, WEFT_ACK_STORED, 42) == 0);
    emit(buf, len);
    FUZZ_ASSERT(weft_frame_snapshot_ack_encode(buf, sizeof buf, &len, WEFT_ACK_REJECTED,
                                               WEFT_PROTO_EUNCOVERED) == 0);
    emit(buf, len);
    weft_replica_free(a);
    weft_replica_free(b);
    free(pre.p);
}
#endif

/* ---- relay segment files (fuzz_segment: a flags byte, then the file) ---- */

/* Appends a record of n bytes of v with relay sequence rseq. */
static void seg_record(fuzz_buf *b, uint64_t rseq, uint8_t v, size_t n) {
    uint8_t body[64], h[WEFT__SEG_ITEM];
    memset(body, v, n);
    weft__seg_record_put(h, rseq, body, n);
    fuzz_buf_put(b, h, sizeof h);
    fuzz_buf_put(b, body, n);
}

static void seg_mark(fuzz_buf *b) {
    uint8_t h[WEFT__SEG_ITEM];
    weft__seg_mark_put(h, b->len - 1); /* offsets count from after the flags byte */
    fuzz_buf_put(b, h, sizeof h);
}

static void seg_emit(uint8_t flags, const uint8_t *p, size_t n) {
    fuzz_buf b = {0};
    fuzz_buf_put(&b, &flags, 1);
    fuzz_buf_put(&b, p, n);
    emit_buf(&b);
    free(b.p);
}

static void segments(void) {
    begin("segment");
    fuzz_buf b = {0};
    uint8_t flags = 1, hdr[WEFT__SEG_HDR];
    fuzz_buf_put(&b, &flags, 1);
    weft__seg_header_put(hdr, 1);
    fuzz_buf_put(&b, hdr, sizeof hdr);
    emit_buf(&b); /* a fresh segment: just the header */
    for (uint64_t r = 1; r <= 4; r++)
        seg_record(&b, r, (uint8_t)('a' + r), (size_t)r * 5);
    seg_mark(&b);
    size_t marked = b.len;
    seg_record(&b, 5, 'x', 40);
    seg_record(&b, 6, 'y', 3);
    emit_buf(&b);                         /* clean, a mark in the middle */
    seg_emit(0, b.p + 1, b.len - 1);      /* the same, sealed */
    seg_emit(3, b.p + 1, b.len - 1);      /* first taken from the header */
    seg_emit(1, b.p + 1, b.len - 1 - 2);  /* a torn tail: the last record cut */
    seg_emit(1, b.p + 1, marked - 1 + 7); /* a cut-short item header */
    seg_emit(1, b.p + 1, 9);              /* a cut-short segment header */
    uint8_t *d = malloc(b.len);
    FUZZ_ASSERT(d);
    memcpy(d, b.p, b.len);
    d[1 + 16 + 16 + 2] ^= 0x10; /* a body byte of record 1, before the mark */
    seg_emit(1, d + 1, b.len - 1);
    memcpy(d, b.p, b.len);
    d[marked - 16 + 9] ^= 1; /* the mark's offset */
    seg_emit(1, d + 1, b.len - 1);
    memcpy(d, b.p, b.len);
    d[1 + 16 + 8] = 9; /* record 1 says relay sequence 9 */
    seg_emit(1, d + 1, b.len - 1);
    memcpy(d, b.p, b.len);
    d[1 + 16 + 3] = 0x40; /* an impossible length */
    seg_emit(1, d + 1, b.len - 1);
    memcpy(d, b.p, b.len);
    d[1] = 'W'; /* not a segment */
    seg_emit(1, d + 1, b.len - 1);
    free(d);
    free(b.p);
    /* A segment that starts later (a gap unless the header is trusted). */
    fuzz_buf g = {0};
    fuzz_buf_put(&g, &flags, 1);
    weft__seg_header_put(hdr, 1000);
    fuzz_buf_put(&g, hdr, sizeof hdr);
    seg_record(&g, 1000, 'g', 10);
    seg_mark(&g);
    emit_buf(&g);
    seg_emit(3, g.p + 1, g.len - 1);
    free(g.p);
}

/* ---- relay snapshot files (fuzz_snapfile: the file's bytes) ---- */

static void snap_emit(uint64_t base, const uint8_t *body, size_t len, int damage) {
    fuzz_buf b = {0};
    uint8_t h[WEFT__SNAP_HDR];
    weft__snap_header(h, base, body, len);
    fuzz_buf_put(&b, h, sizeof h);
    fuzz_buf_put(&b, body, len);
    if (damage == 1) b.p[b.len - 1] ^= 1; /* a body byte: the CRC fails */
    if (damage == 2) b.len--;             /* cut short */
    if (damage == 3) b.p[16] ^= 1;        /* a length that is not the rest */
    if (damage == 4) b.p[0] = 'W';        /* not a snapshot file */
    emit_buf(&b);
    free(b.p);
}

static void snapfiles(void) {
    begin("snapfile");
    uint8_t tok[40], rec[100], body[2 + sizeof tok + sizeof rec];
    memset(tok, 't', sizeof tok);
    memset(rec, 'r', sizeof rec);
    weft__snap_body(body, tok, sizeof tok, rec, sizeof rec);
    for (int d = 0; d <= 4; d++)
        snap_emit(42, body, sizeof body, d);
    weft__snap_body(body, NULL, 0, rec, sizeof rec);
    snap_emit(0, body, 2 + sizeof rec, 0); /* no token */
    uint8_t bad[2] = {0xff, 0xff};         /* a token length past the body */
    snap_emit(7, bad, 2, 0);
    snap_emit(7, bad, 0, 0); /* an empty body */
}

/* ---- relay trim checkpoints (fuzz_trimfile: the file's bytes) ---- */

static void trimfiles(void) {
    begin("trimfile");
    weft__trim_author a[3];
    for (int i = 0; i < 3; i++) {
        memset(a[i].key, 0x10 * (i + 1), 32);
        a[i].seq = 5 + (uint64_t)i;
        memset(a[i].hash, 0xa0 + i, 32);
        a[i].lamport_end = 100 + (uint64_t)i;
    }
    uint8_t f[WEFT__TRIM_HDR + 3 * WEFT__TRIM_AUTHOR + 4];
    for (size_t n = 0; n <= 3; n++) {
        weft__trim_encode(f, 42 + n, a, n);
        emit(f, weft__trim_size(n)); /* valid */
    }
    size_t len = weft__trim_size(3);
    f[len - 1] ^= 1;
    emit(f, len); /* the CRC fails */
    f[len - 1] ^= 1;
    emit(f, len - 1); /* cut short */
    f[16] = 9;
    emit(f, len); /* a count that is not the rest */
}

/* ---- Redis Cluster redirections (fuzz_rcluster: an error's text) ---- */

static void rclusters(void) {
    begin("rcluster");
    static const char *const seeds[] = {
        "MOVED 3999 127.0.0.1:6381", "ASK 16383 ::1:7000",  "MOVED 16384 127.0.0.1:6381",
        "MOVED 1 127.0.0.1",         "ERR unknown command", "weft:{00ff}:log",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
        emit(seeds[i], strlen(seeds[i]));
}

/* ---- files requests (fuzz_blobreq: a mode byte, then the text) ---- */

static void blob_emit(uint8_t mode, const char *text) {
    fuzz_buf b = {0};
    fuzz_buf_put(&b, &mode, 1);
    fuzz_buf_put(&b, (const uint8_t *)text, strlen(text));
    emit_buf(&b);
    free(b.p);
}

static void blobreqs(void) {
    begin("blobreq");
    const char *sp = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *id = "0123456789abcdef0123456789ABCDEF";
    char t[256];
    snprintf(t, sizeof t, "/v1/blobs/%s/%s/7", sp, id);
    blob_emit(0, t);
    snprintf(t, sizeof t, "/v1/blobs/%s/%s/1048576", sp, id); /* past the last index */
    blob_emit(0, t);
    snprintf(t, sizeof t, "/v1/blobs/%s/%s", sp, id); /* no chunk */
    blob_emit(0, t);
    blob_emit(1, id);
    snprintf(t, sizeof t, "%s/42", id);
    blob_emit(1, t);
    snprintf(t, sizeof t, "%s/", id);
    blob_emit(1, t);
    /* Ranges against a chunk of 0x00100010 bytes (little-endian). */
    const char *ranges[] = {"bytes=0-9",      "bytes=10-", "bytes=-16",
                            "bytes=2000000-", "bytes=5-4", "bytes=1-2,4-5",
                            "items=0-1",      "bytes=-0",  "bytes=99999999999999999999-"};
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
        snprintf(t, sizeof t, "%c%c%c%c%s", 0x10, 0x00, 0x10, 0x00, ranges[i]);
        fuzz_buf b = {0};
        uint8_t mode = 2;
        fuzz_buf_put(&b, &mode, 1);
        fuzz_buf_put(&b, (const uint8_t *)t, 4 + strlen(ranges[i]));
        emit_buf(&b);
        free(b.p);
    }
}

/* ---- admission tokens (fuzz_admission) ---- */

static void admissions(void) {
    begin("admission");
    uint8_t seed[32], op_pk[32], op_sk[64], other_pk[32], other_sk[64], space[32];
    fuzz_key(seed, FUZZ_SEED_ADMIN);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, op_pk, op_sk, seed) == 0);
    fuzz_key(seed, FUZZ_SEED_MEMBER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, other_pk, other_sk, seed) == 0);
    fuzz_key(space, FUZZ_SPACE_BYTE);
    uint8_t t[WEFT__ADMISSION_MAX_BYTES];
    size_t len;
    const uint64_t nb = FUZZ_AUTH_NOW - 1000, exp = FUZZ_AUTH_NOW + 1000;
    FUZZ_ASSERT(weft__admission_issue(&be, t, sizeof t, &len, space, op_sk, 0, nb, exp) == 0);
    emit(t, len); /* valid */
    FUZZ_ASSERT(weft__admission_issue(&be, t, sizeof t, &len, space, op_sk, 1ull << 40, 0, 0) == 0);
    emit(t, len); /* valid, with a byte quota, never expires */
    FUZZ_ASSERT(weft__admission_issue(&be, t, sizeof t, &len, space, op_sk, UINT64_MAX, nb,
                                      FUZZ_AUTH_NOW) == 0);
    emit(t, len); /* expired just now */
    FUZZ_ASSERT(weft__admission_issue(&be, t, sizeof t, &len, space, other_sk, 0, nb, exp) == 0);
    emit(t, len); /* another operator */
    emit(t, len - 1);
}

/* ---- the CLI's JSON (weft export / weft import documents) ---- */

static void json_texts(void) {
    begin("json");
    static const char *const seeds[] = {
        "{}",
        "{\"title\":\"milk\",\"done\":false,\"n\":1.5,\"i\":-42,\"z\":null}",
        "{\"b\":{\"$bytes\":\"AQL_\"},\"big\":{\"$bigint\":\"-1152921504606846976\"}}",
        "{\"tag\":{\"$map\":{\"$bytes\":\"x\"}},\"list\":[{\"$map\":{\"$map\":1}},[],{}]}",
        "{\"$bytes\":5,\"$bigint\":\"field\"}",
        "{\"bad\":{\"$bigint\":\"nope\"}}",
        "{\"bad\":{\"$bytes\":\"!!\"}}",
        "{\"s\":\"\\u00e9\\ud83d\\ude00\\n\",\"deep\":[[[[{\"a\":[1,2,3]}]]]]}",
        "[1, \"two\", {\"three\": 3}]",
        "{\"format\":\"weftdb-export\",\"version\":1,\"collections\":{\"c\":{\"d\":{\"v\":1}}}}",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
        emit(seeds[i], strlen(seeds[i]));
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s OUTDIR [STAMP]\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    make_dir(outdir);
    FUZZ_ASSERT(weft_sodium_backend(&be) == 0);
    values();
    changes_and_friends();
    auth();
    members();
    backups();
    segments();
    snapfiles();
    trimfiles();
    rclusters();
    blobreqs();
    admissions();
    json_texts();
#if FUZZ_PROTOCOL
    protocol();
#endif
#if FUZZ_TEXT
    text();
#endif
    if (argc == 3) {
        FILE *f = fopen(argv[2], "w");
        if (!f || fprintf(f, "%zu seeds\n", n_files) < 0 || fclose(f) != 0) {
            fprintf(stderr, "make_corpus: cannot write %s\n", argv[2]);
            return 1;
        }
    }
    printf("make_corpus: %zu seeds in %s\n", n_files, outdir);
    return 0;
}
