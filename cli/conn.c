/* A blocking TCP or TLS connection to a relay (conn.h). */
#define _POSIX_C_SOURCE 200809L
#include "conn.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int endpoint_parse(endpoint *ep, const char *url) {
    memset(ep, 0, sizeof *ep);
    static const struct {
        const char *scheme;
        int tls;
    } schemes[] = {{"http://", 0}, {"ws://", 0}, {"https://", 1}, {"wss://", 1}};
    const char *p = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && !p; i++)
        if (strncmp(url, schemes[i].scheme, strlen(schemes[i].scheme)) == 0) {
            p = url + strlen(schemes[i].scheme);
            ep->tls = schemes[i].tls;
        }
    if (!p) return -1;
    size_t hl = strcspn(p, ":/");
    if (!hl || hl >= sizeof ep->host) return -1;
    memcpy(ep->host, p, hl);
    if (p[hl] == ':') {
        size_t pl = strcspn(p + hl + 1, "/");
        if (!pl || pl >= sizeof ep->port) return -1;
        memcpy(ep->port, p + hl + 1, pl);
    } else {
        snprintf(ep->port, sizeof ep->port, "%s", ep->tls ? "443" : "80");
    }
    return 0;
}

static void tls_error(char *err, size_t cap, const endpoint *ep, SSL *ssl) {
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    char why[200] = "handshake failed";
    if (v != X509_V_OK)
        snprintf(why, sizeof why, "certificate not trusted: %s (a private CA? set SSL_CERT_FILE)",
                 X509_verify_cert_error_string(v));
    else if (ERR_peek_last_error())
        ERR_error_string_n(ERR_peek_last_error(), why, sizeof why);
    ERR_clear_error();
    snprintf(err, cap, "TLS with the relay at %s:%s: %s", ep->host, ep->port, why);
}

int conn_open(conn *c, const endpoint *ep, int timeout_ms, char *err, size_t err_cap) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(ep->host, ep->port, &hints, &ai);
    if (g) {
        snprintf(err, err_cap, "cannot resolve %s: %s", ep->host, gai_strerror(g));
        return -1;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    for (struct addrinfo *a = ai; a && c->fd < 0; a = a->ai_next) {
        c->fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (c->fd < 0) continue;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(c->fd, a->ai_addr, a->ai_addrlen)) {
            close(c->fd);
            c->fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (c->fd < 0) {
        snprintf(err, err_cap, "cannot connect to the relay at %s:%s: %s (is it running?)",
                 ep->host, ep->port, strerror(errno));
        return -1;
    }
    if (!ep->tls) return 0;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx || !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) ||
        SSL_CTX_set_default_verify_paths(c->ctx) != 1 || !(c->ssl = SSL_new(c->ctx))) {
        tls_error(err, err_cap, ep, NULL);
        conn_close(c);
        return -1;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
    /* The certificate must name the host (a DNS name or an IP address). */
    X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
    int is_ip = X509_VERIFY_PARAM_set1_ip_asc(param, ep->host) == 1;
    if (!is_ip) {
        SSL_set_tlsext_host_name(c->ssl, ep->host);
        SSL_set1_host(c->ssl, ep->host);
    }
    if (SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
        tls_error(err, err_cap, ep, c->ssl);
        conn_close(c);
        return -1;
    }
    return 0;
}

int conn_write(conn *c, const void *p, size_t n) {
    const char *b = p;
    while (n) {
        ssize_t w;
        if (c->ssl) {
            int k = SSL_write(c->ssl, b, n > 1u << 30 ? 1 << 30 : (int)n);
            w = k > 0 ? k : -1;
        } else {
            w = send(c->fd, b, n, MSG_NOSIGNAL);
        }
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t conn_read(conn *c, void *p, size_t cap) {
    if (!c->ssl) return recv(c->fd, p, cap, 0);
    errno = 0;
    int k = SSL_read(c->ssl, p, cap > 1u << 30 ? 1 << 30 : (int)cap);
    if (k > 0) return k;
    /* A close_notify, or a server that just closes after Connection:
     * close: both end the answer. */
    int e = SSL_get_error(c->ssl, k);
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0) ? 0 : -1;
}

void conn_close(conn *c) {
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0) close(c->fd);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}
