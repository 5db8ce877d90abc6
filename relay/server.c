/*
 * The lws protocol callback and sessions (server.h).
 *
 * A WebSocket session walks HELLO -> CHALLENGE -> PROOF -> live. Incoming
 * messages are reassembled up to --max-frame, decoded with the core's frame
 * codec and handled at once; anything that must wait for durability (ACKs,
 * fan-out) waits for relay_after_turn(), which runs after every lws_service
 * turn: changes from every client in that turn share one flush. Outgoing
 * data goes through session_writeable() only.
 *
 * Ordering on the wire, per session: control frames first (in queue order),
 * then changes by relay sequence. An ACK's cursor is computed when the ACK
 * is queued; since changes are never written while control frames wait, the
 * cursor is still exact when the ACK reaches the socket.
 */
#include "admit.h"
#include "blobs.h"
#include "hex.h"
#include "server.h"
#include "http.h"
#include "pubsub.h"
#include "session.h"
#include "space.h"
#include "tls.h"
#include "weft/hash.h"
#include "weft/members.h"

#include <assert.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#define OUT_FRAME_BYTES   (256u << 10) /* target size of one outgoing CHANGES frame */
#define OUT_FRAME_CHANGES 1024u
#define SKIP_PER_CALL     65536u /* index entries skipped per writeable callback */

/* The server's own state, hanging off the relay (r->srv): the
 * housekeeping timer and the scratch buffer that outgoing CHANGES frames
 * are built in (one frame at a time: the relay is single-threaded). */
struct server_state {
    lws_sorted_usec_list_t sul;
    relay *r;
    unsigned ticks;
    uint8_t *scratch;
    size_t scratch_cap;
};

static int scratch_reserve(server_state *v, size_t n) {
    if (v->scratch_cap >= LWS_PRE + n) return 0;
    size_t cap = LWS_PRE + (n > OUT_FRAME_BYTES ? n : OUT_FRAME_BYTES);
    uint8_t *p = realloc(v->scratch, cap);
    if (!p) return -1;
    v->scratch = p;
    v->scratch_cap = cap;
    return 0;
}

/* ---- outbound ---- */

static int write_frame(session *s, uint8_t *p, size_t len) {
    int n = lws_write(s->wsi, p, len, LWS_WRITE_BINARY);
    if (n < (int)len) return -1;
    s->r->m.frames_out++;
    s->r->m.bytes_out += len;
    return 0;
}

static void tell_trimmed(session *s);

/* Whether a record need not go to this session: its own change, or one the
 * client's HELLO vector says it holds. */
static int skip_record(const session *s, const rec_info *ri) {
    if (ri->origin == s->id) return 1;
    /* Membership records only go to clients that said they read them. */
    if (WEFT_RECORD_IS_MEMBERSHIP(ri->kind) && !s->reads_members) return 1;
    return ri->author < s->n_have && ri->seq <= s->have[ri->author];
}

typedef struct build_ctx {
    session *s;
    size_t len;
    uint32_t n;
} build_ctx;

static int build_one(void *ud, uint64_t rseq, const uint8_t *rec, size_t len) {
    build_ctx *b = ud;
    session *s = b->s;
    if (rseq > s->sp->durable) return 1;
    if (skip_record(s, space_rec(s->sp, rseq))) {
        s->next_rseq = rseq + 1;
        return 0;
    }
    server_state *v = s->r->srv;
    size_t need = weft_frame_change_entry_bound(len);
    if (b->len + need > v->scratch_cap - LWS_PRE) {
        if (b->n) return 1; /* the next frame starts with it */
        if (scratch_reserve(v, b->len + need)) return WEFT_ENOMEM;
    }
    weft_frame_changes_add(v->scratch + LWS_PRE, v->scratch_cap - LWS_PRE, &b->len, rseq, rec, len);
    b->n++;
    s->next_rseq = rseq + 1;
    return b->n >= OUT_FRAME_CHANGES;
}

/* Writes the next CHANGES frame the session is owed, or the "synced" ACK.
 * Returns 1 when something was written, 0 when not, -1 on a write error. */
static int send_changes(session *s) {
    struct space *sp = s->sp;
    if (s->below_trim) return 0; /* until it loads the snapshot */
    assert(s->next_rseq > sp->trimmed);
    for (uint32_t k = 0; s->next_rseq <= sp->durable && k < SKIP_PER_CALL; k++) {
        if (!skip_record(s, space_rec(sp, s->next_rseq))) break;
        s->next_rseq++;
    }
    if (s->next_rseq > sp->durable) {
        if (s->synced) return 0;
        s->synced = 1;
        uint8_t frame[LWS_PRE + 16];
        size_t len;
        weft_frame_ack_begin(frame + LWS_PRE, 16, &len, s->next_rseq - 1);
        return write_frame(s, frame + LWS_PRE, len) ? -1 : 1;
    }
    if (!sp->idx || skip_record(s, space_rec(sp, s->next_rseq))) return 0; /* skipped enough */
    server_state *v = s->r->srv;
    if (scratch_reserve(v, OUT_FRAME_BYTES)) return -1;
    build_ctx b = {s, 0, 0};
    weft_frame_changes_begin(v->scratch + LWS_PRE, v->scratch_cap - LWS_PRE, &b.len, 1);
    int rc = space_read(sp, s->next_rseq - 1, OUT_FRAME_BYTES, build_one, &b);
    if (rc < 0) {
        relay_log("space=%s read failed at rseq=%llu: %s", sp->hex,
                  (unsigned long long)s->next_rseq, weft_err_name(rc));
        session_fail(s, WEFT_PROTO_ESTORAGE, "storage read failed");
        return 0;
    }
    if (!b.n) return 0;
    if (write_frame(s, v->scratch + LWS_PRE, b.len)) return -1;
    s->r->m.changes_out += b.n;
    return 1;
}

/* After the ERROR for an oversized message whose rest is still arriving:
 * closing now would answer that data with a TCP reset, and a reset makes
 * the client's kernel drop what its app had not read yet, the ERROR
 * included (the client would resend the same frame, again and again). So
 * the relay stops writing (FIN after the ERROR) and drops what arrives
 * until the client closes, at most LINGER_S seconds. */
#define LINGER_S 2
static int linger(session *s) {
    if (s->linger == 2) return 0;
    if (lws_partial_buffered(s->wsi)) { /* the ERROR is not all out yet */
        lws_callback_on_writable(s->wsi);
        return 0;
    }
    s->linger = 2;
    if (shutdown(lws_get_socket_fd(s->wsi), SHUT_WR)) return -1;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LINGER_S);
    return 0;
}

static int session_writeable(session *s) {
    if (s->state == S_LIVE && session_expired(s, relay_unix_s()))
        session_fail(s, WEFT_PROTO_EEXPIRED, session_expired_why(s));
    if (s->q_head) {
        outmsg *m = s->q_head;
        s->q_head = m->next;
        if (!s->q_head) s->q_tail = NULL;
        s->q_bytes -= m->len;
        if (m->eph) s->q_eph--;
        int rc = write_frame(s, outmsg_bytes(m), m->len);
        session_msg_free(m);
        if (rc) return -1;
    } else if (s->state == S_LIVE) {
        if (send_changes(s) < 0) return -1;
    }
    if (s->state == S_CLOSING && !s->q_head) {
        if (s->linger) return linger(s);
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_status, NULL, 0);
        return -1;
    }
    session_wake(s);
    return 0;
}

