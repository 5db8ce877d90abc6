/*
 * text_bench: the text CRDT (weft/text.h) on a real editing trace, by
 * default the automerge-paper trace (259,778 single-character edits typing
 * a LaTeX paper), as the peers' figures in PEERS.md measure it.
 *
 * Figures, each the median of --runs runs in this process (replicas are
 * created and freed outside the timed regions):
 *   local apply   every edit made on replica A with weft_text_insert /
 *                 weft_text_delete, and its ops taken out (copied) after each
 *                 transaction of the trace: "one change per edit";
 *   remote apply  a fresh replica B applying those updates one call each;
 *   encode        weft_text_encode of A: size and time;
 *   load          a fresh replica loading that state and reading the text
 *                 out as UTF-8 (as "load and read the text" in PEERS.md);
 *   memory        live bytes through a counting allocator after the local
 *                 apply (A), the remote apply (B) and the load.
 * Before any figure counts, A, B and the loaded replica must all read
 * exactly the trace's endContent; else it exits 1.
 *
 * Then the same trace as a text field of a document (docs/TEXT.md, "In a
 * document"), through replicas with the PLAIN suite (no crypto):
 *   edits as changes  every edit a weft_replica_text_splice, one committed
 *                     change each, records copied out;
 *   apply changes     a fresh replica applying all those records in one call;
 *   snapshot          its size, and loading it plus reading the field;
 *   memory            live bytes of the editing replica (state and log), of
 *                     the applying one, and of the applying one once it
 *                     forgot what its own vector covers (weft_replica_forget,
 *                     as after publishing a snapshot: the lean replica).
 *
 * Output: a table on stdout and, with --json PATH, a JSON array of
 * {"workload", "impl", "metric", "value", "unit"} records like core_bench.
 *
 * Usage: text_bench [--trace PATH] [--json PATH] [--impl NAME] [--runs N]
 */
#define _POSIX_C_SOURCE 200809L

#define BENCH_NAME "text_bench"
#include "bench_util.h"
#include "trace.h"

static const char *workload = "automerge-paper trace";

/* ---- the workload ---- */

typedef struct upd {
    uint8_t *p;
    size_t len;
} upd;

static weft_text *mk(uint8_t who, counter *c, weft_allocator *al) {
    uint8_t key[32];
    memset(key, who, sizeof key);
    *c = (counter){0, 0};
    *al = (weft_allocator){count_realloc, c};
    weft_text_config cfg = {.alloc = al, .author = key, .unit = WEFT_TEXT_UTF16};
    weft_text *t;
    check(weft_text_new(&t, &cfg), "weft_text_new");
    return t;
}

static void expect_end(const weft_text *t, const trace *tr, const char *what) {
    size_t n = weft_text_utf8_length(t), got;
    char *s = malloc(n + 1);
    if (!s) die("out of memory");
    check(weft_text_read(t, s, n, &got), "weft_text_read");
    if (n != tr->end_len || memcmp(s, tr->end, n)) die("%s does not give endContent", what);
    free(s);
}

/* Applies the trace to t, taking the ops out after each transaction; ups
 * (if not NULL) receives copies. Returns the update bytes. The trace's
 * positions are code points; with no character outside the BMP (checked
 * by the caller) they equal the UTF-16 positions the replica takes. */
static size_t local_apply(weft_text *t, const trace *tr, upd *ups) {
    size_t total = 0;
    for (size_t i = 0; i < tr->n_txns; i++) {
        const trace_txn *x = &tr->txns[i];
        for (size_t k = 0; k < x->n_patches; k++) {
            const trace_patch *p = &x->patches[k];
            if (p->del) check(weft_text_delete(t, p->pos, p->del), "weft_text_delete");
            if (p->ins_len)
                check(weft_text_insert(t, p->pos, p->ins, p->ins_len), "weft_text_insert");
        }
        const uint8_t *ops;
        size_t len;
        check(weft_text_take_ops(t, &ops, &len), "weft_text_take_ops");
        total += len;
        if (ups) {
            ups[i].p = malloc(len ? len : 1);
            if (!ups[i].p) die("out of memory");
            memcpy(ups[i].p, ops, len);
            ups[i].len = len;
        }
    }
    return total;
}

/* ---- the same trace as a text field of a document ---- */

static weft_replica *doc_replica(uint8_t who, counter *c, weft_allocator *al) {
    uint8_t space[32], key[32];
    memset(space, 0x5a, sizeof space);
    memset(key, who, sizeof key);
    *c = (counter){0, 0};
    *al = (weft_allocator){count_realloc, c};
    weft_replica_config cfg = {
        .alloc = al, .space = space, .author = key, .text_unit = WEFT_TEXT_UTF16};
    weft_replica *r;
    check(weft_replica_new(&r, &cfg), "weft_replica_new");
    return r;
}

