/*
 * HTTP on the relay's port: health and readiness probes, Prometheus
 * metrics, the REST log API and static files (docs/RELAY.md). Called from
 * the server's protocol callback for every reason it does not handle itself;
 * the per-connection state hangs off the session.
 */
#ifndef WEFT_RELAY_HTTP_H
#define WEFT_RELAY_HTTP_H

#include "relay.h"

#include <libwebsockets.h>

int http_callback(relay *r, struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);

struct session;

/* Answers a POST held for the end of the turn (failed: answer that
 * nothing was made durable) once the storage batch its changes joined is
 * answered. Returns 0 while the batch waits (storage that answers later:
 * call again next turn), 1 once the POST was answered. */
int http_release(struct session *s, int failed);

/* Frees what HTTP keeps on the relay (the proofs accepted lately). */
void http_free(relay *r);

#endif
