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
 * turn, when storage says the turn's batch is durable.
 */
#include "space.h"
#include "weft/members.h"

#include "blobs.h"
#include "hex.h"
#include "snapfile.h"
#include "trimfile.h"
#include "vec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SPACE_MAX_PENDING (16u << 20)

/* Space ids and author keys are chosen by whoever is on the other end of
 * the wire, so both tables are common/idtable's: SipHash under a secret
 * per-table key, which nobody can aim colliding ids at. */
space *space_find(relay *r, const uint8_t id[32]) {
    space *sp = weft__idtab_get(&r->spaces, id);
    if (sp) sp->used_us = relay_now_us();
    return sp;
}

static int table_insert(relay *r, space *sp) {
    int rc = weft__idtab_put(&r->spaces, sp->id, sp, NULL);
    if (!rc) r->m.spaces_open++;
    return rc;
}

static void table_remove(relay *r, space *sp) {
    if (weft__idtab_del(&r->spaces, sp->id)) r->m.spaces_open--;
}

uint32_t space_author_find(const space *sp, const uint8_t key[32]) {
    void *v = weft__idtab_get(&sp->author_tab, key);
    return v ? (uint32_t)((uintptr_t)v - 1) : SPACE_NO_AUTHOR;
}

static uint32_t author_intern(space *sp, const uint8_t key[32]) {
    uint32_t a = space_author_find(sp, key);
    if (a != SPACE_NO_AUTHOR) return a;
    void *g = weft__vec_grow(sp->authors, &sp->cap_authors, sp->n_authors + 1, 32, 16);
    if (!g) return SPACE_NO_AUTHOR;
    sp->authors = g;
    a = (uint32_t)sp->n_authors;
    if (weft__idtab_put(&sp->author_tab, key, (void *)((uintptr_t)a + 1), NULL))
        return SPACE_NO_AUTHOR;
    memcpy(sp->authors[a], key, 32);
    sp->n_authors++;
    return a;
}

/* Appends an index entry for the record just given the next relay
 * sequence; time_s: when it was stored (0: unknown). */
static int index_push(space *sp, const weft_change *c, const uint8_t *rec, size_t len,
                      uint64_t origin, uint64_t time_s) {
    rec_info *g = weft__vec_grow(sp->idx, &sp->cap_idx, sp->n_idx + 1, sizeof *g, 256);
    if (!g) return WEFT_ENOMEM;
    sp->idx = g;
    uint64_t prev = sp->n_idx ? sp->idx[sp->n_idx - 1].cum : 0;
    uint32_t a = c ? author_intern(sp, c->author) : SPACE_NO_AUTHOR;
    sp->idx[sp->n_idx++] =
        (rec_info){.seq = c ? c->seq : 0,
                   .cum = prev + len,
                   .origin = origin,
                   .author = a,
                   .kind = len >= 2 ? rec[1] : 0,
                   .len = (uint32_t)len,
                   .time_s = (uint32_t)(time_s > UINT32_MAX ? UINT32_MAX : time_s)};
    return 0;
}

static int release_parked(space *sp);

/* A record storage holds now, in relay-sequence order (storage_events):
 * the change being appended right now (local storage tells at once; the
 * log commits it when append returns), or one replayed at open or
 * appended through another relay, or this relay's own read back from
 * shared storage. Records in storage were checked before they were stored
 * (and storage checks their CRC), so only the log rules run again (to
 * rebuild chains and the vector); signatures are not verified twice. */