/* ---- incoming frames ---- */

static void hello_ready(session *s, const weft_frame *f);
static void refuse_removed(session *s);
static void grant_refused(session *s, uint32_t code);
static void send_challenge(session *s, struct space *sp);
static void on_answer(void *ud, int failed);
static void on_rate_verdict(void *ud, int allowed);

static void handle_hello(session *s, const weft_frame *f, const uint8_t *p, size_t len) {
    relay *r = s->r;
    uint64_t now = relay_unix_s();
    /* Checked before the token's signature: fresh keys and tokens are free,
     * addresses are not. A refused HELLO closes the connection (it could
     * only send the HELLO again). */
    if (!ip_take(r, s->ip, IPB_HELLO, 1, RL_IP_HELLO)) {
        session_fail(s, WEFT_PROTO_ERATE_LIMITED, "too many HELLOs from this address");
        return;
    }
    int rc;
    if (f->by_grant) {
        /* Admitted by its grant once the space is loaded (hello_ready),
         * the token field holding its invite claim or nothing. */
        s->by_grant = 1;
        if (f->token_len) {
            s->claim = malloc(f->token_len);
            if (!s->claim) {
                session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
                return;
            }
            memcpy(s->claim, f->token, f->token_len);
            s->claim_len = f->token_len;
        }
    } else {
        rc = weft_token_verify(&r->be, f->token, f->token_len, f->space, now, &s->tok);
        if (rc == WEFT_EEXPIRED || rc == WEFT_ENOTYET) {
            session_fail(s, WEFT_PROTO_EEXPIRED, weft_strerror(rc));
            return;
        }
        if (rc) {
            session_fail(s, WEFT_PROTO_EAUTH, weft_strerror(rc));
            return;
        }
        if (weft_token_allows(&s->tok, f->key, WEFT_RIGHT_READ)) {
            session_fail(s, WEFT_PROTO_ERIGHTS, "token is not granted to this key");
            return;
        }
        s->deadline = s->tok.expires;
        s->tok_bytes = malloc(f->token_len ? f->token_len : 1);
        if (!s->tok_bytes) {
            session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
            return;
        }
        memcpy(s->tok_bytes, f->token, f->token_len);
        s->tok_len = f->token_len;
    }
    if (weft_vv_check(f->vv, f->vv_len)) {
        session_fail(s, WEFT_PROTO_EBAD_FRAME, "malformed version vector");
        return;
    }
    /* Nothing is created before PROOF: a HELLO costs no directory, file or
     * fsync. A space storage does not hold gets a CHALLENGE for an empty
     * space (head 0, empty vector), which is what it is; PROOF creates it. */
    memcpy(s->space_id, f->space, 32);
    memcpy(s->key, f->key, 32);
    /* A HELLO without a versions block is from a client that predates
     * negotiation: it reads format level 1 (PROTOCOL.md §6). */
    s->versions = f->has_versions;
    s->reads_members = f->reads_members;
    s->level = f->has_versions ? f->versions.format_level : 1;
    /* Admission before anything is opened: a stranger can neither create
     * a space here nor make the relay load one. The admission's byte quota
     * is kept for PROOF, which may be what creates the space. */
    const char *why;
    s->admit_quota = 0;
    if (admit_check(r, f->space, f->admission, f->admission_len, &s->admit_quota, &why)) {
        session_fail(s, WEFT_PROTO_ENOT_ADMITTED, why);
        return;
    }
    /* Opening a space not in memory costs a load (or a new space). */
    if (!space_find(r, f->space) && !ip_take(r, s->ip, IPB_SPACE, 1, RL_IP_SPACES)) {
        session_fail(s, WEFT_PROTO_ERATE_LIMITED, "too many spaces opened from this address");
        return;
    }
    struct space *sp;
    rc = space_open(r, f->space, 0, &sp);
    if (rc == WEFT_ENOTFOUND && s->by_grant) { /* nobody holds a grant there */
        grant_refused(s, WEFT_PROTO_ENOT_MEMBER);
        return;
    }
    if (rc == WEFT_ENOTFOUND) {
        hello_ready(s, f);
        return;
    }
    if (rc) {
        session_fail(s, WEFT_PROTO_ESTORAGE, "cannot open the space");
        return;
    }
    /* Every session whose HELLO named the space counts, proved or not. */
    if (r->cfg.space_conns && sp->n_sessions >= r->cfg.space_conns) {
        r->m.limited[RL_SPACE_CONNS]++;
        session_fail(s, WEFT_PROTO_EQUOTA, "space connection quota (--space-conns)");
        return;
    }
    if (s->admit_quota) sp->quota_bytes = s->admit_quota; /* the operator's admission says so */
    session_set_space(s, sp);
    /* The CHALLENGE must carry the real head and vector: the space must be
     * loaded and as fresh as storage (another relay may have appended). If
     * that takes a while, the HELLO waits, its bytes kept. */
    rc = space_wait(sp, 1, &s->wait, on_answer, s);
    if (rc == 0) {
        hello_ready(s, f);
        return;
    }
    s->parked = rc == STORAGE_LATER ? malloc(len) : NULL;
    if (!s->parked) {
        session_cancel_wait(s);
        session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
        return;
    }
    memcpy(s->parked, p, len);
    s->parked_len = len;
    s->state = S_LOADING;
}

/* The fatal VERSION a client that reads less than the space's level gets,
 * instead of records it could not read. */
static void refuse_old_client(session *s, uint32_t space_level) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "this space uses format level %u; this app reads up to level %u: update the app",
             space_level, s->level);
    session_fail(s, WEFT_PROTO_EVERSION, msg);
}

/* The fatal REVOKED a removed key gets, at HELLO, at PROOF and when the
 * revocation arrives while it is connected: a clear state for the app to
 * show ("removed: ask an admin"), not a retry loop. */
static void refuse_removed(session *s) {
    relay_reject(s->r, WEFT_PROTO_EREVOKED);
    session_fail(s, WEFT_PROTO_EREVOKED, "this key was removed from the space: ask an admin");
}

/* A key admitted by grant that may not come in: fatal, with a sentence
 * the app can show. */
static void grant_refused(session *s, uint32_t code) {
    const char *why = code == WEFT_PROTO_EREPLAY ? "this invite was already claimed by another key"
                      : code == WEFT_PROTO_EEXPIRED ? "access lapsed: ask an admin to renew it"
                                                    : weft_proto_strerror(code);
    relay_reject(s->r, code);
    session_fail(s, code, why);
}

