/*
 * Shared by the fuzz targets and make_corpus: the fixed keys, times and
 * fixtures every target assumes, so that the seed corpus make_corpus writes
 * is made of inputs the targets can actually accept (same space, same
 * owner, same preloaded history), plus the merge fuzzer's script opcodes.
 *
 * Targets report a broken invariant with FUZZ_ASSERT, which prints what
 * failed and aborts: libFuzzer saves the input, the replay driver dies.
 */
#ifndef WEFT_FUZZ_COMMON_H
#define WEFT_FUZZ_COMMON_H

#include "weft/weft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                                     \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* The entry point every target defines (libFuzzer's, or the replay driver's). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Wall clock given to every commit, and the "now" tokens are checked at. */
#define FUZZ_WALL_MS  1700000000000ULL
#define FUZZ_AUTH_NOW 1800000000ULL

/* Plain (unsigned) replicas live in space 11..11; authors are k..k. */
#define FUZZ_SPACE_BYTE    0x11
#define FUZZ_PRELOAD_A     0x22 /* authors of the preloaded history */
#define FUZZ_PRELOAD_B     0x33
#define FUZZ_TARGET_AUTHOR 0x55 /* the replica fuzz_apply feeds */

/* Seeds of the Ed25519 keys fuzz_auth and make_corpus share: the space
 * owner (whose public key is the space id), an admin and a plain member. */
#define FUZZ_SEED_OWNER  0x01
#define FUZZ_SEED_ADMIN  0x02
#define FUZZ_SEED_MEMBER 0x03
/* Every byte of the content key of the owner's space (V1 seeds). */
#define FUZZ_CONTENT_KEY_BYTE 0xc0

static inline void fuzz_key(uint8_t key[32], uint8_t v) {
    memset(key, v, 32);
}

/* A PLAIN replica of the fuzz space with author k..k; aborts on failure.
 * Keeping records costs a 1 MiB chunk on the first commit, which slows
 * fuzzing down a lot: only replicas that serve diffs keep them. */
static inline weft_replica *fuzz_replica_ex(uint8_t author, int keep_records) {
    uint8_t space[32], key[32];
    fuzz_key(space, FUZZ_SPACE_BYTE);
    fuzz_key(key, author);
    weft_replica_config cfg = {.space = space, .author = key, .keep_records = keep_records};
    weft_replica *r = NULL;
    FUZZ_ASSERT(weft_replica_new(&r, &cfg) == 0);
    return r;
}

static inline weft_replica *fuzz_replica(uint8_t author) {
    return fuzz_replica_ex(author, 0);
}

static inline void fuzz_hash(weft_replica *r, uint8_t hash[32]) {
    FUZZ_ASSERT(weft_state_hash(r, hash) == 0);
}

