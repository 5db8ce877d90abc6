/*
 * Spaces: the per-space log, index and storage of the relay (space.h).
 *
 * A change goes through the same checks a member's replica makes, minus the
 * ones that need the content key: structure, space, the writer's token,
 * signature, then the log rules (chain, fork, clock, dependencies). Only a
 * change the log calls READY is appended; one that waits for a dependency is
 * parked inside the log (bounded) and appended when it becomes ready. The
 * log commit happens right after the append, so the log and the storage
 * never disagree about what is held; durable catches up at the end of the
 * turn (space_flush_all).
 */
#include "space.h"
#include "ingest.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SPACE_MAX_PENDING (16u << 20)

static size_t id_hash(const uint8_t id[32]) {
    /* Space ids and author keys are Ed25519 public keys: uniformly spread
     * bytes, so their first bytes are a good hash already. */
    uint64_t h;
    memcpy(&h, id, 8);
    return (size_t)h;
}

space *space_find(relay *r, const uint8_t id[32]) {
    if (!r->space_cap) return NULL;
    size_t mask = r->space_cap - 1;
    for (size_t i = id_hash(id) & mask;; i = (i + 1) & mask) {
        space *sp = r->space_tab[i];
        if (!sp) return NULL;
        if (memcmp(sp->id, id, 32) == 0) return sp;
    }
}

static int table_insert(relay *r, space *sp) {
    if ((r->m.spaces_open + 1) * 2 > r->space_cap) {
        size_t cap = r->space_cap ? r->space_cap * 2 : 64;
        space **tab = calloc(cap, sizeof *tab);
        if (!tab) return WEFT_ENOMEM;
        for (size_t i = 0; i < r->space_cap; i++) {
            space *o = r->space_tab[i];
            if (!o) continue;
            size_t j = id_hash(o->id) & (cap - 1);
            while (tab[j])
                j = (j + 1) & (cap - 1);
            tab[j] = o;
        }
        free(r->space_tab);
        r->space_tab = tab;
        r->space_cap = cap;
    }
    size_t mask = r->space_cap - 1, j = id_hash(sp->id) & mask;
    while (r->space_tab[j])
        j = (j + 1) & mask;
    r->space_tab[j] = sp;
    r->m.spaces_open++;
    return 0;
}

static void table_remove(relay *r, space *sp) {
    size_t mask = r->space_cap - 1, i = id_hash(sp->id) & mask;
    while (r->space_tab[i] != sp)
        i = (i + 1) & mask;
    r->space_tab[i] = NULL;
    /* Re-insert the rest of the probe run so lookups still find them. */
    for (size_t j = (i + 1) & mask; r->space_tab[j]; j = (j + 1) & mask) {
        space *o = r->space_tab[j];
        r->space_tab[j] = NULL;
        size_t k = id_hash(o->id) & mask;
        while (r->space_tab[k])
            k = (k + 1) & mask;
        r->space_tab[k] = o;
    }
    r->m.spaces_open--;
}

uint32_t space_author_find(const space *sp, const uint8_t key[32]) {
    if (!sp->author_tab_cap) return SPACE_NO_AUTHOR;
    size_t mask = sp->author_tab_cap - 1;
    for (size_t i = id_hash(key) & mask;; i = (i + 1) & mask) {
        uint32_t v = sp->author_tab[i];
        if (!v) return SPACE_NO_AUTHOR;
        if (memcmp(sp->authors[v - 1], key, 32) == 0) return v - 1;
    }
}

static uint32_t author_intern(space *sp, const uint8_t key[32]) {
    uint32_t a = space_author_find(sp, key);
    if (a != SPACE_NO_AUTHOR) return a;
    if (sp->n_authors == sp->cap_authors) {
        size_t cap = sp->cap_authors ? sp->cap_authors * 2 : 16;
        void *p = realloc(sp->authors, cap * 32);
        if (!p) return SPACE_NO_AUTHOR;
        sp->authors = p;
        sp->cap_authors = cap;
    }
    if ((sp->n_authors + 1) * 2 > sp->author_tab_cap) {
        size_t cap = sp->author_tab_cap ? sp->author_tab_cap * 2 : 32;
        uint32_t *tab = calloc(cap, sizeof *tab);
        if (!tab) return SPACE_NO_AUTHOR;
        for (size_t i = 0; i < sp->n_authors; i++) {
            size_t j = id_hash(sp->authors[i]) & (cap - 1);
            while (tab[j])
                j = (j + 1) & (cap - 1);
            tab[j] = (uint32_t)i + 1;
        }
        free(sp->author_tab);
        sp->author_tab = tab;
        sp->author_tab_cap = cap;
    }
    a = (uint32_t)sp->n_authors++;
    memcpy(sp->authors[a], key, 32);
    size_t mask = sp->author_tab_cap - 1, j = id_hash(key) & mask;
    while (sp->author_tab[j])
        j = (j + 1) & mask;
    sp->author_tab[j] = a + 1;
    return a;
}