/* What the protocol says of a core refusal of a claim or grant. */
static uint32_t grant_code(int rc) {
    switch (rc) {
    case WEFT_EREPLAY:
        return WEFT_PROTO_EREPLAY;
    case WEFT_EEXPIRED:
        return WEFT_PROTO_EEXPIRED;
    case WEFT_EREVOKED:
        return WEFT_PROTO_EREVOKED;
    case WEFT_ECRYPTO:
        return WEFT_PROTO_EBAD_SIGNATURE;
    case WEFT_ESPACE:
        return WEFT_PROTO_EWRONG_SPACE;
    default:
        return WEFT_PROTO_ENOT_MEMBER;
    }
}

/* A HELLO by grant, before its CHALLENGE: the key holds a grant now, or
 * its claim names it and claims an invite that is still open (admitted at
 * PROOF, once the key is proved). A stranger learns nothing of the space.
 * Returns 0 or the refusal. */
static uint32_t grant_hello_check(session *s, struct space *sp) {
    uint64_t now = relay_unix_s();
    if (s->claim) {
        weft_member_record c;
        int rc = weft_member_record_verify(&s->r->be, s->claim, s->claim_len, sp->id, &c);
        if (rc) return grant_code(rc);
        if (c.kind != WEFT_RECORD_GRANT || c.flags || memcmp(c.member, s->key, 32) != 0)
            return WEFT_PROTO_ENOT_MEMBER;
        uint8_t hash[32];
        weft_blake2b(hash, 32, s->claim, s->claim_len);
        if (weft_members_status(sp->members, hash) != 0) {
            rc = weft_members_invite_open(sp->members, c.issuer, now);
            if (rc) return grant_code(rc);
            return 0;
        }
    }
    return session_grant_rights(s, now);
}

/* At PROOF: the session's claim is stored (refused: nothing changes, the
 * session fails), then its rights come from its grants. */
static uint32_t grant_proof(session *s, struct space *sp) {
    uint64_t now = relay_unix_s();
    if (s->claim) {
        uint8_t status;
        uint64_t value;
        int rc =
            space_submit(sp, s->claim, s->claim_len, NULL, now, s->id, s->level, &status, &value);
        if (rc) return WEFT_PROTO_ESTORAGE;
        if (status == WEFT_ACK_REJECTED) return (uint32_t)value;
    }
    return session_grant_rights(s, now);
}

/* The HELLO's space is loaded (or does not exist: s->sp NULL): note the
 * client's vector, send CHALLENGE. */
static void hello_ready(session *s, const weft_frame *f) {
    struct space *sp = s->sp;
    if (sp && sp->n_sessions == 1 && !sp->n_subs && sp->st->st->ops->absent(sp->st)) {
        /* Storage holds nothing for it (Redis keeps no key for an empty
         * space) and nobody else is here: the CHALLENGE is that of a space
         * not created yet, and the space is let go at the next sweep
         * rather than after --idle-unload, so HELLOs without PROOF cost no
         * memory either. PROOF opens it again. */
        session_set_space(s, NULL);
        space_forget_soon(sp);
        sp = NULL;
    }
    if (!sp && s->by_grant) {
        grant_refused(s, WEFT_PROTO_ENOT_MEMBER);
        return;
    }
    if (!sp) {
        send_challenge(s, NULL);
        return;
    }
    /* By grant, who it is comes first: a stranger learns nothing, not even
     * the space's level. */
    uint32_t why = s->by_grant && !space_key_revoked(sp, s->key) ? grant_hello_check(s, sp) : 0;
    if (why) {
        grant_refused(s, why);
        return;
    }
    if (sp->level > s->level) {
        refuse_old_client(s, sp->level);
        return;
    }
    if (space_key_revoked(sp, s->key)) {
        refuse_removed(s);
        return;
    }
    /* The client's vector, by the space's author index: authors the relay
     * does not know yet can only be new to it, so they need no entry. */
    s->n_have = sp->n_authors;
    s->have = s->n_have ? calloc(s->n_have, sizeof *s->have) : NULL;
    if (s->n_have && !s->have) {
        session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
        return;
    }
    size_t pos = 0;
    const uint8_t *author;
    uint64_t seq;
    while (weft_vv_next(f->vv, f->vv_len, &pos, &author, &seq)) {
        uint32_t a = space_author_find(sp, author);
        if (a < s->n_have) s->have[a] = seq;
    }
    s->next_rseq = 1;
    if (f->has_cursor) s->next_rseq = (f->cursor < sp->durable ? f->cursor : sp->durable) + 1;
    /* Below the trimmed prefix: a vector that covers it starts after it;
     * one that does not must load the snapshot first (told once live). */
    if (s->next_rseq <= sp->trimmed) {
        if (space_below_trim(sp, s->have, s->n_have))
            s->below_trim = 1;
        else
            s->next_rseq = sp->trimmed + 1;
    }
    send_challenge(s, sp);
}

/* CHALLENGE: a fresh nonce, the space's durable head and vector (sp NULL:
 * a space not created yet, head 0 and an empty vector). */
static void send_challenge(session *s, struct space *sp) {
    relay *r = s->r;
    s->next_rseq = sp ? s->next_rseq : 1;
    if (r->be.random(r->be.ctx, s->nonce, sizeof s->nonce)) {
        session_fail(s, WEFT_PROTO_EINTERNAL, "no randomness");
        return;
    }
    size_t vv_cap = sp ? weft_log_vv_bound(sp->log) : 0, vv_len = 0;
    /* The answering versions block, only for a HELLO that had one: what
     * this relay reads (held back by --format-level during an upgrade) and
     * the space's level (1 for a space not created yet). No feature bits
     * are allocated yet. */
    weft_versions ours = {.format_level = r->cfg.format_level, .space_level = sp ? sp->level : 1};
    outmsg *m = session_msg_new(weft_frame_challenge_bound(vv_cap));
    uint8_t *vv = malloc(vv_cap ? vv_cap : 1);
    if (!m || !vv || (sp && weft_log_vv_encode(sp->log, vv, vv_cap, &vv_len)) ||
        weft_frame_challenge_encode_v(m->buf + LWS_PRE, m->len, &m->len, s->nonce,
                                      sp ? sp->durable : 0, vv, vv_len,
                                      s->versions ? &ours : NULL)) {
        free(m);
        free(vv);
        session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
        return;
    }
    free(vv);
    s->state = S_PROOF;
    session_push(s, m, 0);
}

