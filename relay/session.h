/*
 * Sessions: one per connection, WebSocket or HTTP (libwebsockets sizes the
 * struct by the protocol table and hands it to every callback). This module
 * owns what a session is and the lists it sits on: the outbound queue of
 * control frames, the space's subscriber list, and the relay's held list
 * (sessions whose ACKs or POST answer wait for the end-of-turn flush).
 *
 * Invariants: a session is on its space's subscriber list exactly while
 * its state is S_LIVE; it is on r->held exactly while in_held is set (the
 * list is doubly linked: unholding is O(1)); a session in S_CLOSING never
 * goes back, sends only its queued control frames, then is closed; s->wait
 * is the one answer it waits for (a space loading, a shared rate verdict,
 * a delete), cancelled when the session closes first.
 *
 * The frame handling (what each frame does) lives in server.c and the
 * REST handling in http.c; both build on the calls below.
 */
#ifndef WEFT_RELAY_SESSION_H
#define WEFT_RELAY_SESSION_H

#include "ratelimit.h"
#include "relay.h"
#include "space.h"

#include <libwebsockets.h>

struct http_state;

/* An ephemeral frame (SIGNAL or PRESENCE, stamped), shared by every queue
 * it sits in: one buffer per frame however many readers get it, freed with
 * its last reference. lws_write puts the WebSocket header into the
 * headroom before the bytes; a server's header is the same for every
 * reader (no mask), so writing it again for each one changes nothing. */
typedef struct ephbuf {
    relay *r;
    uint32_t refs;
    size_t len, cap;
    uint8_t buf[]; /* LWS_PRE bytes of headroom, then len bytes */
} ephbuf;

/* One queued frame: its own bytes, or a reference to a shared ephemeral
 * frame (eph set, buf empty). */
typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    ephbuf *eph;
    uint8_t buf[]; /* LWS_PRE bytes of headroom, then len bytes */
} outmsg;

typedef struct held_ack {
    struct held_ack *next;
    storage_batch *batch; /* the batch its pending entries wait for */
    uint32_t n;
    ack_entry e[];
} held_ack;

/* S_LOADING: HELLO checked, waiting for its space to load (or, with
 * creating set, PROOF checked, waiting for the space it created). */
enum session_state { S_NONE, S_HELLO, S_LOADING, S_PROOF, S_LIVE, S_CLOSING };

/* Frames that arrived while the session waited, handled in order after. */
typedef struct inframe {
    struct inframe *next;
    size_t len;
    uint8_t buf[];
} inframe;

typedef struct session {
    relay *r;
    struct lws *wsi;
    uint64_t id;
    int is_ws, state;
    struct session *all_prev, *all_next; /* every WebSocket session */
    struct space *sp;                  /* NULL until PROOF when the space did not exist at HELLO */
    uint8_t space_id[32];              /* the HELLO's */
    struct session *sp_prev, *sp_next; /* the space's live subscribers */
    uint8_t key[32], nonce[32];
    weft_token tok;
    uint8_t *tok_bytes; /* the HELLO's token as sent (kept with a snapshot it admits) */
    size_t tok_len;
    uint64_t deadline; /* unix s the token stops being valid (0: never); see session_expired */
    int by_grant;      /* HELLO flag WEFT_HELLO_GRANT: admitted by its grant, s->tok made from it */
    uint8_t *claim;    /* by grant: the HELLO's invite claim, admitted at PROOF (NULL: none) */
    size_t claim_len;
    uint32_t level;    /* the format level the client reads (1 without a versions block) */
    int versions;      /* its HELLO carried a versions block: CHALLENGE answers with one */
    int reads_members; /* its HELLO set WEFT_HELLO_MEMBERS: membership records go to it */
    uint64_t *have;    /* the client's HELLO vector by space author index */
    size_t n_have;
    uint64_t next_rseq;    /* next relay sequence to consider sending */
    uint64_t catchup_head; /* space's durable head when the session went live */
    int synced;            /* the "caught up" ACK went out */
    int below_trim;        /* it lacks history the space trimmed: nothing is sent to it
                              until it loads the snapshot (SNAPSHOT_GET) */
    uint64_t snap_pending; /* an upload storage confirms later: its base + 1 (0: none) */
    uint64_t wanted_at;    /* the durable head when it was last told SNAPSHOT_WANTED */
    uint8_t *rx;           /* the message being reassembled from fragments */
    size_t rx_len, rx_cap;
    outmsg *q_head, *q_tail;
    size_t q_bytes;                  /* bytes of every queued frame, shared ones included */
    size_t q_eph;                    /* how many of the queued frames are shared ephemeral ones */
    held_ack *held_head, *held_tail; /* ACKs waiting for the end-of-turn flush */
    struct session *held_prev, *held_next; /* r->held */
    int in_held;
    int close_status;     /* WebSocket close code after the final frame */
    bucket frames;        /* per-connection frame rate */
    bucket changes;       /* per-connection changes submitted (--conn-verify-rate) */
    rl_entry *ip;         /* its address's limits; counted in ip->conns (WebSocket) */
    uint64_t admit_quota; /* the HELLO admission's byte quota for its space (0: none) */
    struct http_state *http;
    waiter *wait;     /* an answer this session waits for (owned by who answers) */
    int rate_verdict; /* the shared rate limit's answer */
    uint8_t *parked;  /* the HELLO or CHANGES frame that waits */
    size_t parked_len;
    inframe *in_head, *in_tail; /* frames waiting behind a rate answer */
    size_t in_bytes;
    int throttled; /* reading paused: too many appends in flight */
    int rx_off;    /* lws_rx_flow_control said so */
    int linger;    /* 1: the rest of a refused oversized message is still arriving;
                      2: half-closed, dropping it until the client closes (server.c) */
    int creating;  /* S_LOADING: the parked frame is the PROOF */
} session;

