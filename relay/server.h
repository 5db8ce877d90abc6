/*
 * The server: the libwebsockets context, its one protocol callback, and the
 * per-connection session. WebSocket connections speak the sync protocol
 * (docs/PROTOCOL.md); plain HTTP requests on the same port go to http.c.
 *
 * Writes happen only in the WRITEABLE callback, one frame per callback,
 * with LWS_PRE headroom. A session's outbound data is bounded: control
 * frames (CHALLENGE, ACK, ERROR, SIGNAL, PRESENCE) sit in a small queue, and
 * changes are not queued at all: the session pulls them from its space's
 * storage by relay sequence when the socket can take more. A reader that
 * falls more than --max-queue bytes behind is dropped with SLOW_CONSUMER, so
 * it costs the others nothing.
 */
#ifndef WEFT_RELAY_SERVER_H
#define WEFT_RELAY_SERVER_H

#include "relay.h"
#include "ratelimit.h"

#include <libwebsockets.h>

struct space;
struct http_state;
typedef struct server_state server_state;

typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    uint8_t buf[]; /* LWS_PRE bytes of headroom, then len bytes */
} outmsg;

typedef struct held_ack {
    struct held_ack *next;
    struct append_batch *batch; /* redis: the batch its pending entries wait for */
    uint32_t n;
    struct ack_entry {
        uint8_t status;
        uint64_t value;
    } e[];
} held_ack;

/* S_LOADING: HELLO checked, waiting for its space to load (redis). */
enum session_state { S_NONE, S_HELLO, S_LOADING, S_PROOF, S_LIVE, S_CLOSING };

/* A cancellable reference to a session, for answers that come later (a
 * space loading, a shared rate limit): whoever will answer owns it; the
 * session clears w->s when it closes first. */
typedef struct waiter {
    struct session *s;
} waiter;

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
    struct space *sp;
    struct session *sp_prev, *sp_next; /* the space's live subscribers */
    uint8_t key[32], nonce[32];
    weft_token tok;
    uint64_t *have; /* the client's HELLO vector by space author index */
    size_t n_have;
    uint64_t next_rseq;    /* next relay sequence to consider sending */
    uint64_t catchup_head; /* space's durable head when the session went live */
    int synced;            /* the "caught up" ACK went out */
    uint8_t *rx;           /* the message being reassembled from fragments */
    size_t rx_len, rx_cap;
    outmsg *q_head, *q_tail;
    size_t q_bytes;
    held_ack *held_head, *held_tail; /* ACKs waiting for the end-of-turn flush */
    struct session *held_next;
    int in_held;
    int close_status; /* WebSocket close code after the final frame */
    bucket frames;    /* per-connection frame rate */
    struct http_state *http;
    /* redis */
    waiter *wait;     /* an answer this session waits for */
    int rate_verdict; /* the shared rate limit's answer */
    uint8_t *parked;  /* the HELLO or CHANGES frame that waits */
    size_t parked_len;
    inframe *in_head, *in_tail; /* frames waiting behind a rate answer */
    size_t in_bytes;
    int throttled; /* reading paused: too many appends in flight */
    int rx_off;    /* lws_rx_flow_control said so */
} session;

/* Creates the lws context listening on cfg's address. Returns 0 or -1. */
int server_start(relay *r);

/* Runs the event loop until SIGTERM/SIGINT, then drains: refuses new
 * connections, flushes, closes every client with GOING_AWAY, and returns
 * within about 3 s. Returns 0. */
int server_run(relay *r);

/* Ends the event-loop turn: group commit (one flush for everything stored
 * this turn), then ACKs, then wakes the spaces' subscribers. */
void relay_after_turn(relay *r);

/* Closes every live session of a space (before it is deleted). */
void server_close_space_sessions(relay *r, struct space *sp, uint32_t code);

/* A waiter's answer came: a space loaded (failed: it could not be), or a
 * shared rate verdict. Continues what the session was doing. */
void server_resume(struct session *s, int failed);

/* Sessions of sp that stopped reading because of --redis-max-inflight may
 * read again. */
void server_unthrottle(struct space *sp);

/* Delivers an ephemeral frame (stamped) to the space's live sessions
 * other than `except`: the one(s) with key `peer`, or all when broadcast.
 * Returns the number of sessions it was queued for. */
size_t server_deliver_ephemeral(struct space *sp, const struct session *except,
                                const uint8_t peer[32], int broadcast, const uint8_t *frame,
                                size_t len);

#endif