static void handle_proof(session *s, const weft_frame *f, const uint8_t *p, size_t len) {
    if (weft_proof_verify(&s->r->be, f->sig, s->key, s->space_id, s->nonce, sizeof s->nonce)) {
        session_fail(s, WEFT_PROTO_EPROOF, "proof of possession failed");
        return;
    }
    if (!s->sp) {
        /* The proof holds: now the space may be created. Someone else may
         * have created it meanwhile: the session then starts from relay
         * sequence 1 with an empty vector, as its CHALLENGE said. A
         * backend that loads later (Redis) makes the PROOF wait, its bytes
         * kept, and it is handled again once the space is loaded. */
        struct space *created;
        if (space_open(s->r, s->space_id, 1, &created)) {
            session_fail(s, WEFT_PROTO_ESTORAGE, "cannot create the space");
            return;
        }
        if (s->admit_quota) created->quota_bytes = s->admit_quota;
        session_set_space(s, created);
        int rc = space_wait(created, 0, &s->wait, on_answer, s);
        if (rc == STORAGE_LATER && (s->parked = malloc(len)) != NULL) {
            memcpy(s->parked, p, len);
            s->parked_len = len;
            s->state = S_LOADING;
            s->creating = 1;
            return;
        }
        if (rc) {
            session_cancel_wait(s);
            session_fail(s, WEFT_PROTO_ESTORAGE, "cannot create the space");
            return;
        }
    }
    struct space *sp = s->sp;
    if (space_key_revoked(sp, s->key)) { /* removed while the space loaded */
        refuse_removed(s);
        return;
    }
    uint32_t why = s->by_grant ? grant_proof(s, sp) : 0;
    if (why) {
        grant_refused(s, why);
        return;
    }
    s->state = S_LIVE;
    s->catchup_head = sp->durable;
    session_subscribe(s);
    lws_set_timeout(s->wsi, NO_PENDING_TIMEOUT, 0);
    char key[WEFT__HEX_LEN(8)];
    weft__hex_encode(key, sizeof key, s->key, 8);
    relay_log("session=%llu space=%s key=%s rights=%u live from rseq=%llu head=%llu",
              (unsigned long long)s->id, sp->hex, key, s->tok.rights,
              (unsigned long long)s->next_rseq, (unsigned long long)sp->durable);
    if (s->below_trim) tell_trimmed(s);
    session_wake(s);
}

static void changes_allowed(session *s, const weft_frame *f);

/* A non-fatal ERROR TRIMMED: the session is sent nothing more until it
 * asks for the snapshot (SNAPSHOT_GET), whose vector it then continues
 * from (PROTOCOL.md, "Trimmed history"). */
static void tell_trimmed(session *s) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "history up to rseq %llu is trimmed: load the newest snapshot (SNAPSHOT_GET)",
             (unsigned long long)s->sp->trimmed);
    s->below_trim = 1;
    session_send_error(s, WEFT_PROTO_ETRIMMED, msg);
}

static void handle_changes(session *s, const weft_frame *f, const uint8_t *p, size_t len) {
    relay *r = s->r;
    /* By grant: rights as the grants say now (a later grant may add some). */
    uint32_t why = s->by_grant ? session_grant_rights(s, relay_unix_s()) : 0;
    if (why) {
        grant_refused(s, why);
        return;
    }
    /* Each change may cost a signature check: counted per change, per
     * connection and per address, before any is checked. */
    if (!bucket_take(&s->changes, r->cfg.conn_verify_rate, r->cfg.conn_verify_burst, f->n,
                     relay_now_us())) {
        r->m.limited[RL_CONN_CHANGES]++;
        relay_reject(r, WEFT_PROTO_ERATE_LIMITED);
        session_send_error(s, WEFT_PROTO_ERATE_LIMITED, "connection change limit: frame dropped");
        return;
    }
    if (!ip_take(r, s->ip, IPB_CHANGES, f->n, RL_IP_CHANGES)) {
        relay_reject(r, WEFT_PROTO_ERATE_LIMITED);
        session_send_error(s, WEFT_PROTO_ERATE_LIMITED, "address change limit: frame dropped");
        return;
    }
    if (!bucket_take(&s->sp->changes, r->cfg.space_rate, r->cfg.space_burst, f->n,
                     relay_now_us())) {
        r->m.limited[RL_SPACE_CHANGES]++;
        relay_reject(r, WEFT_PROTO_ERATE_LIMITED);
        session_send_error(s, WEFT_PROTO_ERATE_LIMITED, "space change limit: frame dropped");
        return;
    }
    int rc = token_rate_take(r, s->sp->id, s->tok.id, f->n, &s->wait, on_rate_verdict, s);
    if (rc == RATE_LATER) {
        /* The token's limit is shared by every relay: out of local credit,
         * Redis decides, and the frame (and those after it) waits. */
        s->parked = malloc(len);
        if (s->parked) {
            memcpy(s->parked, p, len);
            s->parked_len = len;
            session_rx(s);
            return;
        }
        session_cancel_wait(s); /* out of memory: allowed, as on a Redis error */
    } else if (!rc) {
        relay_reject(r, WEFT_PROTO_ERATE_LIMITED);
        session_send_error(s, WEFT_PROTO_ERATE_LIMITED, "token rate limit: frame dropped");
        return;
    }
    changes_allowed(s, f);
}

static void changes_allowed(session *s, const weft_frame *f) {
    relay *r = s->r;
    held_ack *h = malloc(sizeof *h + f->n * sizeof h->e[0]);
    if (!h) {
        session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
        return;
    }
    h->next = NULL;
    h->batch = NULL;
    h->n = 0;
    size_t pos = 0, len;
    uint64_t rseq, now = relay_unix_s();
    const uint8_t *rec;
    while (weft_frame_change_next(f, &pos, &rseq, &rec, &len)) {
        ack_entry *e = &h->e[h->n++];
        int rc =
            space_submit(s->sp, rec, len, &s->tok, now, s->id, s->level, &e->status, &e->value);
        if (rc) {
            free(h);
            relay_log("space=%s storage append failed: %s", s->sp->hex, weft_err_name(rc));
            session_fail(s, WEFT_PROTO_ESTORAGE, "storage failure");
            return;
        }
        if (e->status == ACK_PENDING && !h->batch) h->batch = space_batch(s->sp);
    }
    session_hold_ack(s, h);
    if (space_throttled(s->sp)) {
        s->throttled = 1; /* space_events.unthrottle when storage has caught up */
        r->m.redis_pauses++;
        session_rx(s);
    }
}

/* The relay stamps the sender's key (proven by PROOF) into the frame; with
 * Redis, the stamped frame also goes to the other relays when it is a
 * broadcast or its peer is not here. */
static void forward_ephemeral(session *s, const weft_frame *f) {
    static const uint8_t zero[32];
    relay *r = s->r;
    int broadcast = f->type == WEFT_FRAME_PRESENCE && memcmp(f->peer, zero, 32) == 0;
    size_t cap = weft_frame_signal_bound(f->data_len);
    /* A space's members share its ephemeral budget (--eph-rate, bytes per
     * second): what one sender floods, nobody gets, and the relay's work
     * per space stays bounded. Dropped silently, as a lost datagram. */
    if (!bucket_take(&s->sp->eph, r->cfg.eph_rate, r->cfg.eph_burst, (double)cap, relay_now_us())) {
        r->m.eph_dropped_rate++;
        return;
    }
    ephbuf *e = session_eph_new(r, cap);
    if (!e || weft_frame_signal_encode(e->buf + LWS_PRE, cap, &e->len, f->type, s->key, f->data,
                                       f->data_len)) {
        session_eph_unref(e);
        return;
    }
    r->m.eph_frames++;
    size_t sent = session_deliver_ephemeral(s->sp, s, f->peer, broadcast, e);
    if (pubsub_active(r) && (broadcast || !sent))
        pubsub_publish_eph(r, s->sp, f->peer, broadcast, e->buf + LWS_PRE, e->len);
    else if (!sent && f->type == WEFT_FRAME_SIGNAL) {
        /* With Redis the peer may be on another relay: no NO_PEER. */
        relay_reject(r, WEFT_PROTO_ENO_PEER);
        session_send_error(s, WEFT_PROTO_ENO_PEER, "target peer is not connected");
    }
    session_eph_unref(e);
}

