/*
 * HTTP endpoints (http.h). Each request builds its whole response in memory
 * (they are small: probes, metrics, one page of changes, a JSON answer),
 * writes the headers in the HTTP callback and the body from HTTP_WRITEABLE
 * in chunks, as lws wants.
 */
#include "http.h"
#include "server.h"
#include "space.h"

#include <stdlib.h>
#include <string.h>

#define BODY_CHUNK 16384

typedef struct http_state {
    char *body;
    size_t body_len, sent;
} http_state;

static void http_state_free(session *s) {
    if (!s->http) return;
    free(s->http->body);
    free(s->http);
    s->http = NULL;
}

/* Sends status + headers now, and the body (taken over) from WRITEABLE. */
static int respond(session *s, struct lws *wsi, unsigned status, const char *type, char *body,
                   size_t body_len) {
    relay *r = s->r;
    r->m.http_requests++;
    http_state_free(s);
    s->http = calloc(1, sizeof *s->http);
    if (!s->http) {
        free(body);
        return -1;
    }
    s->http->body = body;
    s->http->body_len = body_len;
    uint8_t hdr[LWS_PRE + 2048], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, status, type, body_len, &p, end) ||
        lws_add_http_header_by_name(
            wsi, (const uint8_t *)"cache-control:", (const uint8_t *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    r->m.bytes_out += body_len;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond_text(session *s, struct lws *wsi, unsigned status, const char *text) {
    size_t n = strlen(text);
    char *b = malloc(n + 1);
    if (!b) return -1;
    memcpy(b, text, n + 1);
    return respond(s, wsi, status, "text/plain; charset=utf-8", b, n);
}

static int on_http(relay *r, session *s, struct lws *wsi, const char *path) {
    s->r = r;
    int is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    if (is_get && strcmp(path, "/healthz") == 0) return respond_text(s, wsi, 200, "ok\n");
    if (is_get && strcmp(path, "/readyz") == 0)
        return r->draining ? respond_text(s, wsi, 503, "draining\n")
                           : respond_text(s, wsi, 200, "ready\n");
    if (is_get && strcmp(path, "/metrics") == 0) {
        size_t n;
        char *m = relay_metrics_render(r, &n);
        if (!m) return respond_text(s, wsi, 500, "out of memory\n");
        return respond(s, wsi, 200, "text/plain; version=0.0.4; charset=utf-8", m, n);
    }
    return respond_text(s, wsi, 404, "not found\n");
}

static int on_writeable(session *s, struct lws *wsi) {
    http_state *h = s->http;
    if (!h) return 0;
    size_t n = h->body_len - h->sent;
    if (n > BODY_CHUNK) n = BODY_CHUNK;
    int final = h->sent + n == h->body_len;
    uint8_t buf[LWS_PRE + BODY_CHUNK];
    if (n) memcpy(buf + LWS_PRE, h->body + h->sent, n);
    if (lws_write(wsi, buf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    h->sent += n;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    http_state_free(s);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int http_callback(relay *r, struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len) {
    session *s = user;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(r, s, wsi, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(s, wsi);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s && !s->is_ws) http_state_free(s);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
