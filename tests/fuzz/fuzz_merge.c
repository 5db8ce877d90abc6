/*
 * fuzz_merge: convergence under arbitrary delivery. The input is a script
 * (opcodes in fuzz_common.h) run on three PLAIN replicas of one space:
 * local writes on a few collections, documents and fields, commits, and
 * delivery of any committed change to any replica, in any order, any number
 * of times, or a whole vector/diff sync between two of them.
 *
 * A replica may also forget its history below its own vector
 * (weft_replica_forget, as after publishing a snapshot): its state must
 * not change, it must keep taking every change (old ones as duplicates),
 * and replica 0's diff then answers ETRIMMED to a vector below what it
 * forgot (the test then sends from its records, as a snapshot plus tail
 * would).
 *
 * Local writes also come as buffers of ops (weft_replica_write_ops, with
 * bad ops that must leave the transaction untouched), as text edits that
 * join the open transaction (weft_replica_text_edit), and as list edits
 * (weft_replica_list_edit: insert, delete, move, set; committed or joined).
 *
 * Every record here is honest, so apply must never reject one (only refuse
 * while the target has an open transaction). At the end every open
 * transaction is committed and every change delivered everywhere: no
 * change may still be parked, and the three state hashes must be equal,
 * also after a snapshot round trip. A mismatch aborts.
 */
#include "fuzz_common.h"

#define MAX_CHANGES 256
/* Room past MAX_CHANGES: a transaction holding text edits cannot be
 * dropped, so each replica may commit once more when the history is full. */
#define MAX_RECORDS (MAX_CHANGES + MERGE_REPLICAS)

typedef struct script {
    const uint8_t *p, *end;
} script;

static uint8_t next(script *s) {
    return s->p < s->end ? *s->p++ : 0;
}

typedef struct world {
    weft_replica *r[MERGE_REPLICAS];
    int forgot[MERGE_REPLICAS]; /* weft_replica_forget dropped something */
    uint8_t *rec[MAX_RECORDS];
    size_t len[MAX_RECORDS];
    size_t n;
} world;

static const char *const colls[] = {"notes", "todos"};
static const char *const docs[] = {"a", "b", "c", "\xc3\xa9t\xc3\xa9"};
static const char *const fields[] = {"x", "y", "n"};

static void record(world *w, const uint8_t *rec, size_t len);

static void commit(world *w, int i) {
    weft_replica *r = w->r[i];
    if (!weft_replica_txn_ops(r)) return;
    /* Enough history: drop the writes, unless text edits hold them. */
    if (w->n >= MAX_CHANGES && weft_replica_rollback(r) == 0) return;
    FUZZ_ASSERT(w->n < MAX_RECORDS);
    const uint8_t *rec;
    size_t len;
    FUZZ_ASSERT(weft_replica_commit(r, FUZZ_WALL_MS + w->n, &rec, &len) == 0);
    record(w, rec, len);
}

static void apply(weft_replica *r, const uint8_t *recs, size_t len) {
    weft_apply_result res;
    int rc = weft_replica_apply(r, recs, len, &res);
    if (rc == WEFT_ESTATE && weft_replica_txn_ops(r)) return; /* open transaction */
    if (rc) fprintf(stderr, "honest records refused: %s\n", weft_err_name(rc));
    FUZZ_ASSERT(rc == 0 && res.rejected == 0 && res.consumed == len);
}

/* The vector entry of `author` in vv, 0 when absent. */
static uint64_t vv_seq(const uint8_t *vv, size_t len, const uint8_t *author) {
    size_t pos = 0;
    const uint8_t *a;
    uint64_t seq;
    while (weft_vv_next(vv, len, &pos, &a, &seq))
        if (memcmp(a, author, 32) == 0) return seq;
    return 0;
}

/* Everything `to` lacks and `from` holds. Replica 0 keeps its records and
 * answers with weft_replica_diff; the others do not (a kept-records replica
 * costs a 1 MiB chunk, which would slow the fuzzer tenfold), so their diff
 * is computed here from the recorded changes and the two vectors. */