/* Appends an index entry for the record just given relay sequence n_idx+1. */
static int index_push(space *sp, const weft_change *c, size_t len, uint64_t origin) {
    if (sp->n_idx == sp->cap_idx) {
        size_t cap = sp->cap_idx ? sp->cap_idx * 2 : 256;
        rec_info *p = realloc(sp->idx, cap * sizeof *p);
        if (!p) return WEFT_ENOMEM;
        sp->idx = p;
        sp->cap_idx = cap;
    }
    uint64_t prev = sp->n_idx ? sp->idx[sp->n_idx - 1].cum : 0;
    uint32_t a = c ? author_intern(sp, c->author) : SPACE_NO_AUTHOR;
    sp->idx[sp->n_idx++] = (rec_info){.seq = c ? c->seq : 0,
                                      .cum = prev + len,
                                      .origin = origin,
                                      .author = a,
                                      .len = (uint32_t)len};
    return 0;
}

/* Storage replay at open: the records were checked before they were stored
 * and storage checks their CRC, so only the log rules run again (to rebuild
 * chains and the vector); signatures are not verified twice. */
static int replay_one(void *ud, uint64_t rseq, const uint8_t *rec, size_t len) {
    space *sp = ud;
    weft_change c;
    int ok = weft_change_decode(&c, rec, len) == 0 && c.total_len == len;
    if (ok && weft_log_check(sp->log, &c) == WEFT_LOG_READY) {
        int rc = weft_log_commit(sp->log, &c);
        if (rc) return rc;
    } else {
        relay_log("space=%s rseq=%llu replay: record not ready in the log, kept in the index",
                  sp->hex, (unsigned long long)rseq);
    }
    return index_push(sp, ok ? &c : NULL, len, 0);
}

static void space_free(space *sp) {
    if (!sp) return;
    if (sp->ing) ingest_close(sp);
    if (sp->store) sp->store->store->ops->close_space(sp->store);
    weft_log_free(sp->log);
    free(sp->idx);
    free(sp->authors);
    free(sp->author_tab);
    idem_free(sp->idem);
    free(sp);
}

int space_open(relay *r, const uint8_t id[32], int create, space **out) {
    space *sp = space_find(r, id);
    if (sp) {
        /* With Redis, a space nobody wrote to is one Redis has no head for;
         * that is known once it has loaded (callers wait for loading). */
        if (r->redis && !create && !sp->loading && sp->n_idx == 0) return WEFT_ENOTFOUND;
        *out = sp;
        return 0;
    }
    sp = calloc(1, sizeof *sp);
    if (!sp) return WEFT_ENOMEM;
    sp->r = r;
    memcpy(sp->id, id, 32);
    for (int i = 0; i < 32; i++)
        snprintf(sp->hex + 2 * i, 3, "%02x", id[i]);
    weft_log_config lc = {.space = id, .keep_records = 0, .max_pending_bytes = SPACE_MAX_PENDING};
    int rc = weft_log_new(&sp->log, &lc);
    /* With Redis the store is the memory mirror, filled by the ingest. */
    if (!rc)
        rc = r->store->ops->open_space(r->store, id, create || r->redis, &sp->store,
                                       r->redis ? NULL : replay_one, sp);
    if (!rc) rc = table_insert(r, sp);
    if (!rc && r->redis && (rc = ingest_open(sp)) != 0) table_remove(r, sp);
    if (rc) {
        space_free(sp);
        return rc;
    }
    sp->head = sp->durable = sp->n_idx;
    relay_log("space=%s open records=%zu authors=%zu", sp->hex, sp->n_idx, sp->n_authors);
    *out = sp;
    return 0;
}

static void mark_dirty(space *sp) {
    if (!sp->is_dirty) {
        sp->is_dirty = 1;
        sp->dirty_next = sp->r->dirty;
        sp->r->dirty = sp;
    }
}

