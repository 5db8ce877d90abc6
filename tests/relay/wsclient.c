/*
 * The test WebSocket/HTTP client (wsclient.h). The handshake uses a fixed
 * Sec-WebSocket-Key: the relay's answer is checked only for its status line,
 * since these tests test the relay, not the client.
 */
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int tcp_connect(int port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* wsc_use_tls: the client context every connection of this process uses
 * (NULL: plain TCP). Test code only, so one process-wide setting. */
static SSL_CTX *tls_ctx;

int wsc_use_tls(const char *ca_file) {
    if (tls_ctx) SSL_CTX_free(tls_ctx);
    tls_ctx = NULL;
    if (!ca_file) return 0;
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx || SSL_CTX_load_verify_locations(tls_ctx, ca_file, NULL) != 1) return -1;
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    /* A read that finds only a TLS 1.3 session ticket returns instead of
     * blocking for data: callers poll again. */
    SSL_CTX_clear_mode(tls_ctx, SSL_MODE_AUTO_RETRY);
    return 0;
}

/* With TLS on, the handshake on a connected socket (for "localhost"). */
static int tls_start(wsc *c) {
    if (!tls_ctx) return 0;
    SSL *ssl = SSL_new(tls_ctx);
    if (!ssl) return -1;
    c->ssl = ssl;
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    return SSL_set_fd(ssl, c->fd) == 1 && SSL_connect(ssl) == 1 ? 0 : -1;
}

static void tls_end(wsc *c) {
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
}

size_t wsc_buffered(const wsc *c) {
    return c->len + (c->ssl ? (size_t)SSL_pending(c->ssl) : 0);
}

static int write_all(wsc *c, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w;
        if (c->ssl) {
            int k = SSL_write(c->ssl, b, n > 1u << 30 ? 1 << 30 : (int)n);
            w = k > 0 ? k : -1;
            errno = k > 0 ? 0 : EIO;
        } else {
            w = send(c->fd, b, n, MSG_NOSIGNAL);
        }
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more bytes into c->buf, waiting until the deadline. */
static int fill(wsc *c, int64_t deadline) {
    if (c->len == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 65536;
        uint8_t *p = realloc(c->buf, cap);
        if (!p) return -1;
        c->buf = p;
        c->cap = cap;
    }
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left < 0) left = 0; /* still look once: data may be waiting */
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int n = c->ssl && SSL_pending(c->ssl) > 0 ? 1 : poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return WSC_TIMEOUT;
        ssize_t r;
        if (c->ssl) {
            int cap = c->cap - c->len > 1u << 30 ? 1 << 30 : (int)(c->cap - c->len);
            int k = SSL_read(c->ssl, c->buf + c->len, cap);
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                ERR_clear_error();
                if (e == SSL_ERROR_WANT_READ) {
                    if (now_ms() >= deadline) return WSC_TIMEOUT;
                    continue;
                }
                return WSC_CLOSED;
            }
            r = k;
        } else {
            r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno == ECONNRESET ? WSC_CLOSED : -1;
        if (r == 0) return WSC_CLOSED;
        c->len += (size_t)r;
        return 0;
    }
}

static void consume(wsc *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

int wsc_connect(wsc *c, int port, int rcvbuf, int timeout_ms) {
    memset(c, 0, sizeof *c);
    c->rng = 0x9e3779b9u ^ (uint32_t)port;
    c->fd = tcp_connect(port, rcvbuf);
    if (c->fd < 0) return -1;
    if (tls_start(c)) goto fail;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Protocol: weft\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     port);
    if (write_all(c, req, (size_t)n)) goto fail;
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        if (c->len >= 4) {
            uint8_t *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (end) {
                if (c->len < 12 || memcmp(c->buf, "HTTP/1.1 101", 12) != 0) goto fail;
                consume(c, (size_t)(end - c->buf) + 4);
                return 0;
            }
        }
        if (fill(c, deadline)) goto fail;
    }
fail:
    wsc_close(c);
    return -1;
}

