/*
 * A tiny blocking WebSocket and HTTP/1.1 client over POSIX sockets, for the
 * relay tests. Blocking with explicit timeouts keeps every test
 * deterministic: a test waits for exactly the frame it expects, for at most
 * the time it names. Client frames are masked (RFC 6455 requires it); pings
 * are answered; a close frame ends wsc_recv with its status code.
 */
#ifndef WEFT_TEST_WSCLIENT_H
#define WEFT_TEST_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct wsc {
    int fd;
    uint8_t *buf; /* received, not yet parsed bytes */
    size_t len, cap;
    uint8_t *msg; /* the last message returned (valid until the next recv) */
    size_t msg_cap;
    uint32_t rng;
    int close_code; /* status of the close frame received, 0 if none */
    void *ssl;      /* an OpenSSL SSL when wsc_use_tls is on */
} wsc;

/* From now on, every connection of this process (WebSocket and HTTP)
 * speaks TLS to "localhost", trusting only the CA in ca_file; NULL: plain
 * TCP again. For tests and benches of a relay with --tls-cert. Returns 0
 * or -1. */
int wsc_use_tls(const char *ca_file);

/* Bytes received and not yet parsed, TLS buffers included: a caller that
 * polls the socket must read these first. */
size_t wsc_buffered(const wsc *c);

#define WSC_TIMEOUT (-2)
#define WSC_CLOSED  (-3)

/* Connects and upgrades (subprotocol "weft"). rcvbuf > 0 sets SO_RCVBUF
 * first (a small receive window makes a slow reader). Returns 0 or -1. */
int wsc_connect(wsc *c, int port, int rcvbuf, int timeout_ms);

/* Sends one message (opcode 2 binary, 1 text) as `frags` fragments (>= 1).
 * Returns 0 or -1. */
int wsc_send(wsc *c, const uint8_t *p, size_t n, int opcode, int frags);

/* Receives the next data message. OUT: *msg (borrowed until the next call),
 * *len. Returns 0, WSC_TIMEOUT, WSC_CLOSED (close frame or EOF; close_code
 * says which) or -1. */
int wsc_recv(wsc *c, const uint8_t **msg, size_t *len, int timeout_ms);

/* Sends a close frame (if fd is open) and closes the socket. */
void wsc_close(wsc *c);

/* One HTTP/1.1 request with Connection: close. headers: extra header lines,
 * each ending in "\r\n" (may be NULL). OUT: *status, *body (malloc'd, NUL
 * terminated, caller frees), *resp_len, and *hdrs (the status line and
 * headers, malloc'd, NUL terminated) when hdrs is not NULL. Returns 0 or -1. */
int http_request(int port, const char *method, const char *path, const char *headers,
                 const uint8_t *body, size_t body_len, int *status, char **resp, size_t *resp_len,
                 char **hdrs, int timeout_ms);

#endif