/* ---- sealed snapshots (docs/PROTOCOL.md, "Snapshots") ---- */

static void send_snapshot_ack(session *s, uint8_t status, uint64_t value) {
    outmsg *m = session_msg_new(WEFT_FRAME_HEADER_BYTES + 11);
    if (!m || weft_frame_snapshot_ack_encode(m->buf + LWS_PRE, m->len, &m->len, status, value)) {
        session_msg_free(m);
        session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
        return;
    }
    session_push(s, m, 0);
}

/* What the protocol says of a grant chain that does not verify. */
static uint32_t grant_chain_code(int rc) {
    switch (rc) {
    case 0:
        return 0;
    case WEFT_EEXPIRED:
        return WEFT_PROTO_EEXPIRED;
    case WEFT_ECRYPTO:
        return WEFT_PROTO_EBAD_SIGNATURE;
    case WEFT_EDELEGATION:
    case WEFT_ESPACE:
        return WEFT_PROTO_ERIGHTS;
    default:
        return WEFT_PROTO_EBAD_SNAPSHOT;
    }
}

/* An upload: checked as over REST (space_snapshot_check), with the
 * session's token, and the publisher must be the key the session proved.
 * Bounded by --max-frame (the message) and --max-snapshot. Refusals are
 * answered in SNAPSHOT_ACK, never fatal. */
static void handle_snapshot(session *s, const weft_frame *f) {
    relay *r = s->r;
    /* A token only from a session admitted by grant: its grant chain. */
    if (f->snap_flags || f->snap_rseq || (f->token_len && !s->by_grant)) {
        relay_reject(r, WEFT_PROTO_EBAD_SNAPSHOT);
        r->m.snapshots_refused[RELAY_SNAP_MALFORMED]++;
        send_snapshot_ack(s, WEFT_ACK_REJECTED, WEFT_PROTO_EBAD_SNAPSHOT);
        return;
    }
    uint64_t base = 0;
    /* Joiners check a snapshot's publisher by the token stored with it; a
     * session admitted by grant has none, so it sends the grant chain that
     * makes it an admin (weft_grant_chain_verify), kept in its place. Its
     * rights now are its grants' (s->tok, session_grant_rights). */
    const uint8_t *proof = s->tok_bytes;
    size_t proof_len = s->tok_len;
    uint32_t code = 0;
    if (s->by_grant) {
        uint8_t rights = 0;
        code = f->token_len ? grant_chain_code(
                                  weft_grant_chain_verify(&r->be, f->token, f->token_len, s->sp->id,
                                                          s->key, relay_unix_s(), &rights))
                            : WEFT_PROTO_ERIGHTS;
        if (!code && rights < WEFT_RIGHT_ADMIN) code = WEFT_PROTO_ERIGHTS;
        if (code) r->m.snapshots_refused[RELAY_SNAP_RIGHTS]++;
        proof = f->token;
        proof_len = f->token_len;
    }
    if (!code)
        code = space_snapshot_check(s->sp, f->snap, f->snap_len, r->cfg.max_snapshot, &s->tok,
                                    s->key, &base);
    if (!code) {
        int rc = space_snapshot_put(s->sp, base, proof, proof_len, f->snap, f->snap_len, &s->wait,
                                    on_answer, s);
        /* Redis confirms later: the answer (and every frame after this
         * one) waits for it (resume). */
        if (rc == STORAGE_LATER) {
            s->snap_pending = base + 1;
            return;
        }
        if (rc == WEFT_ESTATE)
            code = WEFT_PROTO_ESTALE_SNAPSHOT;
        else if (rc)
            code = WEFT_PROTO_ESTORAGE;
    }
    if (code) {
        relay_reject(r, code);
        send_snapshot_ack(s, WEFT_ACK_REJECTED, code);
        return;
    }
    r->m.snapshots_stored++;
    send_snapshot_ack(s, WEFT_ACK_STORED, base);
}

/* SNAPSHOT_GET: answers SNAPSHOT with the newest snapshot (or an empty
 * one: none held; or USE_REST with no record: too big for this link),
 * then rewinds the session: from here on it is sent every change after
 * the snapshot's base that the snapshot's vector does not cover (none
 * held: every change past its HELLO vector, from relay sequence 1), then
 * a new "synced" ACK. Changes the session was sent before the SNAPSHOT
 * come again after it. */
static void handle_snapshot_get(session *s) {
    relay *r = s->r;
    struct space *sp = s->sp;
    uint8_t *body;
    const uint8_t *rec = NULL, *tok = NULL;
    size_t len = 0, tl = 0;
    uint64_t base = 0;
    if (space_snapshot_newest(sp, &body, &rec, &len, &tok, &tl, &base)) {
        session_fail(s, WEFT_PROTO_ESTORAGE, "storage read failed");
        return;
    }
    uint8_t flags = 0;
    size_t bound = weft_frame_snapshot_bound(tl, len);
    if (body && (bound > r->cfg.max_frame || bound > r->cfg.max_queue / 2)) {
        flags = WEFT_SNAPSHOT_USE_REST;
        bound = weft_frame_snapshot_bound(tl, 0);
    }
    weft_snapshot_header h;
    int bad = body && weft_snapshot_header_decode(&h, rec, len); /* verified on read */
    uint64_t *have = NULL;
    if (body && !bad && sp->n_authors) {
        have = calloc(sp->n_authors, sizeof *have);
        if (!have) bad = 1;
    }
    outmsg *m = bad ? NULL : session_msg_new(bound);
    if (!m || weft_frame_snapshot_encode(m->buf + LWS_PRE, m->len, &m->len, flags, base, tok, tl,
                                         flags ? NULL : rec, flags ? 0 : len)) {
        session_msg_free(m);
        free(have);
        free(body);
        session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
        return;
    }
    if (body) {
        size_t pos = 0;
        const uint8_t *author;
        uint64_t seq;
        while (weft_vv_next(h.vv, h.vv_len, &pos, &author, &seq)) {
            uint32_t a = space_author_find(sp, author);
            if (a < sp->n_authors) have[a] = seq;
        }
        free(s->have);
        s->have = have;
        s->n_have = have ? sp->n_authors : 0;
        r->m.snapshots_served++;
    }
    free(body);
    s->next_rseq = base + 1;
    /* A snapshot is never older than the trim point (space_snapshot_newest
     * skips those); without one, the session stays below it. */
    s->below_trim = s->next_rseq <= sp->trimmed;
    s->synced = 0;
    session_push(s, m, 0);
    session_wake(s);
}

