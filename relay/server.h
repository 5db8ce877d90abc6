/*
 * The server: the libwebsockets context, its one protocol callback, what
 * each sync-protocol frame does to a session (session.h), and the loop with
 * its end-of-turn work. WebSocket connections speak the sync protocol
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

typedef struct server_state server_state;

/* Creates the lws context listening on cfg's address and sets the
 * relay's space_events (spaces tell their sessions through them). Returns
 * 0 or -1. */
int server_start(relay *r);

/* Runs the event loop until SIGTERM/SIGINT, then drains: refuses new
 * connections, flushes, closes every client with GOING_AWAY, and returns
 * within about 3 s. Returns 0. */
int server_run(relay *r);

/* Ends the event-loop turn: group commit (one flush for everything stored
 * this turn), then ACKs, then wakes the spaces' subscribers. */
void relay_after_turn(relay *r);

#endif
