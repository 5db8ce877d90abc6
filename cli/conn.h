/*
 * One blocking client connection to a relay, plain TCP or TLS (https://,
 * wss://), for the CLI's small HTTP client (sync.c).
 *
 * TLS verifies the relay's certificate against OpenSSL's default trust
 * store, which honours SSL_CERT_FILE and SSL_CERT_DIR (a private CA:
 * SSL_CERT_FILE=ca.pem weft sync ...), and checks that it names the host.
 * Every read and write gives up after timeout_ms.
 */
#ifndef WEFT_CLI_CONN_H
#define WEFT_CLI_CONN_H

#include <stddef.h>
#include <sys/types.h>

/* Where a relay is: from "http://", "https://", "ws://" or "wss://" URLs. */
typedef struct endpoint {
    char host[256];
    char port[16];
    int tls; /* https:// or wss:// */
} endpoint;

/* Parses "SCHEME://host[:port][/path]" (the path is ignored; the port
 * defaults to 80, or 443 with TLS). OUT: *ep. Returns 0 or -1. */
int endpoint_parse(endpoint *ep, const char *url);

typedef struct conn {
    int fd;
    struct ssl_ctx_st *ctx; /* TLS only */
    struct ssl_st *ssl;
} conn;

/* Connects (and with TLS, handshakes and verifies). OUT: *c. Returns 0, or
 * -1 with the reason in err (nothing to close then). */
int conn_open(conn *c, const endpoint *ep, int timeout_ms, char *err, size_t err_cap);

/* Writes all of p. Returns 0 or -1. */
int conn_write(conn *c, const void *p, size_t n);

/* Reads what is there, up to cap. Returns the count, 0 at the end of the
 * stream, -1 on an error or a timeout. */
ssize_t conn_read(conn *c, void *p, size_t cap);

/* Closes; harmless on a conn already closed, or one conn_open failed. */
void conn_close(conn *c);

#endif