static void sync_pair(world *w, int from, int to) {
    const uint8_t *vv, *recs;
    size_t vlen, tlen, rlen;
    FUZZ_ASSERT(weft_replica_vv(w->r[to], &vv, &tlen) == 0);
    uint8_t *theirs = malloc(tlen + 1); /* borrowed from `to`: copy before the next call */
    FUZZ_ASSERT(theirs);
    memcpy(theirs, vv, tlen);
    int rc = from == 0 ? weft_replica_diff(w->r[0], theirs, tlen, &recs, &rlen) : 0;
    FUZZ_ASSERT(rc == 0 || (rc == WEFT_ETRIMMED && w->forgot[0]));
    if (from == 0 && rc == 0) {
        if (to != 0) apply(w->r[to], recs, rlen);
    } else if (from != to) {
        FUZZ_ASSERT(weft_replica_vv(w->r[from], &vv, &vlen) == 0);
        fuzz_buf out = {0};
        for (size_t k = 0; k < w->n; k++) {
            weft_change c;
            FUZZ_ASSERT(weft_change_decode(&c, w->rec[k], w->len[k]) == 0);
            if (c.seq <= vv_seq(vv, vlen, c.author) && c.seq > vv_seq(theirs, tlen, c.author))
                fuzz_buf_put(&out, w->rec[k], w->len[k]);
        }
        apply(w->r[to], out.p, out.len);
        free(out.p);
    }
    free(theirs);
}

static void write_value(script *s, uint8_t *v, size_t cap, size_t *len) {
    uint8_t kind = next(s), b = next(s);
    switch (kind % 7) {
    case 0:
        FUZZ_ASSERT(weft_value_write_null(v, cap, len) == 0);
        break;
    case 1:
        FUZZ_ASSERT(weft_value_write_int(v, cap, len, (int8_t)b) == 0);
        break;
    case 2: {
        char str[2] = {(char)('a' + b % 26), (char)('a' + b / 26 % 26)};
        FUZZ_ASSERT(weft_value_write_string(v, cap, len, str, 1 + (b & 1)) == 0);
        break;
    }
    case 3:
        FUZZ_ASSERT(weft_value_write_float(v, cap, len, b / 4.0) == 0);
        break;
    case 4:
        FUZZ_ASSERT(weft_value_write_bool(v, cap, len, b & 1) == 0);
        break;
    case 6: { /* [int, int]: a list edit turns it into a list */
        size_t n, k;
        FUZZ_ASSERT(weft_value_write_array(v, cap, &n, 2) == 0);
        FUZZ_ASSERT(weft_value_write_int(v + n, cap - n, &k, b) == 0);
        n += k;
        FUZZ_ASSERT(weft_value_write_int(v + n, cap - n, &k, -b) == 0);
        *len = n + k;
        break;
    }
    default: { /* {"k": int} */
        size_t n, k;
        FUZZ_ASSERT(weft_value_write_map(v, cap, &n, 1) == 0);
        FUZZ_ASSERT(weft_value_write_key(v + n, cap - n, &k, "k", 1) == 0);
        n += k;
        FUZZ_ASSERT(weft_value_write_int(v + n, cap - n, &k, b) == 0);
        *len = n + k;
    }
    }
}

static void record(world *w, const uint8_t *rec, size_t len) {
    w->rec[w->n] = malloc(len);
    FUZZ_ASSERT(w->rec[w->n]);
    memcpy(w->rec[w->n], rec, len);
    w->len[w->n++] = len;
}

/* A text splice at positions clamped to the field's text (a string field
 * turns into text; other values refuse with EINVAL). */
static void splice(world *w, weft_replica *r, script *s, int join) {
    const char *c = colls[next(s) % 2], *d = docs[next(s) % 4], *f = fields[next(s) % 3];
    size_t cl = strlen(c), dl = strlen(d), fl = strlen(f), len = 0;
    uint8_t pos = next(s), del = next(s), ins = next(s);
    if (weft_replica_text_length(r, c, cl, d, dl, f, fl, &len)) {
        const uint8_t *v;
        size_t vl;
        weft_value val;
        if (!weft_replica_get_field(r, c, cl, d, dl, f, fl, &v, &vl) &&
            !weft_value_read(&val, NULL, v, vl) && val.type == WEFT_TYPE_STRING)
            len = val.len; /* ASCII: bytes are units */
    }
    size_t p = len ? pos % (len + 1) : 0, n = len - p ? del % (len - p + 1) : 0;
    /* a one- or two-byte character, or none */
    const char *text = ins == 0  ? ""
                       : ins & 1 ? (const char *[]){"a", "b", "c", "d"}[ins >> 1 & 3]
                                 : "\xc3\xa9";
    const uint8_t *rec;
    size_t rl;
    int rc = (join ? weft_replica_text_edit : weft_replica_text_splice)(
        r, c, cl, d, dl, f, fl, p, n, text, strlen(text), FUZZ_WALL_MS + w->n, &rec, &rl);
    if (rc == WEFT_ESTATE && weft_replica_txn_ops(r)) return; /* open transaction */
    if (rc == WEFT_EINVAL) return;                            /* the field holds no string */
    FUZZ_ASSERT(rc == 0);
    if (rl) {
        FUZZ_ASSERT(w->n < MAX_CHANGES);
        record(w, rec, rl);
    }
}

