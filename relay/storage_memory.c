/*
 * Memory storage: records live in the heap and vanish with the process.
 * For tests and throwaway relays. "Durable" here means only "appended":
 * flush has nothing to do. Records are copied one allocation each, indexed
 * by relay sequence in a growable array.
 */
#include "storage.h"

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
        int rc = fn(ud, i + 1, s->recs[i].p, s->recs[i].len);
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
    *first = s->n + 1;
    s->n += n;
    return 0;
}

static int mem_read(relay_space_store *s_, uint64_t after, size_t max_bytes, relay_record_fn fn,
                    void *ud) {
    mem_space *s = (mem_space *)s_;
    size_t bytes = 0;
    for (uint64_t i = after; i < s->n && bytes < max_bytes; i++) {
        int rc = fn(ud, i + 1, s->recs[i].p, s->recs[i].len);
        if (rc) return rc;
        bytes += s->recs[i].len;
    }
    return 0;
}

static uint64_t mem_head(const relay_space_store *s_) {
    return ((const mem_space *)s_)->n;
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

static void free_space(mem_space *s) {
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