static int on_record(void *ud, uint64_t rseq, const uint8_t *rec, size_t len, uint64_t origin) {
    space *sp = ud;
    assert(rseq == sp->trimmed + sp->n_idx + 1);
    int rc;
    weft_level lv;
    if (len >= 2 && rec[1] == WEFT_RECORD_LEVEL) {
        /* A level record (FORMAT.md §10): no author's chain, so it has no
         * place in the log; the index keeps it (author unknown) so that it
         * reaches every member. The level rises before the record is
         * durable, so clients that read less are refused before it could
         * ever be sent to them. */
        if (weft_level_decode(&lv, rec, len) == 0 && memcmp(lv.space, sp->id, 32) == 0) {
            if (lv.level > sp->level) {
                sp->level = lv.level;
                relay_log("space=%s format level %u", sp->hex, lv.level);
                if (sp->r->space_ev.level) sp->r->space_ev.level(sp->r->space_ev.ud, sp, lv.level);
            }
        } else {
            relay_log("space=%s rseq=%llu: unreadable level record, kept in the index", sp->hex,
                      (unsigned long long)rseq);
        }
        rc = index_push(sp, NULL, rec, len, origin, 0);
    } else if (len >= 2 && WEFT_RECORD_IS_MEMBERSHIP(rec[1])) {
        /* A membership record (weft/members.h): checked by
         * weft_members_admit before it was stored (this relay's own is held
         * already); on replay, folded again. Like a level record it has no
         * author's chain, and the index sends it to members who read it. */
        int st = 0;
        rc = weft_members_add(sp->members, &sp->r->be, rec, len, &st);
        if (rc && rc != WEFT_ENOMEM) {
            relay_log("space=%s rseq=%llu: unreadable membership record (%s), kept in the index",
                      sp->hex, (unsigned long long)rseq, weft_err_name(rc));
            rc = 0;
        }
        if (!rc) rc = index_push(sp, NULL, rec, len, origin, 0);
        if (!rc && !st && rec[1] == WEFT_RECORD_REVOKE && sp->r->space_ev.revoked) {
            weft_member_record mr;
            if (weft_member_record_decode(&mr, rec, len) == 0)
                sp->r->space_ev.revoked(sp->r->space_ev.ud, sp, mr.member);
        }
    } else if (sp->appending && sp->appending->record == rec) {
        rc = index_push(sp, sp->appending, rec, len, origin, relay_unix_s());
    } else {
        weft_change c;
        int ok = weft_change_decode(&c, rec, len) == 0 && c.total_len == len;
        int st = ok ? weft_log_check(sp->log, &c) : WEFT_EMALFORMED;
        if (st == WEFT_LOG_READY) {
            rc = weft_log_commit(sp->log, &c);
            if (!rc) rc = release_parked(sp);
            if (rc) return rc;
        } else if (st != WEFT_LOG_DUPLICATE) { /* duplicate: this relay's own, committed */
            relay_log("space=%s rseq=%llu: record not ready in the log, kept in the index", sp->hex,
                      (unsigned long long)rseq);
        }
        /* Its age for --keep-history: the author's clock, never ahead of
         * now (a record replayed at open has no other). */
        uint64_t now = relay_unix_s(), t = ok ? c.wall_ms / 1000 : 0;
        rc = index_push(sp, ok ? &c : NULL, rec, len, origin, t < now ? t : now);
    }
    if (!rc) sp->head = rseq;
    return rc;
}

static void mark_woken(space *sp) {
    if (!sp->is_woken) {
        sp->is_woken = 1;
        sp->woken_next = sp->r->woken;
        sp->r->woken = sp;
    }
}

static void unlink_woken(space *sp) {
    if (!sp->is_woken) return;
    space **pp = &sp->r->woken;
    while (*pp != sp)
        pp = &(*pp)->woken_next;
    *pp = sp->woken_next;
    sp->is_woken = 0;
}

static void on_durable(void *ud, uint64_t rseq) {
    space *sp = ud;
    assert(rseq <= sp->head);
    if (rseq <= sp->durable) return;
    sp->durable = rseq;
    mark_woken(sp);
}

static void on_lost(void *ud, uint32_t code, const char *why) {
    space_drop(ud, code, why);
}

static void on_unthrottle(void *ud) {
    space *sp = ud;
    sp->r->space_ev.unthrottle(sp->r->space_ev.ud, sp);
}

static int by_key(const void *a, const void *b) {
    return memcmp(((const weft__trim_author *)a)->key, ((const weft__trim_author *)b)->key, 32);
}

/* The space was trimmed (storage_events.trimmed, inside open, before any
 * record): its log starts from each author's chain head at the cut. */
static int on_trimmed(void *ud, uint64_t trimmed, const uint8_t *ckpt, size_t len) {
    space *sp = ud;
    uint64_t t;
    size_t n;
    if (weft__trim_parse(&t, &n, ckpt, len) || t != trimmed) return WEFT_EMALFORMED;
    weft__trim_author *a = calloc(n ? n : 1, sizeof *a);
    if (!a) return WEFT_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        weft__trim_author_get(&a[i], ckpt, i);
        rc = weft_log_restore(sp->log, a[i].key, a[i].seq, a[i].hash, a[i].lamport_end);
        if (!rc && author_intern(sp, a[i].key) == SPACE_NO_AUTHOR) rc = WEFT_ENOMEM;
    }
    if (rc) {
        free(a);
        return rc;
    }
    free(sp->ckpt);
    sp->ckpt = a;
    sp->n_ckpt = n;
    sp->trimmed = sp->head = trimmed;
    if (sp->durable < trimmed) sp->durable = trimmed; /* what was cut was durable */
    return 0;
}

static const storage_events space_storage_events = {on_record, on_durable, on_lost, on_unthrottle,
                                                    on_trimmed};