/* Formats a range of a text field, clamped to the text (fields that are
 * not texts refuse with ENOTFOUND). */
static void format(world *w, weft_replica *r, script *s) {
    const char *c = colls[next(s) % 2], *d = docs[next(s) % 4], *f = fields[next(s) % 3];
    size_t cl = strlen(c), dl = strlen(d), fl = strlen(f), len = 0;
    uint8_t pos = next(s), n = next(s), how = next(s);
    if (weft_replica_text_length(r, c, cl, d, dl, f, fl, &len) || !len) return;
    size_t p = pos % len, l = 1 + n % (len - p);
    /* block: a block marker's mark, which does not expand (TEXT.md, "Blocks") */
    static const char *const types[] = {"bold", "italic", "link", "block"};
    const char *type = types[how % 4];
    uint8_t v[32];
    size_t vl;
    if (how % 4 == 2)
        FUZZ_ASSERT(weft_value_write_string(v, sizeof v, &vl, how & 32 ? "u1" : "u2", 2) == 0);
    else
        FUZZ_ASSERT(weft_value_write_bool(v, sizeof v, &vl, 1) == 0);
    const uint8_t *rec;
    size_t rl;
    int rc = weft_replica_text_format(r, c, cl, d, dl, f, fl, p, l, type, strlen(type),
                                      how & 128 ? NULL : v, vl, (how & 64) != 0,
                                      FUZZ_WALL_MS + w->n, &rec, &rl);
    if (rc == WEFT_ESTATE && weft_replica_txn_ops(r)) return; /* open transaction */
    if (rc == WEFT_EINVAL) return; /* a UTF-16 unit inside a pair (never: ASCII and é) */
    FUZZ_ASSERT(rc == 0);
    if (rl) {
        FUZZ_ASSERT(w->n < MAX_CHANGES);
        record(w, rec, rl);
    }
}

/* A list edit at indices clamped to the field's list (an array field
 * turns into a list; other values and texts refuse with ENOTLIST). */
static void list_edit(world *w, weft_replica *r, script *s) {
    const char *c = colls[next(s) % 2], *d = docs[next(s) % 4], *f = fields[next(s) % 3];
    size_t cl = strlen(c), dl = strlen(d), fl = strlen(f), len = 0;
    uint8_t k = next(s), index = next(s), to = next(s), v[32];
    size_t vlen;
    write_value(s, v, sizeof v, &vlen);
    const uint8_t *val;
    size_t vl;
    weft_value arr;
    if (!weft_replica_get_field(r, c, cl, d, dl, f, fl, &val, &vl) &&
        !weft_value_read(&arr, NULL, val, vl) && arr.type == WEFT_TYPE_ARRAY)
        len = (size_t)arr.count;
    weft_list_edit_kind kind = (weft_list_edit_kind)(1 + (k & 0x7f) % 4);
    if (!len) kind = WEFT_LIST_INSERT;
    size_t i = index % (len + (kind == WEFT_LIST_INSERT)), j = len ? to % len : 0;
    const uint8_t *rec;
    size_t rl;
    int rc = weft_replica_list_edit(r, c, cl, d, dl, f, fl, kind, i, j, v, vlen, k >> 7,
                                    FUZZ_WALL_MS + w->n, &rec, &rl);
    if (rc == WEFT_ESTATE && weft_replica_txn_ops(r)) return; /* open transaction */
    if (rc == WEFT_ENOTLIST) return;                          /* a text or another value */
    if (getenv("FUZZ_DEBUG"))
        fprintf(stderr, "list edit %d %zu %zu: %s\n", kind, i, j, weft_err_name(rc));
    if (rc) fprintf(stderr, "list edit refused: %s\n", weft_err_name(rc));
    FUZZ_ASSERT(rc == 0);
    if (rl) {
        FUZZ_ASSERT(w->n < MAX_CHANGES);
        record(w, rec, rl);
    }
}