/* Keeps a frame that arrived while the session waits for an answer. */
static void defer_frame(session *s, const uint8_t *p, size_t len) {
    inframe *m = malloc(sizeof *m + len);
    if (!m || s->in_bytes + len > s->r->cfg.max_queue) {
        free(m);
        session_fail(s, WEFT_PROTO_EOVERLOADED, "too many frames waiting");
        return;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->buf, p, len);
    if (s->in_tail)
        s->in_tail->next = m;
    else
        s->in_head = m;
    s->in_tail = m;
    s->in_bytes += len;
}

static void handle_frame(session *s, const uint8_t *p, size_t len) {
    relay *r = s->r;
    if (s->wait && s->state != S_CLOSING) {
        defer_frame(s, p, len);
        return;
    }
    r->m.frames_in++;
    r->m.bytes_in += len;
    if (s->state == S_CLOSING) return;
    if (!bucket_take(&s->frames, r->cfg.conn_rate, r->cfg.conn_burst, 1, relay_now_us())) {
        r->m.limited[RL_CONN_FRAMES]++;
        relay_reject(r, WEFT_PROTO_ERATE_LIMITED);
        session_send_error(s, WEFT_PROTO_ERATE_LIMITED, "connection rate limit: frame dropped");
        return;
    }
    weft_frame f;
    int rc = weft_frame_decode(&f, p, len, r->cfg.max_changes);
    if (rc == WEFT_EVERSION) {
        session_fail(s, WEFT_PROTO_EVERSION, "this relay speaks protocol version 1");
        return;
    }
    if (rc == WEFT_ETOOBIG && f.type == WEFT_FRAME_CHANGES) {
        session_fail(s, WEFT_PROTO_ETOO_MANY_CHANGES, "too many changes in one frame");
        return;
    }
    if (rc) {
        session_fail(s, WEFT_PROTO_EBAD_FRAME, weft_strerror(rc));
        return;
    }
    switch (s->state) {
    case S_HELLO:
        if (f.type != WEFT_FRAME_HELLO)
            session_fail(s, WEFT_PROTO_EUNEXPECTED, "expected HELLO");
        else
            handle_hello(s, &f, p, len);
        return;
    case S_LOADING:
        session_fail(s, WEFT_PROTO_EUNEXPECTED, "expected nothing before CHALLENGE");
        return;
    case S_PROOF:
        if (f.type != WEFT_FRAME_PROOF)
            session_fail(s, WEFT_PROTO_EUNEXPECTED, "expected PROOF");
        else
            handle_proof(s, &f, p, len);
        return;
    default:
        break;
    }
    if (session_expired(s, relay_unix_s())) {
        session_fail(s, WEFT_PROTO_EEXPIRED, session_expired_why(s));
        return;
    }
    switch (f.type) {
    case WEFT_FRAME_CHANGES:
        if (f.with_rseq)
            session_fail(s, WEFT_PROTO_EUNEXPECTED, "clients send changes without relay sequences");
        else
            handle_changes(s, &f, p, len);
        break;
    case WEFT_FRAME_SIGNAL:
    case WEFT_FRAME_PRESENCE:
        forward_ephemeral(s, &f);
        break;
    case WEFT_FRAME_SNAPSHOT:
        handle_snapshot(s, &f);
        break;
    case WEFT_FRAME_SNAPSHOT_GET:
        handle_snapshot_get(s);
        break;
    case WEFT_FRAME_ERROR:
        relay_log("session=%llu client error code=%u fatal=%d", (unsigned long long)s->id, f.code,
                  f.fatal);
        if (f.fatal) {
            /* Unsubscribed while still live: session_unsubscribe (here
             * and at CLOSED) passes over a closing session, and one left
             * on the list would be read by the fan-out once lws frees it. */
            session_unsubscribe(s);
            s->close_status = LWS_CLOSE_STATUS_NORMAL;
            s->state = S_CLOSING;
            lws_callback_on_writable(s->wsi);
        }
        break;
    default:
        session_fail(s, WEFT_PROTO_EUNEXPECTED, "frame not valid from a client");
        break;
    }
}

/* Reassembles fragments; refuses a message above --max-frame as soon as its
 * size is known, without buffering it. */