static void space_free(space *sp) {
    if (!sp) return;
    if (sp->st) sp->st->st->ops->close(sp->st);
    weft_log_free(sp->log);
    weft_members_free(sp->members);
    free(sp->idx);
    free(sp->ckpt);
    free(sp->authors);
    weft__idtab_free(&sp->author_tab);
    idem_free(sp->idem);
    free(sp);
}

uint64_t space_bytes_used(const space *sp) {
    return (sp->n_idx ? sp->idx[sp->n_idx - 1].cum : 0) + sp->blob_bytes;
}

int space_open(relay *r, const uint8_t id[32], int create, space **out) {
    space *sp = space_find(r, id);
    if (sp) {
        if (!create && sp->st->st->ops->absent(sp->st)) return WEFT_ENOTFOUND;
        *out = sp;
        return 0;
    }
    sp = calloc(1, sizeof *sp);
    if (!sp) return WEFT_ENOMEM;
    sp->r = r;
    sp->level = 1;
    memcpy(sp->id, id, 32);
    weft__hex_encode(sp->hex, sizeof sp->hex, id, 32);
    weft__idtab_init(&sp->author_tab, r->hash_seed);
    weft_log_config lc = {.space = id,
                          .keep_records = 0,
                          .max_pending_bytes = SPACE_MAX_PENDING,
                          .hash_key = r->hash_seed};
    int rc = weft_log_new(&sp->log, &lc);
    if (!rc) rc = weft_members_new(&sp->members, id, NULL);
    if (!rc) rc = r->storage->ops->open(r->storage, id, create, &space_storage_events, sp, &sp->st);
    if (!rc) rc = table_insert(r, sp);
    if (rc) {
        space_free(sp);
        return rc;
    }
    sp->durable = sp->head;
    sp->used_us = relay_now_us();
    if (r->blobs) sp->blob_bytes = blobs_space_bytes(r->blobs, id);
    relay_log("space=%s open records=%zu authors=%zu trimmed=%llu", sp->hex, sp->n_idx,
              sp->n_authors, (unsigned long long)sp->trimmed);
    *out = sp;
    return 0;
}

int space_wait(space *sp, int fresh, waiter **slot, relay_answer_fn fn, void *ud) {
    return sp->st->st->ops->wait(sp->st, fresh, slot, fn, ud);
}

/* Stores a READY change: storage first (it may refuse), then the log. The
 * answer waits for the turn's batch (ACK_PENDING, *slot its entry). */
static int store_ready(space *sp, const weft_change *c, uint64_t origin, uint64_t *slot) {
    uint8_t hash[32];
    weft_change_hash(hash, c);
    uint32_t k;
    sp->appending = c;
    int rc = sp->st->st->ops->append(sp->st, c->record, c->total_len, hash, origin, &k);
    sp->appending = NULL;
    if (!rc) rc = weft_log_commit(sp->log, c);
    *slot = k;
    return rc;
}

/* Parked changes that the last commit made ready: check and store them. */
static int release_parked(space *sp) {
    const uint8_t *rec;
    size_t len;
    while (weft_log_next_ready(sp->log, &rec, &len)) {
        weft_change c;
        if (weft_change_decode(&c, rec, len)) continue;
        if (weft_log_check(sp->log, &c) != WEFT_LOG_READY) continue;
        uint64_t slot;
        int rc = store_ready(sp, &c, 0, &slot);
        if (rc) return rc;
    }
    return 0;
}

/* A level record from a client reading up to client_level: checked like a
 * token (no content key needed), stored when it raises the space's level. */
static int submit_level(space *sp, const uint8_t *rec, size_t len, uint32_t client_level,
                        uint64_t origin, uint8_t *status, uint64_t *value) {
    relay *r = sp->r;
    weft_level lv;
    int rc = weft_level_verify(&r->be, rec, len, sp->id, &lv);
    uint32_t why = 0;
    if (rc == WEFT_ESPACE)
        why = WEFT_PROTO_EWRONG_SPACE;
    else if (rc == WEFT_ECRYPTO)
        why = WEFT_PROTO_EBAD_SIGNATURE;
    else if (rc == WEFT_ERIGHTS || rc == WEFT_EDELEGATION)
        why = WEFT_PROTO_ERIGHTS;
    else if (rc == WEFT_EEXPIRED || rc == WEFT_ENOTYET)
        why = WEFT_PROTO_EEXPIRED;
    else if (rc == WEFT_EVERSION)
        why = WEFT_PROTO_EVERSION;
    else if (rc)
        why = WEFT_PROTO_EBAD_CHANGE;
    /* Neither this relay (--format-level, held back during a rolling
     * upgrade) nor the sender may raise the space past what it reads. */
    else if (lv.level > r->cfg.format_level || lv.level > client_level)
        why = WEFT_PROTO_EVERSION;
    if (why) {
        *value = why;
        relay_reject(r, why);
        return 0;
    }
    if (lv.level <= sp->level) { /* says nothing new */
        *status = WEFT_ACK_DUPLICATE;
        r->m.changes_dup++;
        return 0;
    }
    uint8_t hash[32];
    uint32_t k;
    weft_blake2b(hash, 32, rec, len);
    rc = sp->st->st->ops->append(sp->st, rec, len, hash, origin, &k);
    if (rc) return rc;
    *status = ACK_PENDING;
    *value = k;
    return 0;
}