static void ob_name(fuzz_buf *b, const char *name) {
    uint8_t n = (uint8_t)strlen(name);
    fuzz_buf_put(b, &n, 1);
    fuzz_buf_put(b, name, n);
}

/* A buffer of 1..4 ops; a bad one anywhere refuses it whole. */
static void write_ops(weft_replica *r, script *s) {
    fuzz_buf b = {0};
    int n = 1 + next(s) % 4, bad = -1;
    for (int i = 0; i < n; i++) {
        uint8_t kind = 1 + next(s) % 7;
        const char *c = colls[next(s) % 2], *d = docs[next(s) % 4];
        uint8_t fsel = next(s), v[32];
        size_t vlen;
        if (kind == 7) { /* a put with no field name */
            if (bad < 0) bad = i;
            kind = WEFT_OPS_PUT;
            c = "";
        }
        fuzz_buf_put(&b, &kind, 1);
        ob_name(&b, c);
        ob_name(&b, d);
        if (kind == WEFT_OPS_REPLACE || kind == WEFT_OPS_UPDATE) {
            /* fields chosen by a mask, in byte order: n, x, y */
            static const char *const sorted[] = {"n", "x", "y"};
            uint8_t cnt = (uint8_t)((fsel & 1) + (fsel >> 1 & 1) + (fsel >> 2 & 1));
            uint8_t head[2] = {WEFT_TYPE_MAP, cnt};
            fuzz_buf_put(&b, head, 2);
            for (int k = 0; k < 3; k++) {
                if (!(fsel >> k & 1)) continue;
                ob_name(&b, sorted[k]);
                write_value(s, v, sizeof v, &vlen);
                fuzz_buf_put(&b, v, vlen);
            }
            continue;
        }
        if (kind == WEFT_OPS_DELETE_DOC) continue;
        ob_name(&b, fields[fsel % 3]);
        if (kind == WEFT_OPS_PUT) {
            write_value(s, v, sizeof v, &vlen);
            fuzz_buf_put(&b, v, vlen);
        } else if (kind == WEFT_OPS_COUNTER_ADD) {
            FUZZ_ASSERT(weft_value_write_int(v, sizeof v, &vlen, (int8_t)next(s)) == 0);
            fuzz_buf_put(&b, v, vlen);
        }
    }
    size_t before = weft_replica_txn_ops(r), failed;
    int rc = weft_replica_write_ops(r, b.p, b.len, &failed);
    if (bad >= 0) {
        FUZZ_ASSERT(rc == WEFT_EINVAL && failed == (size_t)bad);
        FUZZ_ASSERT(weft_replica_txn_ops(r) == before);
    } else {
        FUZZ_ASSERT(rc == 0 && failed == (size_t)n);
    }
    free(b.p);
}

