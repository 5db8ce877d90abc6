/*
 * Sessions and the lists they sit on (session.h). Everything here is
 * bookkeeping: which list a session is on, what it has queued, how it
 * closes. What a frame means is server.c's business, what a request means
 * http.c's.
 */
#include "session.h"

#include "weft/members.h"

#include <stdlib.h>
#include <string.h>

outmsg *session_msg_new(size_t len) {
    outmsg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m) return NULL;
    m->next = NULL;
    m->len = len;
    m->eph = NULL;
    return m;
}

void session_msg_free(outmsg *m) {
    if (!m) return;
    session_eph_unref(m->eph);
    free(m);
}

ephbuf *session_eph_new(relay *r, size_t cap) {
    ephbuf *e = malloc(sizeof *e + LWS_PRE + cap);
    if (!e) return NULL;
    e->r = r;
    e->refs = 1;
    e->len = 0;
    e->cap = cap;
    r->m.eph_bytes_held += cap;
    return e;
}

void session_eph_unref(ephbuf *e) {
    if (!e || --e->refs) return;
    e->r->m.eph_bytes_held -= e->cap;
    free(e);
}

static void queue_append(session *s, outmsg *m) {
    if (s->q_tail)
        s->q_tail->next = m;
    else
        s->q_head = m;
    s->q_tail = m;
    s->q_bytes += m->len;
    if (m->eph) s->q_eph++;
}

/* Drops every queued ephemeral frame: they are worth less than the
 * connection, and a newer presence replaces them anyway. */
static void queue_drop_ephemeral(session *s) {
    outmsg **pp = &s->q_head, *last = NULL;
    while (*pp) {
        outmsg *m = *pp;
        if (m->eph) {
            *pp = m->next;
            s->q_bytes -= m->len;
            s->q_eph--;
            s->r->m.eph_dropped_slow++;
            session_msg_free(m);
        } else {
            last = m;
            pp = &m->next;
        }
    }
    s->q_tail = last;
}

void session_push(session *s, outmsg *m, int front) {
    if (front) {
        m->next = s->q_head;
        s->q_head = m;
        if (!s->q_tail) s->q_tail = m;
        s->q_bytes += m->len;
        if (m->eph) s->q_eph++;
    } else {
        queue_append(s, m);
    }
    if (s->q_bytes > s->r->cfg.max_queue && s->q_eph) queue_drop_ephemeral(s);
    if (s->q_bytes > s->r->cfg.max_queue && s->state != S_CLOSING) {
        s->r->m.slow_dropped++;
        session_fail(s, WEFT_PROTO_ESLOW_CONSUMER, "outbound queue over its bound");
        return;
    }
    lws_callback_on_writable(s->wsi);
}

static void queue_clear(session *s) {
    while (s->q_head) {
        outmsg *m = s->q_head;
        s->q_head = m->next;
        session_msg_free(m);
    }
    s->q_tail = NULL;
    s->q_bytes = 0;
    s->q_eph = 0;
}

void session_send_error(session *s, uint32_t code, const char *msg) {
    size_t mlen = strlen(msg);
    outmsg *m = session_msg_new(weft_frame_error_bound(mlen));
    if (!m) return;
    weft_frame_error_encode(m->buf + LWS_PRE, m->len, &m->len, code, 0, msg, mlen);
    session_push(s, m, 0);
}

int session_has_work(const session *s) {
    if (s->q_head) return 1;
    if (s->state == S_CLOSING) return 1;
    if (s->state != S_LIVE) return 0;
    const struct space *sp = s->sp;
    return s->next_rseq <= sp->durable || !s->synced;
}

void session_wake(session *s) {
    if (s->wsi && session_has_work(s)) lws_callback_on_writable(s->wsi);
}

/* ---- the space's subscribers ---- */

void session_set_space(session *s, struct space *sp) {
    if (s->sp == sp) return;
    if (s->sp) {
        s->sp->n_sessions--;
        s->sp->used_us = relay_now_us();
    }
    s->sp = sp;
    if (sp) sp->n_sessions++;
}