static void expect_field(weft_replica *r, const trace *tr, const char *what) {
    const uint8_t *v;
    size_t len;
    weft_value val;
    check(weft_replica_get_field(r, "notes", 5, "n", 1, "body", 4, &v, &len), "get_field");
    check(weft_value_read(&val, NULL, v, len), "weft_value_read");
    if (val.type != WEFT_TYPE_STRING || val.len != tr->end_len || memcmp(val.ptr, tr->end, val.len))
        die("%s does not give endContent", what);
}

static void doc_path(const trace *tr, int runs) {
    const char *wl = "automerge-paper trace as a text field (PLAIN changes)";
    double t_edit[15], t_apply[15], t_load[15];
    size_t rec_bytes = 0, n_changes = 0, snap_len = 0, mem_edit = 0, mem_apply = 0, mem_lean = 0;
    for (int r = 0; r < runs; r++) {
        counter ca, cb, cl;
        weft_allocator aa, ab, al;
        weft_replica *a = doc_replica(1, &ca, &aa), *b = doc_replica(2, &cb, &ab),
                     *l = doc_replica(3, &cl, &al);
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, n = 0;
        double t0 = now_s();
        for (size_t i = 0; i < tr->n_txns; i++)
            for (size_t k = 0; k < tr->txns[i].n_patches; k++) {
                const trace_patch *p = &tr->txns[i].patches[k];
                const uint8_t *rec;
                size_t rl;
                check(weft_replica_text_splice(a, "notes", 5, "n", 1, "body", 4, p->pos, p->del,
                                               p->ins, p->ins_len, 0, &rec, &rl),
                      "weft_replica_text_splice");
                if (len + rl > cap) {
                    cap = (len + rl) * 2;
                    buf = realloc(buf, cap);
                    if (!buf) die("out of memory");
                }
                memcpy(buf + len, rec, rl);
                len += rl;
                n += rl > 0;
            }
        t_edit[r] = now_s() - t0;
        mem_edit = ca.live;
        if (r == 0) expect_field(a, tr, "document edits");
        t0 = now_s();
        weft_apply_result res;
        check(weft_replica_apply(b, buf, len, &res), "weft_replica_apply");
        t_apply[r] = now_s() - t0;
        mem_apply = cb.live;
        if (res.applied != n) die("applied %u of %zu changes", res.applied, n);
        if (r == 0) expect_field(b, tr, "applying the changes");
        const uint8_t *snap;
        check(weft_replica_snapshot(b, &snap, &snap_len), "weft_replica_snapshot");
        uint8_t *copy = malloc(snap_len);
        memcpy(copy, snap, snap_len);
        t0 = now_s();
        check(weft_replica_load_snapshot(l, copy, snap_len), "weft_replica_load_snapshot");
        expect_field(l, tr, "the snapshot");
        t_load[r] = now_s() - t0;
        const uint8_t *vv;
        size_t vv_len;
        check(weft_replica_vv(b, &vv, &vv_len), "weft_replica_vv");
        uint8_t *vv_copy = malloc(vv_len + 1);
        memcpy(vv_copy, vv, vv_len);
        check(weft_replica_forget(b, vv_copy, vv_len, WEFT_LOG_FORGET_KEEP), "weft_replica_forget");
        free(vv_copy);
        mem_lean = cb.live;
        if (r == 0) expect_field(b, tr, "the lean replica");
        rec_bytes = len;
        n_changes = n;
        free(copy);
        free(buf);
        weft_replica_free(a);
        weft_replica_free(b);
        weft_replica_free(l);
    }
    double edit = median(t_edit, runs), apply = median(t_apply, runs);
    add(wl, "changes", (double)n_changes, "changes");
    add(wl, "edits as changes (splice + commit each)", edit * 1e3, "ms");
    add(wl, "edits as changes, rate", (double)n_changes / edit, "ops/s");
    add(wl, "change bytes, all changes", (double)rec_bytes, "B");
    add(wl, "apply all changes (one call)", apply * 1e3, "ms");
    add(wl, "apply rate", (double)n_changes / apply, "ops/s");
    add(wl, "snapshot size", (double)snap_len, "B");
    add(wl, "load snapshot and read the field", median(t_load, runs) * 1e3, "ms");
    add(wl, "memory of the editing replica", (double)mem_edit, "B");
    add(wl, "memory of the applying replica", (double)mem_apply, "B");
    add(wl, "memory of the applying replica, lean (weft_replica_forget)", (double)mem_lean, "B");
}

