/*
 * TLS for weft-relay (--tls-cert, --tls-key): the options the lws context
 * needs, the handshake counters of /metrics, and reloading the certificate
 * on SIGHUP.
 *
 * libwebsockets does the TLS itself (OpenSSL). This module only decides:
 * which files, what counts as a handshake that succeeded or failed, and
 * that a reload changes nothing unless the new pair loads and matches, so
 * a half-written certificate never breaks new connections. Connections
 * already open keep the certificate they were made with (OpenSSL copies it
 * into each connection), so a reload drops none of them.
 */
#ifndef WEFT_RELAY_TLS_H
#define WEFT_RELAY_TLS_H

#include "relay.h"

struct lws;
struct lws_context_creation_info;

/* Checks that cfg's certificate and key load and belong together. Returns
 * 0 (also when TLS is off) or -1 with the reason written to err. */
int tls_check(const relay_config *cfg, char *err, size_t err_cap);

/* With TLS on, sets the certificate, key and handshake reporting in info
 * (before the context is created). */
void tls_context_options(relay *r, struct lws_context_creation_info *info);

/* LWS_CALLBACK_SSL_INFO: counts handshakes started and finished. A
 * handshake that started and never finished counts as failed when its
 * connection goes. */
void tls_on_info(relay *r, struct lws *wsi, const void *in);

/* SIGHUP: loads the certificate and key files again into every new
 * connection's context. Returns 0, or -1 (the old pair stays in use). */
int tls_reload(relay *r);

#endif