static inline size_t fuzz_varint(uint8_t *dst, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

/* A growable byte buffer for building inputs and collecting records. */
typedef struct fuzz_buf {
    uint8_t *p;
    size_t len, cap;
} fuzz_buf;

static inline void fuzz_buf_put(fuzz_buf *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        FUZZ_ASSERT(b->p);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}

static inline void fuzz_put_str(weft_replica *r, const char *coll, const char *doc,
                                const char *field, const char *s) {
    uint8_t v[64];
    size_t vlen;
    FUZZ_ASSERT(weft_value_write_string(v, sizeof v, &vlen, s, strlen(s)) == 0);
    FUZZ_ASSERT(weft_replica_put(r, coll, strlen(coll), doc, strlen(doc), field, strlen(field), v,
                                 vlen) == 0);
}

static inline void fuzz_counter(weft_replica *r, const char *coll, const char *doc,
                                const char *field, int64_t delta) {
    FUZZ_ASSERT(weft_replica_counter_add(r, coll, strlen(coll), doc, strlen(doc), field,
                                         strlen(field), delta) == 0);
}

/* Commits r's open transaction and appends the record to out. */
/* A text splice on notes/<doc>/body, its change appended to out. */
static inline void fuzz_splice(weft_replica *r, const char *doc, size_t pos, size_t del,
                               const char *ins, fuzz_buf *out) {
    const uint8_t *rec;
    size_t len;
    FUZZ_ASSERT(weft_replica_text_splice(r, "notes", 5, doc, strlen(doc), "body", 4, pos, del, ins,
                                         strlen(ins), FUZZ_WALL_MS, &rec, &len) == 0);
    fuzz_buf_put(out, rec, len);
}

static inline void fuzz_commit(weft_replica *r, fuzz_buf *out) {
    const uint8_t *rec;
    size_t len;
    FUZZ_ASSERT(weft_replica_commit(r, FUZZ_WALL_MS, &rec, &len) == 0);
    fuzz_buf_put(out, rec, len);
}

/* The preloaded history of fuzz_apply and fuzz_vv: two authors, four
 * changes (puts, a counter on a put, a field delete, a document delete),
 * each author having seen the other's. Deterministic: make_corpus rebuilds
 * it to write changes that continue it. OUT: *a and *b, the two authors'
 * replicas (caller frees), and every record in causal order in *records. */
static inline void fuzz_preload(weft_replica **a, weft_replica **b, fuzz_buf *records) {
    weft_replica *ra = fuzz_replica_ex(FUZZ_PRELOAD_A, 1);
    weft_replica *rb = fuzz_replica_ex(FUZZ_PRELOAD_B, 1);
    size_t mark;
    fuzz_put_str(ra, "notes", "n1", "title", "hello");
    fuzz_counter(ra, "notes", "n1", "votes", 3);
    fuzz_put_str(ra, "todos", "t1", "what", "milk");
    mark = records->len;
    fuzz_commit(ra, records);
    FUZZ_ASSERT(weft_replica_apply(rb, records->p + mark, records->len - mark, NULL) == 0);
    fuzz_counter(rb, "notes", "n1", "votes", -1);
    fuzz_put_str(rb, "notes", "n2", "title", "world");
    FUZZ_ASSERT(weft_replica_delete_field(rb, "notes", 5, "n1", 2, "title", 5) == 0);
    mark = records->len;
    fuzz_commit(rb, records);
    FUZZ_ASSERT(weft_replica_apply(ra, records->p + mark, records->len - mark, NULL) == 0);
    FUZZ_ASSERT(weft_replica_delete_doc(ra, "todos", 5, "t1", 2) == 0);
    fuzz_put_str(ra, "notes", "n1", "title", "again");
    mark = records->len;
    fuzz_commit(ra, records);
    FUZZ_ASSERT(weft_replica_apply(rb, records->p + mark, records->len - mark, NULL) == 0);
    fuzz_counter(rb, "notes", "n2", "count", 7);
    mark = records->len;
    fuzz_commit(rb, records);
    FUZZ_ASSERT(weft_replica_apply(ra, records->p + mark, records->len - mark, NULL) == 0);
    *a = ra;
    *b = rb;
}

#if FUZZ_TEXT /* set by meson once the text module exists */
#include "weft/text.h"

static inline weft_text *fuzz_text_new(uint8_t author) {
    uint8_t key[32];
    fuzz_key(key, author);
    weft_text_config cfg = {.author = key, .unit = WEFT_TEXT_CODEPOINTS};
    weft_text *t = NULL;
    FUZZ_ASSERT(weft_text_new(&t, &cfg) == 0);
    return t;
}

/* Hands t's local edits to u. */
static inline void fuzz_text_send(weft_text *t, weft_text *u, fuzz_buf *copy) {
    const uint8_t *ops;
    size_t len;
    FUZZ_ASSERT(weft_text_take_ops(t, &ops, &len) == 0);
    if (copy) fuzz_buf_put(copy, ops, len);
    FUZZ_ASSERT(weft_text_apply(u, ops, len) == 0);
}

/* fuzz_text's preloaded history: two authors editing one text, each having
 * seen all of the other's edits. OUT: *a, *b (caller frees) and a's
 * encoded state appended to *state. */
static inline void fuzz_text_preload(weft_text **a, weft_text **b, fuzz_buf *state) {
    weft_text *ta = fuzz_text_new(FUZZ_PRELOAD_A), *tb = fuzz_text_new(FUZZ_PRELOAD_B);
    FUZZ_ASSERT(weft_text_insert(ta, 0, "hello world", 11) == 0);
    fuzz_text_send(ta, tb, NULL);
    FUZZ_ASSERT(weft_text_insert(tb, 5,
                                 ", d\xc3\xa9"
                                 "ar",
                                 7) == 0);
    FUZZ_ASSERT(weft_text_delete(tb, 0, 1) == 0);
    fuzz_text_send(tb, ta, NULL);
    FUZZ_ASSERT(weft_text_insert(ta, weft_text_length(ta), "!", 1) == 0);
    FUZZ_ASSERT(weft_text_delete(ta, 2, 3) == 0);
    /* Marks: in the state (the standalone updates carry none). */
    FUZZ_ASSERT(weft_text_format(ta, 0, 4, "bold", 4, (const uint8_t *)"\x02", 1) == 0);
    FUZZ_ASSERT(weft_text_format(ta, 2, 3, "link", 4, (const uint8_t *)"\x05\x01u", 3) == 0);
    FUZZ_ASSERT(weft_text_format(ta, 1, 1, "bold", 4, NULL, 0) == 0);
    fuzz_text_send(ta, tb, NULL);
    const uint8_t *enc;
    size_t len;
    FUZZ_ASSERT(weft_text_encode(ta, &enc, &len) == 0);
    fuzz_buf_put(state, enc, len);
    *a = ta;
    *b = tb;
}
#endif

/* fuzz_merge scripts: each op is one opcode byte (taken modulo
 * MERGE_N_OPS) and the argument bytes named here; a script that ends early
 * reads zeros. */
enum merge_op {
    MERGE_PUT = 0,   /* replica, coll, doc, field, value kind, value byte */
    MERGE_DEL_FIELD, /* replica, coll, doc, field */
    MERGE_DEL_DOC,   /* replica, coll, doc */
    MERGE_COUNTER,   /* replica, coll, doc, field, delta (int8) */
    MERGE_COMMIT,    /* replica: commit its open transaction, if any */
    MERGE_DELIVER,   /* replica, change index: apply one recorded change */
    MERGE_SYNC,      /* to, from: everything `to` lacks, via vector + diff */
    MERGE_ROLLBACK,  /* replica */
    MERGE_TEXT, /* replica, coll, doc, field, pos, deleted, inserted (0: none): a text splice */
    MERGE_OPS,  /* replica, count (1..4), then count x (kind 0..6, coll, doc, field or field
                   mask, value kind, value byte): one weft_replica_write_ops buffer; kind 6 is a
                   bad op (the buffer must then be refused whole) */
    MERGE_TEXT_EDIT, /* as MERGE_TEXT, joining the open transaction */
    MERGE_LIST,      /* replica, coll, doc, field, kind (bit 7: join), index, to, value kind, value
                        byte: a list edit (docs/LISTS.md), indices clamped to the list */
    MERGE_FORGET,    /* replica, keep (0..3): weft_replica_forget below its own vector */
    MERGE_MARK, /* replica, coll, doc, field, pos, len, how (type = how % 3: bold, italic, link;
                   bit 6: join; bit 7: remove; bit 5: the other link URL): a text format */
    MERGE_N_OPS
};
#define MERGE_REPLICAS 3

#endif