/* The protocol error a membership refusal is answered with. */
static uint32_t member_refusal(int rc) {
    switch (rc) {
    case WEFT_ESPACE:
        return WEFT_PROTO_EWRONG_SPACE;
    case WEFT_ECRYPTO:
        return WEFT_PROTO_EBAD_SIGNATURE;
    case WEFT_ENOTADMIN:
        return WEFT_PROTO_ENOT_ADMIN;
    case WEFT_EFORGED:
        return WEFT_PROTO_EFORGED;
    case WEFT_EOUTLIVES:
        return WEFT_PROTO_EOUTLIVES;
    case WEFT_EREPLAY:
        return WEFT_PROTO_EREPLAY;
    case WEFT_EWRONGMEMBER:
        return WEFT_PROTO_EWRONG_MEMBER;
    case WEFT_EREVOKED:
        return WEFT_PROTO_EREVOKED;
    case WEFT_EEXPIRED:
        return WEFT_PROTO_EEXPIRED;
    default:
        return WEFT_PROTO_EBAD_CHANGE;
    }
}

/* A membership record: checked without the content key against the
 * records held (weft_members_admit: signature, the issuer's authority, the
 * rules), then stored. A refusal changes nothing held. */
static int submit_member(space *sp, const uint8_t *rec, size_t len, uint64_t origin,
                         uint8_t *status, uint64_t *value) {
    relay *r = sp->r;
    uint8_t hash[32];
    weft_blake2b(hash, 32, rec, len);
    if (weft_members_status(sp->members, hash) == 0) { /* held and counting */
        *status = WEFT_ACK_DUPLICATE;
        r->m.changes_dup++;
        return 0;
    }
    int rc = weft_members_admit(sp->members, &r->be, rec, len);
    if (rc == WEFT_ENOMEM) return rc;
    if (rc) {
        *value = member_refusal(rc);
        relay_reject(r, (uint32_t)*value);
        return 0;
    }
    uint32_t k;
    rc = sp->st->st->ops->append(sp->st, rec, len, hash, origin, &k);
    if (rc) return rc;
    *status = ACK_PENDING;
    *value = k;
    return 0;
}

int space_key_revoked(const space *sp, const uint8_t key[32]) {
    uint8_t rights;
    return weft_members_rights(sp->members, key, 0, &rights, NULL) == WEFT_EREVOKED;
}

int space_submit(space *sp, const uint8_t *rec, size_t len, const weft_token *tok, uint64_t now,
                 uint64_t origin, uint32_t client_level, uint8_t *status, uint64_t *value) {
    relay *r = sp->r;
    if (len >= 2 && rec[1] == WEFT_RECORD_LEVEL) {
        *status = WEFT_ACK_REJECTED;
        *value = 0;
        r->m.changes_in++;
        return submit_level(sp, rec, len, client_level, origin, status, value);
    }
    if (len >= 2 && WEFT_RECORD_IS_MEMBERSHIP(rec[1])) {
        *status = WEFT_ACK_REJECTED;
        *value = 0;
        r->m.changes_in++;
        return submit_member(sp, rec, len, origin, status, value);
    }
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
    /* A removed author's changes count up to its revocation's last_seq,
     * here as on every replica (SECURITY.md "Members"), whoever sends them. */
    else if (weft_members_change_counts(sp->members, c.author, c.seq))
        why = WEFT_PROTO_EREVOKED;
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
        /* The quota is checked when a change is stored from a frame or a
         * POST; changes released from the parked set may pass it by at most
         * the parked bound (SPACE_MAX_PENDING). */
        uint64_t quota = sp->quota_bytes ? sp->quota_bytes : r->cfg.space_bytes;
        if (quota && space_bytes_used(sp) + len > quota) {
            *value = WEFT_PROTO_EQUOTA;
            relay_reject(r, WEFT_PROTO_EQUOTA);
            r->m.limited[RL_SPACE_BYTES]++;
            return 0;
        }
        rc = store_ready(sp, &c, origin, value);
        if (rc) return rc;
        *status = ACK_PENDING;
        return release_parked(sp);
    }
    case WEFT_LOG_DUPLICATE: {
        /* Held, but maybe not durable yet: then the answer waits for the
         * appends in flight. */
        uint8_t hash[32];
        uint32_t k;
        weft_change_hash(hash, &c);
        rc = sp->st->st->ops->append_dup(sp->st, rec, len, hash, origin, &k);
        if (rc < 0) return rc;
        if (rc) {
            *status = ACK_PENDING;
            *value = k;
            return 0;
        }
        *status = WEFT_ACK_DUPLICATE;
        r->m.changes_dup++;
        return 0;
    }
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

