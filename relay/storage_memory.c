/*
 * Memory storage: records live in the heap and vanish with the process.
 * For tests and throwaway relays. "Durable" here means only "appended":
 * flush has nothing to do. Records are copied one allocation each, indexed
 * by relay sequence in a growable array. Snapshots are kept in their stored
 * form (snapfile.h), newest first, so reads check them as the file driver
 * does. Trimming (--keep-history) frees the records up to the trim point
 * and keeps the checkpoint bytes: recs[i] is relay sequence trimmed + i + 1.
 */
#include "storage.h"

#include "snapfile.h"
#include "vec.h"

#include "weft/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct mem_rec {
    uint8_t *p;
    size_t len;
} mem_rec;

typedef struct mem_space {
    relay_space_store base;
    struct mem_store *st;
    uint8_t id[32];
    mem_rec *recs;
    size_t n, cap;
    uint64_t trimmed;                      /* records up to it were trimmed */
    mem_rec ckpt;                          /* the trim checkpoint (trimfile.h), when base > 0 */
    mem_rec snaps[STORAGE_SNAPSHOTS_KEPT]; /* stored form, newest first */
    struct mem_space *next;
} mem_space;

typedef struct mem_store {
    relay_store base;
    mem_space *spaces; /* kept after close_space, so a reopen finds the data */
} mem_store;

static int mem_open(relay_store *st_, const uint8_t space[32], int create, relay_space_store **out,
                    relay_record_fn fn, void *ud) {
    mem_store *st = (mem_store *)st_;
    mem_space *s = st->spaces;
    while (s && memcmp(s->id, space, 32) != 0)
        s = s->next;
    if (!s) {
        if (!create) return WEFT_ENOTFOUND;
        s = calloc(1, sizeof *s);
        if (!s) return WEFT_ENOMEM;
        s->st = st;
        s->base.store = &st->base;
        memcpy(s->id, space, 32);
        s->next = st->spaces;
        st->spaces = s;
    }
    for (size_t i = 0; fn && i < s->n; i++) {
        int rc = fn(ud, s->trimmed + i + 1, s->recs[i].p, s->recs[i].len);
        if (rc) return rc;
    }
    *out = &s->base;
    return 0;
}

static int mem_append(relay_space_store *s_, const uint8_t *const *recs, const size_t *lens,
                      size_t n, uint64_t *first) {
    mem_space *s = (mem_space *)s_;
    if (n > SIZE_MAX - s->n) return WEFT_ENOMEM;
    mem_rec *nr = weft__vec_grow(s->recs, &s->cap, s->n + n, sizeof *nr, 64);
    if (!nr) return WEFT_ENOMEM;
    s->recs = nr;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = malloc(lens[i] ? lens[i] : 1);
        if (!p) {
            while (i--)
                free(s->recs[s->n + i].p);
            return WEFT_ENOMEM;
        }
        memcpy(p, recs[i], lens[i]);
        s->recs[s->n + i] = (mem_rec){p, lens[i]};
    }
    *first = s->trimmed + s->n + 1;
    s->n += n;
    return 0;
}

static int mem_read(relay_space_store *s_, uint64_t after, size_t max_bytes, relay_record_fn fn,
                    void *ud) {
    mem_space *s = (mem_space *)s_;
    size_t bytes = 0;
    for (uint64_t i = after > s->trimmed ? after - s->trimmed : 0; i < s->n && bytes < max_bytes;
         i++) {
        int rc = fn(ud, s->trimmed + i + 1, s->recs[i].p, s->recs[i].len);
        if (rc) return rc;
        bytes += s->recs[i].len;
    }
    return 0;
}

static uint64_t mem_head(const relay_space_store *s_) {
    const mem_space *s = (const mem_space *)s_;
    return s->trimmed + s->n;
}

static int mem_flush(relay_store *st) {
    (void)st;
    return 0;
}

/* Nothing to sync: a record is as durable as it gets once appended. */
static int mem_sync_begin(relay_space_store *s, relay_sync_job *job) {
    (void)s, (void)job;
    return 1;
}

static void mem_sync_run(relay_sync_job *job) {
    job->rc = 0;
}

static int mem_sync_end(relay_space_store *s, relay_sync_job *job) {
    (void)s;
    return job->rc;
}

static uint64_t snap_base(const mem_rec *m) {
    uint64_t base;
    const uint8_t *rec;
    size_t len;
    return weft__snap_parse(&base, &rec, &len, m->p, m->len) ? 0 : base;
}

static int mem_snapshot_put(relay_space_store *s_, uint64_t base, const uint8_t *rec, size_t len) {
    mem_space *s = (mem_space *)s_;
    if (s->snaps[0].p && base < snap_base(&s->snaps[0])) return WEFT_ESTATE;
    uint8_t *p = malloc(WEFT__SNAP_HDR + len);
    if (!p) return WEFT_ENOMEM;
    weft__snap_header(p, base, rec, len);
    memcpy(p + WEFT__SNAP_HDR, rec, len);
    mem_rec m = {p, WEFT__SNAP_HDR + len};
    if (s->snaps[0].p && base == snap_base(&s->snaps[0])) {
        free(s->snaps[0].p); /* the same base: the new one replaces it */
    } else {
        free(s->snaps[STORAGE_SNAPSHOTS_KEPT - 1].p);
        memmove(&s->snaps[1], &s->snaps[0], (STORAGE_SNAPSHOTS_KEPT - 1) * sizeof *s->snaps);
    }
    s->snaps[0] = m;
    return 0;
}