int main(int argc, char **argv) {
    const char *path = "tests/traces/sequential/automerge-paper.json.gz";
    const char *json = NULL, *impl = "weft-native";
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--trace") == 0 && v)
            path = v;
        else if (strcmp(argv[i], "--json") == 0 && v)
            json = v;
        else if (strcmp(argv[i], "--impl") == 0 && v)
            impl = v;
        else if (strcmp(argv[i], "--runs") == 0 && v)
            runs = atoi(v);
        else
            die("usage: text_bench [--trace PATH] [--json PATH] [--impl NAME] [--runs N]");
        i++;
    }
    if (runs < 1 || runs > 15) die("--runs must be 1..15");
    trace *tr = trace_load(path);
    if (tr->concurrent) die("%s: a sequential trace is needed", path);
    for (size_t i = 0; i < tr->end_len; i++)
        if ((uint8_t)tr->end[i] >= 0xf0) die("%s: characters outside the BMP", path);
    if (!strstr(path, "automerge-paper")) workload = path;

    double t_local[15], t_remote[15], t_enc[15], t_load[15];
    upd *ups = calloc(tr->n_txns, sizeof *ups);
    size_t ops_bytes = 0, mem_local = 0, mem_remote = 0, mem_load = 0, enc_len = 0;
    uint8_t *enc = NULL;
    for (int r = 0; r < runs; r++) {
        counter ca, cb, cl;
        weft_allocator aa, ab, al;
        weft_text *a = mk(1, &ca, &aa), *b = mk(2, &cb, &ab), *l = mk(3, &cl, &al);
        double t0 = now_s();
        ops_bytes = local_apply(a, tr, r == 0 ? ups : NULL);
        t_local[r] = now_s() - t0;
        if (r == 0) expect_end(a, tr, "local apply");

        t0 = now_s();
        for (size_t i = 0; i < tr->n_txns; i++)
            if (ups[i].len) check(weft_text_apply(b, ups[i].p, ups[i].len), "weft_text_apply");
        t_remote[r] = now_s() - t0;
        if (r == 0) expect_end(b, tr, "remote apply");

        const uint8_t *st;
        size_t st_len;
        t0 = now_s();
        check(weft_text_encode(a, &st, &st_len), "weft_text_encode");
        t_enc[r] = now_s() - t0;
        if (!enc) {
            enc = malloc(st_len);
            memcpy(enc, st, st_len);
            enc_len = st_len;
        }
        mem_local = ca.live;
        mem_remote = cb.live;

        char *out = malloc(tr->end_len + 1);
        size_t got;
        t0 = now_s();
        check(weft_text_load(l, enc, enc_len), "weft_text_load");
        check(weft_text_read(l, out, tr->end_len, &got), "weft_text_read");
        t_load[r] = now_s() - t0;
        if (got != tr->end_len || memcmp(out, tr->end, got)) die("load does not give endContent");
        free(out);
        mem_load = cl.live;
        weft_text_free(a);
        weft_text_free(b);
        weft_text_free(l);
    }
    double local = median(t_local, runs), remote = median(t_remote, runs);
    add(workload, "edits", (double)tr->n_patches, "ops");
    add(workload, "local apply (one change per edit)", local * 1e3, "ms");
    add(workload, "local apply rate", (double)tr->n_patches / local, "ops/s");
    add(workload, "update bytes, all changes", (double)ops_bytes, "B");
    add(workload, "remote apply (one update per edit)", remote * 1e3, "ms");
    add(workload, "remote apply rate", (double)tr->n_patches / remote, "ops/s");
    add(workload, "encoded size", (double)enc_len, "B");
    add(workload, "encode", median(t_enc, runs) * 1e3, "ms");
    add(workload, "load and read the text", median(t_load, runs) * 1e3, "ms");
    add(workload, "memory after local apply", (double)mem_local, "B");
    add(workload, "memory after remote apply", (double)mem_remote, "B");
    add(workload, "memory after load", (double)mem_load, "B");
    add(workload, "text", (double)tr->end_len, "B");
    if (strstr(path, "automerge-paper")) doc_path(tr, runs);

    printf("%-36s  %14s  %s\n", "metric", "value", "unit");
    for (int i = 0; i < n_results; i++)
        printf("%-36s  %14.2f  %s\n", results[i].metric, results[i].value, results[i].unit);
    printf("(%s, %s; medians of %d runs)\n", impl, workload, runs);
    if (json) write_json(json, impl);
    for (size_t i = 0; i < tr->n_txns; i++)
        free(ups[i].p);
    free(ups);
    free(enc);
    trace_free(tr);
    return 0;
}