storage_batch *space_batch(space *sp) {
    return sp->st->st->ops->batch(sp->st);
}

int space_throttled(const space *sp) {
    return sp->st->st->ops->throttled(sp->st);
}

int space_read(space *sp, uint64_t after, size_t max_bytes, relay_record_fn fn, void *ud) {
    return sp->st->st->ops->read(sp->st, after, max_bytes, fn, ud);
}

void space_drop(space *sp, uint32_t code, const char *why) {
    relay *r = sp->r;
    relay_log("space=%s dropped: %s", sp->hex, why);
    r->m.redis_spaces_dropped++;
    space_closing(sp, code);
    unlink_woken(sp);
    table_remove(r, sp);
    space_free(sp); /* closing its storage drops what this relay held of it */
}

space *space_take_woken(relay *r) {
    space *list = r->woken;
    for (space *sp = list; sp; sp = sp->woken_next)
        sp->is_woken = 0;
    r->woken = NULL;
    return list;
}

void space_closing(space *sp, uint32_t code) {
    sp->r->space_ev.closing(sp->r->space_ev.ud, sp, code);
}

int space_delete(space *sp, waiter **slot, relay_answer_fn fn, void *ud) {
    relay *r = sp->r;
    space_closing(sp, WEFT_PROTO_ENOT_FOUND);
    unlink_woken(sp);
    table_remove(r, sp);
    int rc = sp->st->st->ops->remove(sp->st, slot, fn, ud);
    sp->st = NULL;
    relay_log("space=%s deleted", sp->hex);
    space_free(sp);
    return rc;
}

void space_expire_parked(relay *r) {
    for (size_t i = 0; i < r->spaces.cap; i++) {
        space *sp = r->spaces.slots[i].val;
        if (sp) r->m.parked_expired += weft_log_expire_parked(sp->log);
    }
}

void space_forget_soon(space *sp) {
    sp->used_us = 0;
}

static int space_idle(const space *sp, uint64_t now_us, uint64_t idle_us) {
    return sp->n_sessions == 0 && sp->n_subs == 0 && !sp->is_woken && sp->durable == sp->head &&
           weft_log_pending_count(sp->log) == 0 && now_us - sp->used_us >= idle_us;
}

void space_unload_idle(relay *r, uint64_t now_us) {
    if (r->cfg.idle_unload_secs <= 0 || strcmp(r->cfg.storage, "memory") == 0) return;
    /* Batches in flight (Redis) may belong to any space: wait for them. */
    if (r->storage->ops->busy(r->storage)) return;
    uint64_t idle_us = (uint64_t)r->cfg.idle_unload_secs * 1000000u;
    space *idle[SPACE_UNLOAD_MAX];
    size_t n = 0;
    /* Collected first: removing from the table while walking it could move
     * entries past the walk. */
    for (size_t i = 0; i < r->spaces.cap && n < SPACE_UNLOAD_MAX; i++) {
        space *sp = r->spaces.slots[i].val;
        if (sp && space_idle(sp, now_us, idle_us)) idle[n++] = sp;
    }
    for (size_t i = 0; i < n; i++) {
        if (idle[i]->used_us)
            relay_log("space=%s unloaded after %d s idle", idle[i]->hex, r->cfg.idle_unload_secs);
        else
            relay_log("space=%s let go: storage holds nothing for it", idle[i]->hex);
        table_remove(r, idle[i]);
        space_free(idle[i]);
        r->m.spaces_unloaded++;
    }
}

void space_close_all(relay *r) {
    for (size_t i = 0; i < r->spaces.cap; i++)
        space_free(r->spaces.slots[i].val);
    weft__idtab_free(&r->spaces);
    weft__idtab_init(&r->spaces, r->hash_seed);
    r->m.spaces_open = 0;
}

/* ---- sealed snapshots ---- */

static uint32_t snap_refuse(space *sp, int reason, uint32_t code) {
    sp->r->m.snapshots_refused[reason]++;
    return code;
}

