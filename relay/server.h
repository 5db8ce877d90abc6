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

typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    uint8_t buf[]; /* LWS_PRE bytes of headroom, then len bytes */
} outmsg;

typedef struct held_ack {
    struct held_ack *next;
    uint32_t n;
    struct ack_entry {
        uint8_t status;
        uint64_t value;
    } e[];
} held_ack;

enum session_state { S_NONE, S_HELLO, S_PROOF, S_LIVE, S_CLOSING };

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

#endif