/* Redis: commits a READY change to the log and queues it for this turn's
 * append; the relay sequence comes with Redis' answer (ACK_PENDING). */
static int queue_ready(space *sp, const weft_change *c, uint64_t origin, uint64_t *slot) {
    uint8_t hash[32];
    weft_change_hash(hash, c);
    uint32_t k;
    int rc = ingest_queue(sp, c->record, c->total_len, hash, origin, &k);
    if (!rc) rc = weft_log_commit(sp->log, c);
    *slot = k;
    return rc;
}

/* Appends a READY change, commits it to the log, indexes it. */
static int store_ready(space *sp, const weft_change *c, uint64_t origin, uint64_t *rseq) {
    if (sp->r->redis) return queue_ready(sp, c, origin, rseq);
    const uint8_t *recs[1] = {c->record};
    size_t lens[1] = {c->total_len};
    int rc = sp->store->store->ops->append(sp->store, recs, lens, 1, rseq);
    if (rc) return rc;
    assert(*rseq == sp->n_idx + 1);
    rc = weft_log_commit(sp->log, c);
    if (!rc) rc = index_push(sp, c, c->total_len, origin);
    if (rc) return rc;
    sp->head = *rseq;
    sp->r->m.changes_stored++;
    mark_dirty(sp);
    return 0;
}

/* Parked changes that the last commit made ready: check and store them. */
static int release_parked(space *sp) {
    const uint8_t *rec;
    size_t len;
    while (weft_log_next_ready(sp->log, &rec, &len)) {
        weft_change c;
        if (weft_change_decode(&c, rec, len)) continue;
        if (weft_log_check(sp->log, &c) != WEFT_LOG_READY) continue;
        uint64_t rseq;
        int rc = store_ready(sp, &c, 0, &rseq);
        if (rc) return rc;
    }
    return 0;
}

int space_submit(space *sp, const uint8_t *rec, size_t len, const weft_token *tok, uint64_t now,
                 uint64_t origin, uint8_t *status, uint64_t *value) {
    relay *r = sp->r;
    weft_change c;
    uint32_t why = 0;
    *status = WEFT_ACK_REJECTED;
    *value = 0;
    r->m.changes_in++;
    /* A duplicate is a no-op whoever sends it (a member may forward others'
     * changes it got from a peer), so it is recognized before the rights
     * and signature checks; the log compares whole-record hashes, so it is
     * exactly a record already verified and stored. */
    int rc = WEFT_EMALFORMED;
    if (weft_change_decode(&c, rec, len) || c.total_len != len)
        why = WEFT_PROTO_EBAD_CHANGE;
    else if (memcmp(c.space, sp->id, 32) != 0)
        why = WEFT_PROTO_EWRONG_SPACE;
    else if ((rc = weft_log_check(sp->log, &c)) == WEFT_LOG_DUPLICATE)
        why = 0;
    else if (tok && weft_token_allows(tok, c.author, WEFT_RIGHT_WRITE))
        why = WEFT_PROTO_ERIGHTS;
    else if (tok && (now < tok->not_before || (tok->expires && now >= tok->expires)))
        why = WEFT_PROTO_EEXPIRED;
    else if (c.suite != WEFT_SUITE_V1 || weft_change_verify(&r->be, &c))
        why = WEFT_PROTO_EBAD_SIGNATURE;
    if (why) {
        *value = why;
        relay_reject(r, why);
        return 0;
    }
    switch (rc) {
    case WEFT_LOG_READY: {
        uint64_t rseq;
        rc = store_ready(sp, &c, origin, &rseq);
        if (rc) return rc;
        *status = r->redis ? ACK_PENDING : WEFT_ACK_STORED;
        *value = rseq;
        return release_parked(sp);
    }
    case WEFT_LOG_DUPLICATE:
        if (r->redis && ingest_dup_needs_redis(sp)) {
            /* Held locally, but maybe not confirmed by Redis yet: let
             * Redis answer (it dedupes by hash). */
            uint8_t hash[32];
            uint32_t k;
            weft_change_hash(hash, &c);
            rc = ingest_queue(sp, rec, len, hash, origin, &k);
            if (rc) return rc;
            *status = ACK_PENDING;
            *value = k;
            return 0;
        }
        *status = WEFT_ACK_DUPLICATE;
        r->m.changes_dup++;
        return 0;
    case WEFT_LOG_WAITING:
        rc = weft_log_park(sp->log, &c);
        if (rc == 0 || rc == WEFT_LOG_DUPLICATE) {
            *status = WEFT_ACK_PARKED;
            return 0;
        }
        why = rc == WEFT_EPENDING_FULL ? WEFT_PROTO_EPENDING_FULL
              : rc == WEFT_EFORK       ? WEFT_PROTO_ECHAIN
                                       : WEFT_PROTO_EINTERNAL;
        break;
    case WEFT_ESPACE:
        why = WEFT_PROTO_EWRONG_SPACE;
        break;
    default: /* FORK, CHAIN, CLOCK */
        why = WEFT_PROTO_ECHAIN;
        break;
    }
    *value = why;
    relay_reject(r, why);
    return 0;
}