static int send_frame(wsc *c, int opcode, int fin, const uint8_t *p, size_t n) {
    uint8_t hdr[14];
    size_t h = 0;
    hdr[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        hdr[h++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    c->rng = c->rng * 1664525u + 1013904223u;
    uint8_t mask[4] = {(uint8_t)(c->rng >> 24), (uint8_t)(c->rng >> 16), (uint8_t)(c->rng >> 8),
                       (uint8_t)c->rng};
    memcpy(hdr + h, mask, 4);
    h += 4;
    uint8_t *out = malloc(h + n + 1);
    if (!out) return -1;
    memcpy(out, hdr, h);
    for (size_t i = 0; i < n; i++)
        out[h + i] = p[i] ^ mask[i & 3];
    int rc = write_all(c, out, h + n);
    free(out);
    return rc;
}

int wsc_send(wsc *c, const uint8_t *p, size_t n, int opcode, int frags) {
    if (c->fd < 0) return -1;
    if (frags < 1) frags = 1;
    size_t per = n / (size_t)frags + 1, off = 0;
    for (int i = 0; i < frags; i++) {
        size_t k = i == frags - 1 ? n - off : (per < n - off ? per : n - off);
        if (send_frame(c, i == 0 ? opcode : 0, i == frags - 1, p + off, k)) return -1;
        off += k;
    }
    return 0;
}

int wsc_recv(wsc *c, const uint8_t **msg, size_t *len, int timeout_ms) {
    if (c->fd < 0) return WSC_CLOSED;
    int64_t deadline = now_ms() + timeout_ms;
    size_t mlen = 0;
    for (;;) {
        /* Parse one frame if whole. */
        if (c->len >= 2) {
            int fin = c->buf[0] & 0x80, op = c->buf[0] & 0x0f;
            uint64_t n = c->buf[1] & 0x7f;
            size_t h = 2;
            if (n == 126) {
                if (c->len < 4) goto more;
                n = (uint64_t)c->buf[2] << 8 | c->buf[3];
                h = 4;
            } else if (n == 127) {
                if (c->len < 10) goto more;
                n = 0;
                for (int i = 0; i < 8; i++)
                    n = n << 8 | c->buf[2 + i];
                h = 10;
            }
            if (c->len < h + n) goto more;
            const uint8_t *pl = c->buf + h;
            if (op == 8) { /* close */
                c->close_code = n >= 2 ? (pl[0] << 8 | pl[1]) : 1005;
                return WSC_CLOSED;
            }
            if (op == 9) { /* ping: answer, keep waiting */
                send_frame(c, 10, 1, pl, (size_t)n);
                consume(c, h + (size_t)n);
                continue;
            }
            if (op == 10) {
                consume(c, h + (size_t)n);
                continue;
            }
            if (mlen + n > c->msg_cap) {
                size_t cap = (mlen + (size_t)n) * 2;
                uint8_t *p = realloc(c->msg, cap);
                if (!p) return -1;
                c->msg = p;
                c->msg_cap = cap;
            }
            if (n) memcpy(c->msg + mlen, pl, (size_t)n);
            mlen += (size_t)n;
            consume(c, h + (size_t)n);
            if (fin) {
                *msg = c->msg;
                *len = mlen;
                return 0;
            }
            continue;
        }
    more : {
        int rc = fill(c, deadline);
        if (rc) return rc;
    }
    }
}

void wsc_close(wsc *c) {
    if (c->fd >= 0) {
        uint8_t code[2] = {0x03, 0xe8};
        send_frame(c, 8, 1, code, 2);
        tls_end(c);
        close(c->fd);
    }
    c->fd = -1;
    free(c->buf);
    free(c->msg);
    c->buf = c->msg = NULL;
    c->len = c->cap = c->msg_cap = 0;
}

int http_request(int port, const char *method, const char *path, const char *headers,
                 const uint8_t *body, size_t body_len, int *status, char **resp, size_t *resp_len,
                 char **hdrs, int timeout_ms) {
    wsc c;
    memset(&c, 0, sizeof c);
    /* Nothing to free on failure: a caller's free() after it is safe. */
    *resp = NULL;
    *resp_len = 0;
    if (hdrs) *hdrs = NULL;
    c.fd = tcp_connect(port, 0);
    if (c.fd < 0) return -1;
    if (tls_start(&c)) {
        tls_end(&c);
        close(c.fd);
        return -1;
    }
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     method, path, port, body_len, headers ? headers : "");
    if (n >= (int)sizeof req || write_all(&c, req, (size_t)n) ||
        (body_len && write_all(&c, body, body_len))) {
        tls_end(&c);
        close(c.fd);
        return -1;
    }
    int64_t deadline = now_ms() + timeout_ms;
    int rc;
    while ((rc = fill(&c, deadline)) == 0)
        ;
    tls_end(&c);
    close(c.fd);
    if (rc != WSC_CLOSED) {
        free(c.buf);
        return -1;
    }
    uint8_t *end = c.len >= 4 ? memmem(c.buf, c.len, "\r\n\r\n", 4) : NULL;
    if (!end || c.len < 12 || sscanf((char *)c.buf, "HTTP/1.1 %d", status) != 1) {
        free(c.buf);
        return -1;
    }
    size_t hl = (size_t)(end - c.buf) + 4;
    /* Bodies of lws responses here have Content-Length; chunked is not
     * expected. */
    *resp_len = c.len - hl;
    *resp = malloc(*resp_len + 1);
    memcpy(*resp, c.buf + hl, *resp_len);
    (*resp)[*resp_len] = 0;
    if (hdrs) {
        *hdrs = malloc(hl + 1);
        memcpy(*hdrs, c.buf, hl);
        (*hdrs)[hl] = 0;
    }
    free(c.buf);
    return 0;
}