uint32_t space_snapshot_check(space *sp, const uint8_t *rec, size_t len, size_t max,
                              const weft_token *tok, const uint8_t *prover, uint64_t *base) {
    relay *r = sp->r;
    if (len > max) return snap_refuse(sp, RELAY_SNAP_TOO_BIG, WEFT_PROTO_ETOO_BIG);
    weft_snapshot_header h;
    int rc = weft_snapshot_verify(&r->be, sp->id, rec, len, &h);
    if (rc == WEFT_ESPACE) return snap_refuse(sp, RELAY_SNAP_SPACE, WEFT_PROTO_EWRONG_SPACE);
    if (rc == WEFT_ESIGNATURE)
        return snap_refuse(sp, RELAY_SNAP_SIGNATURE, WEFT_PROTO_EBAD_SIGNATURE);
    if (rc == WEFT_ETOOBIG) return snap_refuse(sp, RELAY_SNAP_TOO_BIG, WEFT_PROTO_ETOO_BIG);
    if (rc) return snap_refuse(sp, RELAY_SNAP_MALFORMED, WEFT_PROTO_EBAD_SNAPSHOT);
    /* Only admins publish (SECURITY.md): a sealed state is a claim nobody
     * without the history can check. */
    if (weft_token_allows(tok, h.publisher, WEFT_RIGHT_ADMIN) ||
        (prover && memcmp(prover, h.publisher, 32) != 0))
        return snap_refuse(sp, RELAY_SNAP_RIGHTS, WEFT_PROTO_ERIGHTS);
    if (weft_log_covers(sp->log, h.vv, h.vv_len))
        return snap_refuse(sp, RELAY_SNAP_UNCOVERED, WEFT_PROTO_EUNCOVERED);
    /* What the vector covers, per author index of this space. */
    uint64_t *cov = calloc(sp->n_authors ? sp->n_authors : 1, sizeof *cov);
    if (!cov) return WEFT_PROTO_EINTERNAL;
    size_t pos = 0;
    const uint8_t *author;
    uint64_t seq;
    while (weft_vv_next(h.vv, h.vv_len, &pos, &author, &seq)) {
        uint32_t a = space_author_find(sp, author);
        if (a != SPACE_NO_AUTHOR) cov[a] = seq;
    }
    /* Every change the vector names must be durable too: a snapshot stored
     * before them could outlive them in a crash, and name changes the
     * relay no longer holds. They are the last few records at most; the
     * publisher retries once they are acked. */
    for (uint64_t i = sp->durable; i < sp->head; i++) {
        const rec_info *ri = space_rec(sp, i + 1);
        if (ri->author != SPACE_NO_AUTHOR && ri->seq <= cov[ri->author]) {
            free(cov);
            return snap_refuse(sp, RELAY_SNAP_UNCOVERED, WEFT_PROTO_EUNCOVERED);
        }
    }
    /* The trimmed prefix counts as covered only when the vector covers
     * every author's head at the cut; else the base is 0 (stale). */
    int covers_trim = 1;
    for (size_t i = 0; i < sp->n_ckpt && covers_trim; i++) {
        uint32_t a = space_author_find(sp, sp->ckpt[i].key);
        covers_trim = a != SPACE_NO_AUTHOR && cov[a] >= sp->ckpt[i].seq;
    }
    uint64_t b = covers_trim ? sp->trimmed : 0;
    while (covers_trim && b < sp->durable) {
        const rec_info *ri = space_rec(sp, b + 1);
        if (ri->author == SPACE_NO_AUTHOR || ri->seq > cov[ri->author]) break;
        b++;
    }
    free(cov);
    *base = b;
    return 0;
}

int space_snapshot_put(space *sp, uint64_t base, const uint8_t *tok, size_t tok_len,
                       const uint8_t *rec, size_t len, waiter **slot, relay_answer_fn fn,
                       void *ud) {
    assert(tok_len <= WEFT_PROTO_MAX_TOKEN);
    uint8_t *body = malloc(2 + tok_len + len);
    if (!body) return WEFT_ENOMEM;
    weft__snap_body(body, tok, tok_len, rec, len);
    int rc = sp->st->st->ops->snapshot_put(sp->st, base, body, 2 + tok_len + len, slot, fn, ud);
    free(body);
    if (rc == WEFT_ESTATE) snap_refuse(sp, RELAY_SNAP_STALE, 0);
    if (rc == 0) {
        sp->snap_base = base;
        sp->snap_known = 1;
        space_trim(sp, relay_now_us()); /* counted and logged; the upload stands either way */
    }
    return rc;
}

typedef struct snap_pick {
    space *sp;
    uint8_t *body;
    size_t len;
    uint64_t base;
} snap_pick;