int space_ingest(space *sp, uint64_t rseq, const uint8_t *rec, size_t len, uint64_t origin) {
    assert(rseq == sp->n_idx + 1);
    const uint8_t *recs[1] = {rec};
    size_t lens[1] = {len};
    uint64_t first;
    int rc = sp->store->store->ops->append(sp->store, recs, lens, 1, &first);
    if (rc) return rc;
    assert(first == rseq);
    /* Another relay's change is new to the log; this relay's own ones were
     * committed when they were queued (DUPLICATE here). */
    weft_change c;
    int ok = weft_change_decode(&c, rec, len) == 0 && c.total_len == len;
    int st = ok ? weft_log_check(sp->log, &c) : WEFT_EMALFORMED;
    if (st == WEFT_LOG_READY) {
        rc = weft_log_commit(sp->log, &c);
        if (!rc) rc = release_parked(sp);
        if (rc) return rc;
    } else if (st != WEFT_LOG_DUPLICATE) {
        relay_log("space=%s rseq=%llu ingest: record not ready in the log, kept in the index",
                  sp->hex, (unsigned long long)rseq);
    }
    rc = index_push(sp, ok ? &c : NULL, len, origin);
    if (rc) return rc;
    sp->head = sp->durable = rseq; /* read from Redis: durable there */
    mark_dirty(sp);
    return 0;
}

void space_drop(relay *r, space *sp, uint32_t code, const char *why) {
    relay_log("space=%s dropped: %s", sp->hex, why);
    r->m.redis_spaces_dropped++;
    space_closing(sp, code);
    if (sp->is_dirty) {
        space **pp = &r->dirty;
        while (*pp != sp)
            pp = &(*pp)->dirty_next;
        *pp = sp->dirty_next;
    }
    table_remove(r, sp);
    /* The mirror goes too: the next load fills a fresh one. */
    sp->store->store->ops->delete_space(sp->store);
    sp->store = NULL;
    space_free(sp);
}

int space_flush_all(relay *r, space **woken) {
    *woken = NULL;
    if (!r->dirty) return 0;
    uint64_t t0 = relay_now_us();
    int rc = r->store->ops->flush(r->store);
    relay_metrics_fsync(r, (double)(relay_now_us() - t0) / 1e6);
    if (rc) return rc;
    *woken = r->dirty;
    for (space *sp = r->dirty; sp; sp = sp->dirty_next) {
        sp->durable = sp->head;
        sp->is_dirty = 0;
    }
    r->dirty = NULL;
    return 0;
}

void space_closing(space *sp, uint32_t code) {
    sp->r->space_ev.closing(sp->r->space_ev.ud, sp, code);
}

int space_delete(relay *r, space *sp) {
    space_closing(sp, WEFT_PROTO_ENOT_FOUND);
    if (sp->is_dirty) { /* unlink from the dirty list */
        space **pp = &r->dirty;
        while (*pp != sp)
            pp = &(*pp)->dirty_next;
        *pp = sp->dirty_next;
    }
    table_remove(r, sp);
    int rc = sp->store->store->ops->delete_space(sp->store);
    sp->store = NULL;
    relay_log("space=%s deleted", sp->hex);
    space_free(sp);
    return rc;
}

void space_close_all(relay *r) {
    for (size_t i = 0; i < r->space_cap; i++)
        space_free(r->space_tab[i]);
    free(r->space_tab);
    r->space_tab = NULL;
    r->space_cap = 0;
    r->m.spaces_open = 0;
}

void space_batch_unref(struct append_batch *b) {
    batch_unref(b);
}