/* A control frame of len bytes (at m->buf + LWS_PRE), or NULL. */
outmsg *session_msg_new(size_t len);

/* The frame's bytes (LWS_PRE bytes of headroom before them), and freeing a
 * frame (its shared ephemeral buffer loses a reference). NULL is a no-op. */
static inline uint8_t *outmsg_bytes(outmsg *m) {
    return (m->eph ? m->eph->buf : m->buf) + LWS_PRE;
}
void session_msg_free(outmsg *m);

/* A shared ephemeral frame of at most cap bytes, with one reference (the
 * caller's), counted in the ephemeral_bytes_held gauge until freed. NULL
 * when out of memory. */
ephbuf *session_eph_new(relay *r, size_t cap);
/* Drops a reference; the last one frees. NULL is a no-op. */
void session_eph_unref(ephbuf *e);

/* Queues a control frame (front: before the others) and asks for a
 * WRITEABLE. A queue over --max-queue means the client is not reading: its
 * queued ephemeral frames go first (dropped, counted); if that is not
 * enough, the session fails with SLOW_CONSUMER. Takes m over. */
void session_push(session *s, outmsg *m, int front);

/* Queues a non-fatal ERROR frame. */
void session_send_error(session *s, uint32_t code, const char *msg);

/* A fatal error: the session leaves its space and the held list, drops
 * its queue (but for GOING_AWAY, whose ACKs still go first), queues the
 * ERROR frame, and closes once it is written (or after a 2 s timeout). A
 * closing session is left as it is. */
void session_fail(session *s, uint32_t code, const char *msg);

/* Whether the session has something to write; session_wake asks lws for a
 * WRITEABLE when it has. */
int session_has_work(const session *s);
void session_wake(session *s);

/* Points the session at its space (NULL: at none), keeping the space's
 * count of sessions (an idle space has none: space_unload_idle). */
void session_set_space(session *s, struct space *sp);

/* Whether the session's token has expired at now (unix s). A delegated
 * token never outlives its parent (weft_token_verify refuses one that
 * would), so the token's own expiry is the whole chain's. A session
 * admitted by grant reads its grants again once its deadline passes (a
 * renewal moves it). Checked before every delivery (session_writeable,
 * ephemeral fan-out), every frame a live session sends, and once a second
 * for every live session (session_expire_all): an expired session gets
 * EXPIRED and is closed. */
int session_expired(session *s, uint64_t now);

/* The sentence an expired session is failed with. */
static inline const char *session_expired_why(const session *s) {
    return s->by_grant ? "access lapsed: ask an admin to renew it" : "token expired";
}

/* A session admitted by grant: its rights and end from the space's
 * membership fold at now (s->tok and s->deadline follow). Returns 0, or
 * the protocol error that refuses it: REVOKED, EXPIRED (every grant
 * ended) or NOT_MEMBER (no grant). */
uint32_t session_grant_rights(session *s, uint64_t now);

/* Fails every live session whose token has expired at now (unix s), so
 * that one with nothing to receive does not stay open either. Called once
 * a second: one walk of the session list. */
void session_expire_all(relay *r, uint64_t now);

/* Joins or leaves its space's subscribers (live sessions only). */
void session_subscribe(session *s);
void session_unsubscribe(session *s);

/* Joins or leaves the relay's held list (no-op when already so). */
void session_hold(session *s);
void session_unhold(session *s);
/* Holds one more ACK frame for the end-of-turn flush. Takes h over. */
void session_hold_ack(session *s, held_ack *h);

/* Tells lws to stop or resume reading the client as s->throttled says. */
void session_rx(session *s);

/* Cancels the answer the session waits for: it will find nobody. */
void session_cancel_wait(session *s);

/* Fails every open session of sp with code (its space is going). */
void session_close_space(relay *r, struct space *sp, uint32_t code);

/* Sessions of sp that stopped reading because too many appends were in
 * flight may read again. */
void session_unthrottle(struct space *sp);

/* Queues a shared ephemeral frame (stamped) for the space's live sessions
 * other than `except`: the one(s) with key `peer`, or all when broadcast.
 * A session whose queue it would take over --max-queue does not get it
 * (ephemeral_dropped, slow_reader): ephemeral frames are the first thing a
 * slow reader loses, before its connection. Each queue takes a reference;
 * the caller keeps its own. Returns the number of sessions that were
 * addressed (queued or dropped). */
size_t session_deliver_ephemeral(struct space *sp, const session *except, const uint8_t peer[32],
                                 int broadcast, ephbuf *e);

/* A new WebSocket session on wsi: linked into r->sessions. */
void session_open_ws(session *s, relay *r, struct lws *wsi);

/* Frees everything a WebSocket session holds and unlinks it (CLOSED). */
void session_close_ws(session *s);

#endif