void session_subscribe(session *s) {
    struct space *sp = s->sp;
    s->sp_prev = NULL;
    s->sp_next = sp->subs;
    if (sp->subs) sp->subs->sp_prev = s;
    sp->subs = s;
    sp->n_subs++;
}

void session_unsubscribe(session *s) {
    struct space *sp = s->sp;
    if (!sp || s->state != S_LIVE) return;
    if (s->sp_prev)
        s->sp_prev->sp_next = s->sp_next;
    else
        sp->subs = s->sp_next;
    if (s->sp_next) s->sp_next->sp_prev = s->sp_prev;
    s->sp_prev = s->sp_next = NULL;
    sp->n_subs--;
}

/* ---- the relay's held list ---- */

void session_hold(session *s) {
    relay *r = s->r;
    if (s->in_held) return;
    s->in_held = 1;
    s->held_prev = NULL;
    s->held_next = r->held;
    if (r->held) r->held->held_prev = s;
    r->held = s;
}

void session_unhold(session *s) {
    if (!s->in_held) return;
    if (s->held_prev)
        s->held_prev->held_next = s->held_next;
    else
        s->r->held = s->held_next;
    if (s->held_next) s->held_next->held_prev = s->held_prev;
    s->held_prev = s->held_next = NULL;
    s->in_held = 0;
}

void session_hold_ack(session *s, held_ack *h) {
    if (s->held_tail)
        s->held_tail->next = h;
    else
        s->held_head = h;
    s->held_tail = h;
    session_hold(s);
}

static void held_clear(session *s) {
    while (s->held_head) {
        held_ack *h = s->held_head;
        s->held_head = h->next;
        storage_batch_unref(h->batch);
        free(h);
    }
    s->held_tail = NULL;
    session_unhold(s);
}

/* ---- closing ---- */

void session_cancel_wait(session *s) {
    if (!s->wait) return;
    waiter_cancel(s->wait);
    s->wait = NULL;
}

void session_fail(session *s, uint32_t code, const char *msg) {
    if (s->state == S_CLOSING) return;
    relay_reject(s->r, code);
    relay_log("session=%llu error=%s fatal msg=\"%s\"", (unsigned long long)s->id,
              weft_proto_err_name(code), msg);
    session_unsubscribe(s);
    held_clear(s);
    /* Going away is not the client's fault: the ACKs already queued (the
     * drain flushed them) still go out before the ERROR. */
    int keep = code == WEFT_PROTO_EGOING_AWAY;
    if (!keep) queue_clear(s);
    s->state = S_CLOSING;
    if (!s->close_status) s->close_status = LWS_CLOSE_STATUS_POLICY_VIOLATION;
    size_t mlen = strlen(msg);
    outmsg *m = session_msg_new(weft_frame_error_bound(mlen));
    if (m) {
        weft_frame_error_encode(m->buf + LWS_PRE, m->len, &m->len, code, 1, msg, mlen);
        queue_append(s, m);
    }
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
    lws_callback_on_writable(s->wsi);
}

void session_close_space(relay *r, struct space *sp, uint32_t code) {
    /* Closing sessions too: none may keep pointing at a space that goes. */
    for (session *s = r->sessions; s; s = s->all_next)
        if (s->sp == sp) {
            if (s->state != S_CLOSING) session_fail(s, code, weft_proto_strerror(code));
            session_set_space(s, NULL);
        }
}