static int snap_take(void *ud, uint64_t base, const uint8_t *body, size_t len) {
    snap_pick *p = ud;
    const uint8_t *tok, *rec;
    size_t tl, rl;
    /* One whose tail is trimmed cannot be joined from: skipped (not
     * damaged; an older one kept beside a newer that passed). */
    if (base < p->sp->trimmed) return 0;
    /* Checked again on the way out: a file that passed its CRC but not the
     * signature was altered with its CRC, or written by a bug. */
    if (weft__snap_body_split(&tok, &tl, &rec, &rl, body, len) ||
        weft_snapshot_verify(&p->sp->r->be, p->sp->id, rec, rl, NULL)) {
        p->sp->r->m.snapshots_damaged++;
        return 0;
    }
    p->body = malloc(len);
    if (!p->body) return WEFT_ENOMEM;
    memcpy(p->body, body, len);
    p->len = len;
    p->base = base;
    return 1;
}

int space_snapshot_newest(space *sp, uint8_t **body, const uint8_t **rec, size_t *len,
                          const uint8_t **tok, size_t *tok_len, uint64_t *base) {
    snap_pick p = {sp, NULL, 0, 0};
    size_t damaged = 0;
    int rc = sp->st->st->ops->snapshot_read(sp->st, snap_take, &p, &damaged);
    sp->r->m.snapshots_damaged += damaged;
    if (rc < 0) {
        free(p.body);
        return rc;
    }
    *body = p.body;
    *base = p.base;
    if (p.body) weft__snap_body_split(tok, tok_len, rec, len, p.body, p.len);
    return 0;
}

/* ---- history ---- */

int space_below_trim(const space *sp, const uint64_t *have, size_t n_have) {
    for (size_t i = 0; i < sp->n_ckpt; i++) {
        uint32_t a = space_author_find(sp, sp->ckpt[i].key); /* interned at the cut */
        if (a >= n_have || have[a] < sp->ckpt[i].seq) return 1;
    }
    return 0;
}

/* Each author's chain head among the records up to `upto`: the old
 * checkpoint's, moved on by the records after it. OUT: *out (sorted by
 * key, malloc'd), *n. Returns 0 or a WEFT_E code. */
static int heads_at(space *sp, uint64_t upto, weft__trim_author **out, size_t *n) {
    uint64_t *seq = calloc(sp->n_authors ? sp->n_authors : 1, sizeof *seq);
    weft__trim_author *a = calloc(sp->n_authors ? sp->n_authors : 1, sizeof *a);
    if (!seq || !a) {
        free(seq);
        free(a);
        return WEFT_ENOMEM;
    }
    for (size_t i = 0; i < sp->n_ckpt; i++)
        seq[space_author_find(sp, sp->ckpt[i].key)] = sp->ckpt[i].seq;
    for (uint64_t r = sp->trimmed + 1; r <= upto; r++) {
        const rec_info *ri = space_rec(sp, r);
        if (ri->author != SPACE_NO_AUTHOR && ri->seq > seq[ri->author]) seq[ri->author] = ri->seq;
    }
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < sp->n_authors && !rc; i++) {
        if (!seq[i]) continue;
        weft__trim_author *e = &a[k++];
        memcpy(e->key, sp->authors[i], 32);
        e->seq = seq[i];
        rc = weft_log_entry(sp->log, e->key, e->seq, e->hash, &e->lamport_end);
        if (rc == WEFT_ETRIMMED) { /* unchanged since the last cut: the checkpoint has it */
            const weft__trim_author *old = bsearch(e, sp->ckpt, sp->n_ckpt, sizeof *e, by_key);
            rc = old && old->seq == e->seq ? 0 : WEFT_ESTATE;
            if (!rc) *e = *old;
        }
    }
    free(seq);
    if (rc) {
        free(a);
        return rc;
    }
    qsort(a, k, sizeof *a, by_key);
    *out = a;
    *n = k;
    return 0;
}

/* The highest relay sequence the policy allows to trim now (before
 * storage picks its cut): covered by the newest snapshot, older than the
 * window, and before the first record that is not a change. */
static uint64_t trim_limit(const space *sp, uint64_t now_s) {
    int64_t keep = sp->r->cfg.keep_history_s;
    uint64_t end = sp->snap_base < sp->durable ? sp->snap_base : sp->durable;
    uint64_t cutoff = (uint64_t)keep < now_s ? now_s - (uint64_t)keep : 0;
    uint64_t limit = sp->trimmed;
    while (limit < end) {
        const rec_info *ri = space_rec(sp, limit + 1);
        if (ri->author == SPACE_NO_AUTHOR || (keep > 0 && ri->time_s > cutoff)) break;
        limit++;
    }
    return limit;
}