static int mem_snapshot_read(relay_space_store *s_, relay_record_fn fn, void *ud, size_t *damaged) {
    mem_space *s = (mem_space *)s_;
    for (size_t i = 0; i < STORAGE_SNAPSHOTS_KEPT && s->snaps[i].p; i++) {
        uint64_t base;
        const uint8_t *rec;
        size_t len;
        if (weft__snap_parse(&base, &rec, &len, s->snaps[i].p, s->snaps[i].len)) {
            (*damaged)++;
            continue;
        }
        int rc = fn(ud, base, rec, len);
        if (rc) return rc;
    }
    return 0;
}

static mem_space *find(mem_store *st, const uint8_t space[32]) {
    mem_space *s = st->spaces;
    while (s && memcmp(s->id, space, 32) != 0)
        s = s->next;
    return s;
}

static int mem_trim_read(relay_store *st, const uint8_t space[32], uint64_t *trimmed,
                         uint8_t **ckpt, size_t *len) {
    mem_space *s = find((mem_store *)st, space);
    *trimmed = 0;
    *ckpt = NULL;
    *len = 0;
    if (!s || !s->ckpt.p) return 0;
    if (!(*ckpt = malloc(s->ckpt.len))) return WEFT_ENOMEM;
    memcpy(*ckpt, s->ckpt.p, s->ckpt.len);
    *len = s->ckpt.len;
    *trimmed = s->trimmed;
    return 0;
}

static uint64_t mem_trim_point(relay_space_store *s_, uint64_t limit) {
    mem_space *s = (mem_space *)s_;
    uint64_t head = s->trimmed + s->n;
    return limit > head ? head : limit < s->trimmed ? s->trimmed : limit;
}

static int mem_trim(relay_space_store *s_, uint64_t upto, const uint8_t *ckpt, size_t len,
                    uint64_t *bytes) {
    mem_space *s = (mem_space *)s_;
    *bytes = 0;
    /* An empty space may move its start anywhere past it: Redis' mirror
     * of a space another relay trimmed starts there. */
    if (upto < s->trimmed || (s->n && upto > s->trimmed + s->n)) return WEFT_EINVAL;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return WEFT_ENOMEM;
    if (len) memcpy(copy, ckpt, len);
    free(s->ckpt.p);
    s->ckpt = (mem_rec){copy, len};
    size_t drop = s->n ? (size_t)(upto - s->trimmed) : 0;
    for (size_t i = 0; i < drop; i++) {
        *bytes += s->recs[i].len;
        free(s->recs[i].p);
    }
    if (s->n > drop) memmove(s->recs, s->recs + drop, (s->n - drop) * sizeof *s->recs);
    s->n -= drop; /* recs may be NULL when empty (Redis' mirror of a trimmed space) */
    s->trimmed = upto;
    return 0;
}

static void free_space(mem_space *s) {
    free(s->ckpt.p);
    for (size_t i = 0; i < STORAGE_SNAPSHOTS_KEPT; i++)
        free(s->snaps[i].p);
    for (size_t i = 0; i < s->n; i++)
        free(s->recs[i].p);
    free(s->recs);
    free(s);
}

static int mem_delete(relay_space_store *s_) {
    mem_space *s = (mem_space *)s_;
    mem_space **pp = &s->st->spaces;
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    free_space(s);
    return 0;
}

static void mem_close_space(relay_space_store *s) {
    (void)s; /* the records stay: memory storage lives as long as the process */
}

static void mem_close(relay_store *st_) {
    mem_store *st = (mem_store *)st_;
    if (!st) return;
    while (st->spaces) {
        mem_space *s = st->spaces;
        st->spaces = s->next;
        free_space(s);
    }
    free(st);
}

static const relay_store_ops mem_ops = {
    .name = "memory",
    .open_space = mem_open,
    .append = mem_append,
    .read = mem_read,
    .head = mem_head,
    .flush = mem_flush,
    .sync_begin = mem_sync_begin,
    .sync_run = mem_sync_run,
    .sync_end = mem_sync_end,
    .delete_space = mem_delete,
    .snapshot_put = mem_snapshot_put,
    .snapshot_read = mem_snapshot_read,
    .trim_read = mem_trim_read,
    .trim_point = mem_trim_point,
    .trim = mem_trim,
    .close_space = mem_close_space,
    .close = mem_close,
};

int relay_store_memory_new(relay_store **out) {
    mem_store *st = calloc(1, sizeof *st);
    if (!st) return WEFT_ENOMEM;
    st->base.ops = &mem_ops;
    *out = &st->base;
    return 0;
}