static void run_op(world *w, script *s) {
    uint8_t op = next(s) % MERGE_N_OPS;
    int i = next(s) % MERGE_REPLICAS;
    weft_replica *r = w->r[i];
    if (op <= MERGE_COUNTER) {
        const char *c = colls[next(s) % 2], *d = docs[next(s) % 4];
        const char *f = op == MERGE_DEL_DOC ? NULL : fields[next(s) % 3];
        size_t cl = strlen(c), dl = strlen(d), fl = f ? strlen(f) : 0;
        int rc = 0;
        if (op == MERGE_PUT) {
            uint8_t v[32];
            size_t vlen;
            write_value(s, v, sizeof v, &vlen);
            rc = weft_replica_put(r, c, cl, d, dl, f, fl, v, vlen);
        } else if (op == MERGE_DEL_FIELD) {
            rc = weft_replica_delete_field(r, c, cl, d, dl, f, fl);
        } else if (op == MERGE_DEL_DOC) {
            rc = weft_replica_delete_doc(r, c, cl, d, dl);
        } else {
            rc = weft_replica_counter_add(r, c, cl, d, dl, f, fl, (int8_t)next(s));
        }
        FUZZ_ASSERT(rc == 0);
        return;
    }
    switch (op) {
    case MERGE_COMMIT:
        commit(w, i);
        break;
    case MERGE_DELIVER: { /* the replica byte picked the target; now the change */
        uint8_t k = next(s);
        if (w->n) apply(r, w->rec[k % w->n], w->len[k % w->n]);
        break;
    }
    case MERGE_SYNC:
        sync_pair(w, next(s) % MERGE_REPLICAS, i);
        break;
    case MERGE_ROLLBACK:
        weft_replica_rollback(r);
        break;
    case MERGE_TEXT:
    case MERGE_TEXT_EDIT:
        if (w->n < MAX_CHANGES) splice(w, r, s, op == MERGE_TEXT_EDIT);
        break;
    case MERGE_OPS:
        write_ops(r, s);
        break;
    case MERGE_LIST:
        if (w->n < MAX_CHANGES) list_edit(w, r, s);
        break;
    case MERGE_MARK:
        if (w->n < MAX_CHANGES) format(w, r, s);
        break;
    case MERGE_FORGET: {
        uint8_t keep = next(s) % 4;
        if (weft_replica_txn_ops(r)) break; /* ESTATE: its ops show in the state */
        const uint8_t *vv;
        size_t vl;
        FUZZ_ASSERT(weft_replica_vv(r, &vv, &vl) == 0);
        uint8_t *own = malloc(vl + 1);
        FUZZ_ASSERT(own);
        memcpy(own, vv, vl);
        uint8_t before[32], after[32];
        uint64_t n = weft_replica_change_count(r);
        fuzz_hash(r, before);
        FUZZ_ASSERT(weft_replica_forget(r, own, vl, keep) == 0);
        fuzz_hash(r, after);
        FUZZ_ASSERT(memcmp(before, after, 32) == 0);
        if (weft_replica_change_count(r) < n) w->forgot[i] = 1;
        free(own);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    world w = {{NULL}, {0}, {NULL}, {0}, 0};
    for (int i = 0; i < MERGE_REPLICAS; i++) {
        w.r[i] = fuzz_replica_ex((uint8_t)(0x21 + 0x11 * i), i == 0);
        FUZZ_ASSERT(weft_replica_set_format_level(w.r[i], WEFT_LEVEL_MARKS) == 0);
    }
    script s = {data, data + size};
    while (s.p < s.end)
        run_op(&w, &s);

    /* Deliver everything everywhere, in commit order (which is causal). */
    for (int i = 0; i < MERGE_REPLICAS; i++)
        commit(&w, i);
    for (int i = 0; i < MERGE_REPLICAS; i++) {
        weft_replica_rollback(w.r[i]); /* writes dropped when the history was full */
        for (size_t k = 0; k < w.n; k++)
            apply(w.r[i], w.rec[k], w.len[k]);
    }
    uint8_t h[MERGE_REPLICAS][32];
    for (int i = 0; i < MERGE_REPLICAS; i++) {
        FUZZ_ASSERT(weft_replica_pending_count(w.r[i]) == 0);
        FUZZ_ASSERT(w.forgot[i] ? weft_replica_change_count(w.r[i]) <= w.n
                                : weft_replica_change_count(w.r[i]) == w.n);
        fuzz_hash(w.r[i], h[i]);
        if (memcmp(h[i], h[0], 32) != 0) fprintf(stderr, "replica %d diverged from replica 0\n", i);
        FUZZ_ASSERT(memcmp(h[i], h[0], 32) == 0);
    }

    /* The converged state survives a snapshot. */
    const uint8_t *snap;
    size_t snap_len;
    FUZZ_ASSERT(weft_replica_snapshot(w.r[1], &snap, &snap_len) == 0);
    weft_replica *fresh = fuzz_replica(0x77);
    FUZZ_ASSERT(weft_replica_load_snapshot(fresh, snap, snap_len) == 0);
    uint8_t hs[32];
    fuzz_hash(fresh, hs);
    FUZZ_ASSERT(memcmp(hs, h[0], 32) == 0);
    weft_replica_free(fresh);

    for (int i = 0; i < MERGE_REPLICAS; i++)
        weft_replica_free(w.r[i]);
    for (size_t k = 0; k < w.n; k++)
        free(w.rec[k]);
    return 0;
}