uint32_t session_grant_rights(session *s, uint64_t now) {
    uint8_t rights;
    uint64_t until;
    int rc =
        s->sp ? weft_members_rights(s->sp->members, s->key, now, &rights, &until) : WEFT_ENOTFOUND;
    if (rc == WEFT_EREVOKED) return WEFT_PROTO_EREVOKED;
    if (rc == WEFT_EEXPIRED) return WEFT_PROTO_EEXPIRED;
    if (rc || !rights) return WEFT_PROTO_ENOT_MEMBER;
    /* The token the rest of the relay reads: granted to this key alone,
     * its id (the per-token rate limit) the key's first bytes. */
    memset(&s->tok, 0, sizeof s->tok);
    memcpy(s->tok.space, s->space_id, 32);
    memcpy(s->tok.issuer, s->space_id, 32);
    memcpy(s->tok.grantee, s->key, 32);
    memcpy(s->tok.id, s->key, WEFT_TOKEN_IDBYTES);
    s->tok.rights = rights;
    s->tok.expires = until;
    s->deadline = until;
    return 0;
}

int session_expired(session *s, uint64_t now) {
    if (!s->deadline || now < s->deadline) return 0;
    return !(s->by_grant && session_grant_rights(s, now) == 0);
}

void session_expire_all(relay *r, uint64_t now) {
    /* session_fail leaves a session on r->sessions (it goes at CLOSED), so
     * the walk is safe. */
    for (session *s = r->sessions; s; s = s->all_next)
        if (s->state == S_LIVE && session_expired(s, now))
            session_fail(s, WEFT_PROTO_EEXPIRED, session_expired_why(s));
}

void session_rx(session *s) {
    int off = s->throttled;
    if (!s->wsi || !s->is_ws || off == s->rx_off) return;
    s->rx_off = off;
    lws_rx_flow_control(s->wsi, !off);
}

void session_unthrottle(struct space *sp) {
    for (session *s = sp->subs; s; s = s->sp_next)
        if (s->throttled) {
            s->throttled = 0;
            session_rx(s);
        }
}

size_t session_deliver_ephemeral(struct space *sp, const session *except, const uint8_t peer[32],
                                 int broadcast, ephbuf *e) {
    relay *r = sp->r;
    uint64_t now = relay_unix_s();
    size_t sent = 0;
    for (session *o = sp->subs; o; o = o->sp_next) {
        if (o == except || o->state != S_LIVE) continue;
        if (!broadcast && memcmp(o->key, peer, 32) != 0) continue;
        if (session_expired(o, now)) {
            /* Its next WRITEABLE closes it (failing it here would unlink
             * it from the list being walked). */
            lws_callback_on_writable(o->wsi);
            continue;
        }
        sent++;
        if (o->q_bytes + e->len > r->cfg.max_queue) {
            r->m.eph_dropped_slow++;
            continue;
        }
        outmsg *m = session_msg_new(0);
        if (!m) continue;
        m->len = e->len;
        m->eph = e;
        e->refs++;
        session_push(o, m, 0);
    }
    return sent;
}

/* ---- WebSocket sessions ---- */

void session_open_ws(session *s, relay *r, struct lws *wsi) {
    memset(s, 0, sizeof *s);
    s->r = r;
    s->wsi = wsi;
    s->is_ws = 1;
    s->id = ++r->next_session_id;
    s->state = S_HELLO;
    s->all_next = r->sessions;
    if (r->sessions) r->sessions->all_prev = s;
    r->sessions = s;
    r->m.ws_open++;
    r->m.conns_total++;
}

static void inframes_clear(session *s) {
    while (s->in_head) {
        inframe *m = s->in_head;
        s->in_head = m->next;
        free(m);
    }
    s->in_tail = NULL;
    s->in_bytes = 0;
}

void session_close_ws(session *s) {
    relay *r = s->r;
    session_unsubscribe(s);
    held_clear(s);
    queue_clear(s);
    inframes_clear(s);
    session_cancel_wait(s); /* whoever answers finds nobody */
    free(s->parked);
    free(s->rx);
    free(s->have);
    free(s->tok_bytes);
    free(s->claim);
    session_set_space(s, NULL);
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else if (r->sessions == s)
        r->sessions = s->all_next;
    if (s->all_next) s->all_next->all_prev = s->all_prev;
    r->m.ws_open--;
    relay_log("session=%llu closed", (unsigned long long)s->id);
    memset(s, 0, sizeof *s);
}