static int on_receive(session *s, const uint8_t *in, size_t len) {
    relay *r = s->r;
    if (lws_is_first_fragment(s->wsi)) s->rx_len = 0;
    if (s->state == S_CLOSING) return 0;
    if (!lws_frame_is_binary(s->wsi)) {
        session_fail(s, WEFT_PROTO_EBAD_FRAME, "frames are binary messages");
        return 0;
    }
    size_t total = s->rx_len + len + lws_remaining_packet_payload(s->wsi);
    if (total > r->cfg.max_frame) {
        r->m.frames_in++;
        session_fail(s, WEFT_PROTO_ETOO_BIG, "frame exceeds --max-frame");
        if (!lws_is_final_fragment(s->wsi) || lws_remaining_packet_payload(s->wsi)) s->linger = 1;
        return 0;
    }
    int final = lws_is_final_fragment(s->wsi) && lws_remaining_packet_payload(s->wsi) == 0;
    if (final && s->rx_len == 0) { /* the common case: one fragment, no copy */
        handle_frame(s, in, len);
        return 0;
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 4096;
        while (cap < s->rx_len + len)
            cap *= 2;
        uint8_t *p = realloc(s->rx, cap);
        if (!p) {
            session_fail(s, WEFT_PROTO_EINTERNAL, "out of memory");
            return 0;
        }
        s->rx = p;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (final) {
        handle_frame(s, s->rx, s->rx_len);
        s->rx_len = 0;
        if (s->rx_cap > 65536) { /* do not keep a big buffer per idle connection */
            free(s->rx);
            s->rx = NULL;
            s->rx_cap = 0;
        }
    }
    return 0;
}

/* The answer a session waited for came: continues what it was doing. */
static void resume(session *s, int failed) {
    if (s->state == S_CLOSING) return;
    if (s->snap_pending) { /* a snapshot upload storage has answered */
        uint64_t base = s->snap_pending - 1;
        s->snap_pending = 0;
        if (failed) {
            relay_reject(s->r, WEFT_PROTO_ESTORAGE);
            send_snapshot_ack(s, WEFT_ACK_REJECTED, WEFT_PROTO_ESTORAGE);
        } else {
            s->r->m.snapshots_stored++;
            send_snapshot_ack(s, WEFT_ACK_STORED, base);
            if (s->sp) space_snapshot_stored(s->sp);
        }
    }
    uint8_t *p = s->parked;
    size_t len = s->parked_len;
    s->parked = NULL;
    weft_frame f;
    if (s->state == S_LOADING) {
        if (failed || weft_frame_decode(&f, p, len, s->r->cfg.max_changes)) {
            session_fail(s, WEFT_PROTO_ESTORAGE, "cannot load the space");
        } else if (s->creating) { /* the PROOF waited for its new space */
            s->creating = 0;
            s->state = S_PROOF;
            handle_proof(s, &f, p, len);
        } else {
            s->state = S_HELLO;
            hello_ready(s, &f);
        }
    } else if (p && weft_frame_decode(&f, p, len, s->r->cfg.max_changes) == 0) {
        if (s->rate_verdict) {
            changes_allowed(s, &f);
        } else {
            relay_reject(s->r, WEFT_PROTO_ERATE_LIMITED);
            session_send_error(s, WEFT_PROTO_ERATE_LIMITED, "token rate limit: frame dropped");
        }
    }
    free(p);
    /* The frames that came meanwhile, in order, until one waits again. */
    while (!s->wait && s->in_head && s->state != S_CLOSING) {
        inframe *m = s->in_head;
        s->in_head = m->next;
        if (!s->in_head) s->in_tail = NULL;
        s->in_bytes -= m->len;
        handle_frame(s, m->buf, m->len);
        free(m);
    }
    session_rx(s);
}

/* Its space loaded (failed: it could not be), or is as fresh as storage. */
static void on_answer(void *ud, int failed) {
    resume(ud, failed);
}

static void on_rate_verdict(void *ud, int allowed) {
    session *s = ud;
    s->rate_verdict = allowed;
    resume(s, 0);
}

static int callback_weft(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len) {
    session *s = user;
    struct lws_context *ctx = lws_get_context(wsi);
    relay *r = ctx ? lws_context_user(ctx) : NULL;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        /* While draining, new connections are refused at accept; so are
         * an address's connections beyond --ip-accept-rate (before any
         * buffer is allocated for them). */
        if (!r) return 0;
        if (r->draining) return -1;
        return ip_take(r, ip_entry_of_fd(r, (int)(lws_intptr_t)in), IPB_ACCEPT, 1, RL_IP_ACCEPT)
                   ? 0
                   : -1;
    case LWS_CALLBACK_SSL_INFO:
        if (r) tls_on_info(r, wsi, in);
        return 0;
    case LWS_CALLBACK_WSI_CREATE:
        /* Every accepted connection, WebSocket or HTTP, from accept to
         * close: --max-conns bounds them all, so idle HTTP connections
         * cannot starve WebSockets of descriptors, nor the reverse. */
        if (r) r->m.conns_open++;
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (r && r->m.conns_open) r->m.conns_open--;
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        session_open_ws(s, r, wsi);
        if (r->m.conns_open > r->cfg.max_conns) {
            session_fail(s, WEFT_PROTO_EOVERLOADED, "too many connections");
            return 0;
        }
        s->ip = ip_entry_of_fd(r, (int)lws_get_socket_fd(wsi));
        if (s->ip && r->cfg.ip_conns && s->ip->conns >= r->cfg.ip_conns) {
            s->ip = NULL; /* not counted */
            r->m.limited[RL_IP_CONNS]++;
            session_fail(s, WEFT_PROTO_ERATE_LIMITED, "too many connections from this address");
            return 0;
        }
        if (s->ip) s->ip->conns++;
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, r->cfg.handshake_secs);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return session_writeable(s);
    case LWS_CALLBACK_CLOSED:
        if (s->is_ws && s->ip) {
            s->ip->conns--;
            s->ip = NULL;
        }
        if (s->is_ws) session_close_ws(s);
        return 0;
    default:
        break;
    }
    return http_callback(r, wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* A small receive buffer: lws allocates it per connection, and larger
     * messages are reassembled from fragments anyway (on_receive). */
    {"weft", callback_weft, sizeof(session), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the turn and the loop ---- */

/* Sends the session's held ACKs whose changes are durable, in order.
 * Returns 1 when none is left, 0 when some wait for storage, -1 when the
 * session failed (it left the held list). */
static int release_acks(session *s) {
    while (s->held_head) {
        held_ack *h = s->held_head;
        if (h->batch) {
            int st = storage_batch_state(h->batch);
            if (st < 0) {
                session_fail(s, WEFT_PROTO_ESTORAGE, "storage append not confirmed");
                return -1;
            }
            if (st == 0) return 0;
            storage_batch_resolve(h->batch, h->e, h->n);
            storage_batch_unref(h->batch);
            h->batch = NULL;
        }
        s->held_head = h->next;
        outmsg *m = session_msg_new(12 + (size_t)h->n * 11);
        if (m) {
            weft_frame_ack_begin(m->buf + LWS_PRE, m->len, &m->len, s->next_rseq - 1);
            for (uint32_t i = 0; i < h->n; i++)
                weft_frame_ack_add(m->buf + LWS_PRE, 12 + (size_t)h->n * 11, &m->len,
                                   h->e[i].status, h->e[i].value);
            session_push(s, m, 0);
        }
        free(h);
        if (s->state == S_CLOSING) return -1; /* the push found the queue full */
    }
    s->held_tail = NULL;
    return 1;
}

/* Tells the space's live admin sessions that a snapshot is wanted once
 * its durable log is --snapshot-wanted records past the newest one (and
 * again after as many more): only they may publish (SECURITY.md), and a
 * trimming relay can only trim behind one. */
static void want_snapshot(relay *r, struct space *sp) {
    uint64_t every = r->cfg.snapshot_wanted, base;
    if (!every || sp->durable < every || space_snapshot_base(sp, &base) ||
        sp->durable - base < every)
        return;
    for (session *s = sp->subs; s; s = s->sp_next) {
        if (!s->is_ws || s->state != S_LIVE || sp->durable - s->wanted_at < every ||
            weft_token_allows(&s->tok, s->key, WEFT_RIGHT_ADMIN))
            continue;
        s->wanted_at = sp->durable;
        char msg[96];
        snprintf(msg, sizeof msg, "%llu records past the newest snapshot (base %llu)",
                 (unsigned long long)(sp->durable - base), (unsigned long long)base);
        session_send_error(s, WEFT_PROTO_ESNAPSHOT_WANTED, msg);
        r->m.snapshots_wanted++;
        session_wake(s);
    }
}

void relay_after_turn(relay *r) {
    /* Group commit: the turn's batches go to storage; a local backend
     * answers them before this returns. */
    r->storage->ops->end_turn(r->storage);
    /* What storage answered goes out; what it answers later stays held. */
    session *after;
    for (session *s = r->held; s; s = after) {
        after = s->held_next; /* releasing s unlinks at most s itself */
        int st = s->is_ws ? release_acks(s) : http_release(s, 0);
        if (st > 0) session_unhold(s); /* < 0: failed, it unlinked itself */
    }
    struct space *woken = space_take_woken(r);
    for (struct space *sp = woken; sp; sp = sp->woken_next) {
        uint64_t end = sp->durable > sp->trimmed ? space_rec(sp, sp->durable)->cum : 0;
        session *next;
        for (session *s = sp->subs; s; s = next) {
            next = s->sp_next;
            if (s->synced && s->next_rseq > 1) {
                uint64_t sent =
                    s->next_rseq > sp->trimmed + 1 ? space_rec(sp, s->next_rseq - 1)->cum : 0;
                if (end - sent > r->cfg.max_queue) {
                    r->m.slow_dropped++;
                    session_fail(s, WEFT_PROTO_ESLOW_CONSUMER, "reader fell too far behind");
                    continue;
                }
            }
            session_wake(s);
        }
        want_snapshot(r, sp);
    }
}

/* Every 100 ms: prune idle limit entries every minute. The timer also
 * bounds how long a stop request waits for the loop to notice it. */
/* A blob the sweep deleted: its bytes leave its space's quota, when the
 * space is open (one opened later counts its files afresh). */
static void blob_freed(void *ud, const uint8_t space_id[32], uint64_t bytes) {
    relay *r = ud;
    struct space *sp = weft__idtab_get(&r->spaces, space_id);
    if (sp) sp->blob_bytes = sp->blob_bytes > bytes ? sp->blob_bytes - bytes : 0;
}

static void tick(lws_sorted_usec_list_t *sul) {
    server_state *t = lws_container_of(sul, server_state, sul);
    if (t->r->reload) { /* SIGHUP */
        t->r->reload = 0;
        admit_reload(t->r->admit);
        tls_reload(t->r);
    }
    if (++t->ticks % 600 == 0) {
        rl_prune(t->r->token_buckets, relay_now_us(), 120000000u);
        rl_prune(t->r->ip_limits, relay_now_us(), 120000000u);
    }
    if (t->ticks % (SPACE_PARK_PERIOD_S * 10) == 0) space_expire_parked(t->r);
    if (t->ticks % 10 == 0) {
        session_expire_all(t->r, relay_unix_s());
        space_unload_idle(t->r, relay_now_us());
        space_trim_due(t->r, relay_now_us());
    }
    /* Files nobody renewed: every minute, or every half grace when that
     * is shorter (tests use seconds). */
    int grace = t->r->cfg.blob_grace_secs;
    int every = grace / 2 < 60 ? (grace / 2 > 0 ? grace / 2 : 1) : 60;
    if (t->ticks % (10 * (uint64_t)every) == 0)
        t->r->m.blobs_deleted +=
            blobs_sweep(t->r->blobs, relay_unix_s(), (uint64_t)grace, 256, blob_freed, t->r);
    t->r->storage->ops->tick(t->r->storage);
    lws_sul_schedule(t->r->ctx, 0, &t->sul, tick, 100 * LWS_US_PER_MS);
}

/* ---- what spaces tell their sessions (space_events) ---- */

static void space_closing_cb(void *ud, struct space *sp, uint32_t code) {
    session_close_space(ud, sp, code);
}

static void space_unthrottle_cb(void *ud, struct space *sp) {
    (void)ud;
    session_unthrottle(sp);
}

static void space_trimmed_cb(void *ud, struct space *sp, uint64_t trimmed) {
    relay *r = ud;
    for (session *s = r->sessions; s; s = s->all_next)
        if (s->sp == sp && s->state == S_LIVE && !s->below_trim && s->next_rseq <= trimmed)
            tell_trimmed(s);
}

static void space_level_cb(void *ud, struct space *sp, uint32_t level) {
    relay *r = ud;
    for (session *s = r->sessions; s; s = s->all_next)
        if (s->sp == sp && s->state != S_CLOSING && s->level < level) refuse_old_client(s, level);
}

static void space_revoked_cb(void *ud, struct space *sp, const uint8_t key[32]) {
    relay *r = ud;
    uint64_t now = relay_unix_s();
    for (session *s = r->sessions; s; s = s->all_next) {
        if (s->sp != sp || s->state == S_CLOSING) continue;
        if (memcmp(s->key, key, 32) == 0) {
            refuse_removed(s);
            continue;
        }
        /* Removing an admin voids the grants it signed: the keys admitted
         * by them go too. */
        uint32_t why = s->by_grant && s->state == S_LIVE ? session_grant_rights(s, now) : 0;
        if (why) grant_refused(s, why);
    }
}

/* A frame from another relay: its sender's relay charged the space's
 * budget there; here it is copied once and shared. */
static void space_ephemeral_cb(void *ud, struct space *sp, const uint8_t peer[32], int broadcast,
                               const uint8_t *frame, size_t len) {
    ephbuf *e = session_eph_new(ud, len);
    if (!e) return;
    memcpy(e->buf + LWS_PRE, frame, len);
    e->len = len;
    session_deliver_ephemeral(sp, NULL, peer, broadcast, e);
    session_eph_unref(e);
}

int server_start(relay *r) {
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = r->cfg.port;
    info.iface = r->cfg.listen_host[0] ? r->cfg.listen_host : NULL;
    info.protocols = protocols;
    info.user = r;
    info.max_http_header_pool = 1024;
    info.timeout_secs = 20;
    info.fd_limit_per_thread = r->cfg.max_conns + 64;
    tls_context_options(r, &info);
    r->srv = calloc(1, sizeof *r->srv);
    if (!r->srv) return -1;
    r->srv->r = r;
    r->ctx = lws_create_context(&info);
    if (!r->ctx) {
        relay_log("cannot listen on %s:%d", r->cfg.listen_host, r->cfg.port);
        free(r->srv);
        r->srv = NULL;
        return -1;
    }
    r->space_ev = (space_events){space_closing_cb,
                                 space_unthrottle_cb,
                                 space_ephemeral_cb,
                                 space_level_cb,
                                 space_trimmed_cb,
                                 space_revoked_cb,
                                 r};
    lws_sul_schedule(r->ctx, 0, &r->srv->sul, tick, 100 * LWS_US_PER_MS);
    relay_log("listening on %s:%d%s storage=%s", r->cfg.listen_host, r->cfg.port,
              r->cfg.tls_cert ? " (TLS)" : "", r->cfg.storage);
    return 0;
}

int server_run(relay *r) {
    while (!r->stop) {
        if (lws_service(r->ctx, 0) < 0) break;
        relay_after_turn(r);
    }
    /* Drain: refuse new connections, make everything durable and acked,
     * then tell every client we are going away and give them a moment. */
    relay_log("draining: %llu connections", (unsigned long long)r->m.ws_open);
    r->draining = 1;
    relay_after_turn(r);
    /* Batches storage answers later (Redis) get their answer (and their
     * ACKs) first. */
    uint64_t until = relay_now_us() + 2000000u;
    while (r->storage->ops->busy(r->storage) && relay_now_us() < until) {
        if (lws_service(r->ctx, 0) < 0) break;
        relay_after_turn(r);
    }
    for (session *s = r->sessions; s; s = s->all_next) {
        s->close_status = LWS_CLOSE_STATUS_GOINGAWAY;
        if (s->state == S_CLOSING) continue;
        session_fail(s, WEFT_PROTO_EGOING_AWAY, "relay shutting down");
    }
    uint64_t deadline = relay_now_us() + 3000000u;
    while (r->m.ws_open > 0 && relay_now_us() < deadline) {
        if (lws_service(r->ctx, 0) < 0) break;
        relay_after_turn(r);
    }
    lws_sul_cancel(&r->srv->sul);
    r->storage->ops->shutdown(r->storage);
    lws_context_destroy(r->ctx);
    r->ctx = NULL;
    free(r->srv->scratch);
    free(r->srv);
    r->srv = NULL;
    http_free(r);
    relay_log("stopped");
    return 0;
}