int space_snapshot_base(space *sp, uint64_t *base) {
    if (!sp->snap_known) {
        uint8_t *body = NULL;
        const uint8_t *rec, *tok;
        size_t len, tl;
        uint64_t b;
        int rc = space_snapshot_newest(sp, &body, &rec, &len, &tok, &tl, &b);
        int held = body != NULL;
        free(body);
        if (rc) return rc;
        sp->snap_base = held ? b : 0;
        sp->snap_known = 1;
    }
    *base = sp->snap_base;
    return 0;
}

int space_trim(space *sp, uint64_t now_us) {
    relay *r = sp->r;
    const storage_ops *ops = sp->st->st->ops;
    if (r->cfg.keep_history_s < 0 || !ops->trim_point) return 0;
    uint8_t *body = NULL;
    const uint8_t *rec, *tok;
    size_t len, tl;
    uint64_t base;
    int rc = space_snapshot_base(sp, &base);
    if (rc) return rc;
    if (sp->snap_base <= sp->trimmed) return 0;
    uint64_t limit = trim_limit(sp, relay_unix_s());
    uint64_t upto = limit > sp->trimmed ? ops->trim_point(sp->st, limit) : 0;
    if (upto <= sp->trimmed) return 0;
    /* What the trim relies on must still be there and sound. */
    rc = space_snapshot_newest(sp, &body, &rec, &len, &tok, &tl, &base);
    int held = body != NULL;
    free(body);
    if (rc || !held || base < upto) {
        sp->snap_known = 0;
        return rc;
    }
    weft__trim_author *heads = NULL;
    size_t n = 0;
    rc = heads_at(sp, upto, &heads, &n);
    uint8_t *ckpt = rc ? NULL : malloc(weft__trim_size(n));
    if (!rc && !ckpt) rc = WEFT_ENOMEM;
    uint64_t bytes = 0;
    if (!rc) {
        weft__trim_encode(ckpt, upto, heads, n);
        rc = ops->trim(sp->st, upto, ckpt, weft__trim_size(n), &bytes);
    }
    free(ckpt);
    if (rc) {
        free(heads);
        r->m.trim_failures++;
        relay_log("space=%s trim to rseq=%llu failed: %s", sp->hex, (unsigned long long)upto,
                  weft_err_name(rc));
        return rc;
    }
    /* The index and the log follow storage. */
    size_t drop = (size_t)(upto - sp->trimmed);
    uint64_t cum = sp->idx[drop - 1].cum;
    memmove(sp->idx, sp->idx + drop, (sp->n_idx - drop) * sizeof *sp->idx);
    sp->n_idx -= drop;
    for (size_t i = 0; i < sp->n_idx; i++)
        sp->idx[i].cum -= cum;
    sp->trimmed = upto;
    free(sp->ckpt);
    sp->ckpt = heads;
    sp->n_ckpt = n;
    /* The heads as a version vector (FORMAT.md §6: key, then the seq as a
     * LEB128 varint of at most 10 bytes; sorted by key already). */
    uint8_t *vv = malloc(n * 42 + 1);
    size_t vl = 0;
    for (size_t i = 0; vv && i < n; i++) {
        memcpy(vv + vl, heads[i].key, 32);
        vl += 32;
        uint64_t v = heads[i].seq;
        do {
            vv[vl++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
    }
    /* Memory then follows the authors, not the history; a failure here
     * only keeps more. */
    if (vv) weft_log_forget(sp->log, vv, vl, WEFT_LOG_FORGET_KEEP);
    free(vv);
    r->m.trims++;
    r->m.trimmed_records += drop;
    r->m.trimmed_bytes += bytes;
    relay_log("space=%s trimmed to rseq=%llu: %zu records, %llu bytes (snapshot base %llu)",
              sp->hex, (unsigned long long)upto, drop, (unsigned long long)bytes,
              (unsigned long long)sp->snap_base);
    sp->trim_tried_us = now_us;
    if (r->space_ev.trimmed) r->space_ev.trimmed(r->space_ev.ud, sp, upto);
    return 0;
}

void space_snapshot_stored(space *sp) {
    sp->snap_known = 0;
    space_trim(sp, relay_now_us());
}

void space_trim_due(relay *r, uint64_t now_us) {
    if (r->cfg.keep_history_s < 0) return;
    for (size_t i = 0; i < r->spaces.cap; i++) {
        space *sp = r->spaces.slots[i].val;
        if (!sp || now_us - sp->trim_tried_us < (uint64_t)SPACE_TRIM_PERIOD_S * 1000000u) continue;
        sp->trim_tried_us = now_us;
        space_trim(sp, now_us);
    }
}
