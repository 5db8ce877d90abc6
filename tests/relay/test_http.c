/*
 * weft-relay over HTTP on its WebSocket port, and its limits and shutdown:
 * probes and metrics; the REST log API (POST with Idempotency-Key, GET
 * pagination in binary and JSON, proofs, DELETE by an admin); static files
 * with MIME types, cache headers and CSP; max connections, rate limits,
 * the handshake timeout; SIGTERM drain (GOING_AWAY, exit 0 within 5 s,
 * everything acked still there after a restart).
 *
 *   test_http PATH_TO_WEFT_RELAY
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *exe;
static ident owner;
static uint8_t content_key[32];
static char space_hex[65];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "Authorization: Bearer <token>\r\n" (+ a Weft-Proof for method and
 * target, the path with its query, when method is given) into dst. The
 * proof's stamp carries a random nonce (unless plain_stamp): the relay
 * accepts a proof once. */
static int plain_stamp;
static void auth_headers(char *dst, size_t cap, const tclient *c, const char *method,
                         const char *target, const char *more) {
    char tok[1500];
    size_t n;
    weft_base64url_encode(tok, sizeof tok, &n, c->token, c->token_len);
    tok[n] = 0;
    int o = snprintf(dst, cap, "Authorization: Bearer %s\r\n", tok);
    if (method) {
        char sig64[100], stamp[40];
        uint8_t nonce[64];
        uint32_t rnd;
        BE.random(BE.ctx, (uint8_t *)&rnd, sizeof rnd);
        int sl = snprintf(stamp, sizeof stamp, "%llu", (unsigned long long)time(NULL));
        if (!plain_stamp) snprintf(stamp + sl, sizeof stamp - (size_t)sl, ":%08x", rnd);
        int nl = snprintf((char *)nonce, 33, "%s %s ", stamp, method);
        weft_blake2b(nonce + nl, 32, target, strlen(target));
        uint8_t sig[64];
        if (weft_proof_sign(&BE, sig, c->me.sk, c->space, nonce, (size_t)nl + 32)) abort();
        weft_base64url_encode(sig64, sizeof sig64, &n, sig, 64);
        sig64[n] = 0;
        o += snprintf(dst + o, cap - (size_t)o, "Weft-Proof: %s.%s\r\n", stamp, sig64);
    }
    if (more) snprintf(dst + o, cap - (size_t)o, "%s", more);
}

static int start(relay_proc *p, const char *storage, const char *const *extra) {
    if (relay_spawn(p, exe, storage, 0, extra)) {
        fprintf(stderr, "cannot start %s\n", exe);
        check_failures++;
        return -1;
    }
    return 0;
}

static int get(int port, const char *path, const char *hdrs, int *status, char **body, size_t *bl,
               char **h) {
    return http_request(port, "GET", path, hdrs, NULL, 0, status, body, bl, h, 3000);
}

static void probes(void) {
    relay_proc p = {0};
    if (start(&p, "memory", NULL)) return;
    int st;
    char *b, *h;
    size_t bl;
    CHECK(get(p.port, "/healthz", NULL, &st, &b, &bl, NULL) == 0 && st == 200);
    CHECK(strcmp(b, "ok\n") == 0);
    free(b);
    CHECK(get(p.port, "/readyz", NULL, &st, &b, &bl, NULL) == 0 && st == 200);
    free(b);
    CHECK(get(p.port, "/metrics", NULL, &st, &b, &bl, &h) == 0 && st == 200);
    CHECK(strstr(b, "# TYPE weft_relay_fsync_seconds histogram") != NULL);
    CHECK(strstr(b, "weft_relay_rejections_total{reason=\"SLOW_CONSUMER\"} 0") != NULL);
    CHECK(strstr(h, "text/plain") != NULL);
    free(b);
    free(h);
    CHECK(get(p.port, "/nope", NULL, &st, &b, &bl, NULL) == 0 && st == 404);
    free(b);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
}

/* Makes n changes in c's replica; returns them concatenated (caller frees). */
static uint8_t *make_changes(tclient *c, int n, size_t *len) {
    size_t cap = (size_t)n * 400, o = 0;
    uint8_t *all = malloc(cap), v[64];
    for (int i = 0; i < n; i++) {
        size_t vl;
        char doc[16];
        snprintf(doc, sizeof doc, "r%d", i);
        weft_value_write_int(v, sizeof v, &vl, i);
        weft_replica_put(c->rep, "rest", 4, doc, strlen(doc), "n", 1, v, vl);
        const uint8_t *rec;
        size_t rl;
        if (weft_replica_commit(c->rep, 1700000000000ULL, &rec, &rl)) abort();
        memcpy(all + o, rec, rl);
        o += rl;
    }
    *len = o;
    return all;
}

/* The byte offset where record k (0-based) of a concatenation starts. */
static size_t rec_offset(const uint8_t *all, size_t len, int k) {
    size_t pos = 0;
    for (int i = 0; i < k && pos < len; i++) {
        weft_change c;
        if (weft_change_decode(&c, all + pos, len - pos)) abort();
        pos += c.total_len;
    }
    return pos;
}

static void rest(void) {
    relay_proc p = {0};
    relay_tmpdir(&p);
    if (start(&p, "file", NULL)) return;
    tclient w, rd, ws, admin;
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&ws, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    char path[200], hdrs[3000];
    snprintf(path, sizeof path, "/v1/spaces/%s/changes", space_hex);
    int st;
    char *b, *h;
    size_t bl;
    /* Nothing there yet. */
    auth_headers(hdrs, sizeof hdrs, &rd, "GET", path, NULL);
    CHECK(get(p.port, path, hdrs, &st, &b, &bl, NULL) == 0 && st == 404);
    free(b);
    /* A WebSocket reader sees what REST writers post. */
    CHECK(tc_connect(&ws, p.port, 1, 0, 0) == 0);

    size_t all_len;
    uint8_t *all = make_changes(&w, 250, &all_len);
    size_t o100 = rec_offset(all, all_len, 100), o200 = rec_offset(all, all_len, 200);
    auth_headers(hdrs, sizeof hdrs, &w, NULL, NULL, "Idempotency-Key: batch-1\r\n");
    CHECK(http_request(p.port, "POST", path, hdrs, all, o100, &st, &b, &bl, &h, 5000) == 0);
    CHECK(st == 200 && strstr(b, "{\"status\":\"stored\",\"rseq\":1}") &&
          strstr(b, "{\"status\":\"stored\",\"rseq\":100}"));
    char *first = b;
    free(h);
    /* The same key again: the same answer, marked as a replay, nothing new. */
    CHECK(http_request(p.port, "POST", path, hdrs, all, o100, &st, &b, &bl, &h, 5000) == 0);
    CHECK(st == 200 && strcmp(b, first) == 0 && strstr(h, "idempotent-replayed: true"));
    free(b);
    free(h);
    free(first);
    /* Without a key: the same changes are duplicates. */
    auth_headers(hdrs, sizeof hdrs, &w, NULL, NULL, NULL);
    CHECK(http_request(p.port, "POST", path, hdrs, all, o100, &st, &b, &bl, NULL, 5000) == 0);
    CHECK(st == 200 && strstr(b, "duplicate") && !strstr(b, "stored"));
    free(b);
    CHECK(http_request(p.port, "POST", path, hdrs, all + o100, all_len - o100, &st, &b, &bl, NULL,
                       5000) == 0);
    CHECK(st == 200 && strstr(b, "\"rseq\":250}"));
    free(b);
    (void)o200;
    /* A read-only token cannot post; garbage is refused whole. */
    auth_headers(hdrs, sizeof hdrs, &rd, NULL, NULL, NULL);
    CHECK(http_request(p.port, "POST", path, hdrs, all, o100, &st, &b, &bl, NULL, 5000) == 0);
    CHECK(st == 403);
    free(b);
    auth_headers(hdrs, sizeof hdrs, &w, NULL, NULL, NULL);
    CHECK(http_request(p.port, "POST", path, hdrs, (const uint8_t *)"junk", 4, &st, &b, &bl, NULL,
                       5000) == 0);
    CHECK(st == 400 && strstr(b, "BAD_CHANGE"));
    free(b);
    CHECK(tc_wait(&ws, until_received, 250, 5000));

    /* Pagination, binary: follow weft-next-after until an empty page. */
    tclient fresh;
    tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
    uint64_t after = 0, got = 0;
    int pages = 0;
    for (;;) {
        char url[300];
        snprintf(url, sizeof url, "%s?after=%llu&limit=64", path, (unsigned long long)after);
        auth_headers(hdrs, sizeof hdrs, &rd, "GET", url, NULL);
        CHECK(get(p.port, url, hdrs, &st, &b, &bl, &h) == 0 && st == 200);
        CHECK(strstr(h, "application/vnd.weft.frame") && strstr(h, "weft-head: 250"));
        const char *nx = strstr(h, "weft-next-after: ");
        uint64_t next = nx ? strtoull(nx + 17, NULL, 10) : 0;
        if (bl == 0) {
            CHECK(next == after);
            free(b);
            free(h);
            break;
        }
        weft_frame f;
        CHECK(weft_frame_decode(&f, (uint8_t *)b, bl, 1000) == 0 && f.with_rseq && f.n <= 64);
        size_t pos = 0, rl;
        uint64_t rseq;
        const uint8_t *rec;
        while (weft_frame_change_next(&f, &pos, &rseq, &rec, &rl)) {
            CHECK(rseq == after + 1);
            after = rseq;
            got++;
            CHECK(weft_replica_apply(fresh.rep, rec, rl, NULL) == 0);
        }
        CHECK(next == after);
        free(b);
        free(h);
        pages++;
        if (pages > 10) break;
    }
    CHECK(got == 250 && pages == 4);
    CHECK(same_state(&w, &fresh));
    /* JSON, one page. */
    char url[300];
    snprintf(url, sizeof url, "%s?after=240&limit=5", path);
    auth_headers(hdrs, sizeof hdrs, &rd, "GET", url, "Accept: application/json\r\n");
    CHECK(get(p.port, url, hdrs, &st, &b, &bl, NULL) == 0 && st == 200);
    CHECK(strstr(b, "{\"changes\":[{\"rseq\":241,\"record\":\"") &&
          strstr(b, "\"next_after\":245,\"head\":250}"));
    free(b);
    /* No proof, a stale proof, a bad cursor. */
    auth_headers(hdrs, sizeof hdrs, &rd, NULL, NULL, NULL);
    st = 0;
    CHECK(get(p.port, path, hdrs, &st, &b, &bl, NULL) == 0);
    if (st != 401) fprintf(stderr, "no proof: status %d body %s\n", st, b);
    CHECK(st == 401 && strstr(b, "PROOF"));
    free(b);
    auth_headers(hdrs, sizeof hdrs, &rd, "GET", "/v1/other", NULL);
    CHECK(get(p.port, path, hdrs, &st, &b, &bl, NULL) == 0 && st == 401);
    free(b);
    snprintf(url, sizeof url, "%s?after=x", path);
    auth_headers(hdrs, sizeof hdrs, &rd, "GET", url, NULL);
    CHECK(get(p.port, url, hdrs, &st, &b, &bl, NULL) == 0 && st == 400);
    free(b);

    /* DELETE: a writer may not, an admin may; the space is gone after. */
    char spath[200];
    snprintf(spath, sizeof spath, "/v1/spaces/%s", space_hex);
    auth_headers(hdrs, sizeof hdrs, &w, "DELETE", spath, NULL);
    CHECK(http_request(p.port, "DELETE", spath, hdrs, NULL, 0, &st, &b, &bl, NULL, 3000) == 0 &&
          st == 403);
    free(b);
    auth_headers(hdrs, sizeof hdrs, &admin, "DELETE", spath, NULL);
    CHECK(http_request(p.port, "DELETE", spath, hdrs, NULL, 0, &st, &b, &bl, NULL, 3000) == 0 &&
          st == 200);
    free(b);
    CHECK(tc_wait(&ws, until_error, 0, 3000) && ws.err_code == WEFT_PROTO_ENOT_FOUND);
    auth_headers(hdrs, sizeof hdrs, &rd, "GET", path, NULL);
    CHECK(get(p.port, path, hdrs, &st, &b, &bl, NULL) == 0 && st == 404);
    free(b);
    free(all);
    tc_free(&w);
    tc_free(&rd);
    tc_free(&ws);
    tc_free(&admin);
    tc_free(&fresh);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    relay_cleanup(&p);
}

/* Idempotency-Key (issue 23): the same key on another body is 422 and
 * stores nothing; a key over 128 characters is 400 and stores nothing; 128
 * characters are fine. */
static void idempotency(void) {
    relay_proc p = {0};
    if (start(&p, "memory", NULL)) return;
    tclient w;
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    char path[200], hdrs[3000];
    snprintf(path, sizeof path, "/v1/spaces/%s/changes", space_hex);
    int st;
    char *b;
    size_t bl, all_len;
    uint8_t *all = make_changes(&w, 20, &all_len);
    size_t o10 = rec_offset(all, all_len, 10), o15 = rec_offset(all, all_len, 15);
    auth_headers(hdrs, sizeof hdrs, &w, NULL, NULL, "Idempotency-Key: k1\r\n");
    CHECK(http_request(p.port, "POST", path, hdrs, all, o10, &st, &b, &bl, NULL, 5000) == 0);
    CHECK(st == 200 && strstr(b, "\"rseq\":10}"));
    free(b);
    /* k1 again, on changes 11..15: refused, nothing stored. */
    CHECK(http_request(p.port, "POST", path, hdrs, all + o10, o15 - o10, &st, &b, &bl, NULL,
                       5000) == 0);
    printf("idempotency: key reused on another body: %d %s", st, b);
    CHECK(st == 422 && strstr(b, "IDEMPOTENCY_KEY_REUSED"));
    free(b);
    CHECK(relay_metric(p.port, "weft_relay_idempotency_conflicts_total") == 1);
    CHECK(relay_metric(p.port, "weft_relay_changes_stored_total") == 10);
    /* A 129-character key: 400, nothing stored. */
    char more[300], key[200];
    memset(key, 'k', 129);
    key[129] = 0;
    snprintf(more, sizeof more, "Idempotency-Key: %s\r\n", key);
    auth_headers(hdrs, sizeof hdrs, &w, NULL, NULL, more);
    CHECK(http_request(p.port, "POST", path, hdrs, all + o10, o15 - o10, &st, &b, &bl, NULL,
                       5000) == 0);
    printf("idempotency: 129-character key: %d %s", st, b);
    CHECK(st == 400);
    free(b);
    CHECK(relay_metric(p.port, "weft_relay_changes_stored_total") == 10);
    /* 128 characters: accepted, and replayed. */
    key[128] = 0;
    snprintf(more, sizeof more, "Idempotency-Key: %s\r\n", key);
    auth_headers(hdrs, sizeof hdrs, &w, NULL, NULL, more);
    for (int i = 0; i < 2; i++) {
        char *h;
        CHECK(http_request(p.port, "POST", path, hdrs, all + o10, o15 - o10, &st, &b, &bl, &h,
                           5000) == 0);
        CHECK(st == 200 && strstr(b, "\"rseq\":15}"));
        CHECK(!i == !strstr(h, "idempotent-replayed: true"));
        free(b);
        free(h);
    }
    CHECK(relay_metric(p.port, "weft_relay_changes_stored_total") == 15);
    free(all);
    tc_free(&w);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
}

/* An HTTP connection that sent half its request headers and waits. */
static int half_request(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* HTTP connections count toward --max-conns (issue 23): three idle HTTP
 * connections leave no room for a WebSocket, and three WebSockets none for
 * a REST request (probes and metrics are still answered). */
static void http_conns(void) {
    const char *extra[] = {"--max-conns", "3", NULL};
    relay_proc p = {0};
    if (start(&p, "memory", extra)) return;
    int fds[3];
    for (int i = 0; i < 3; i++)
        CHECK((fds[i] = half_request(p.port)) >= 0);
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    tclient a, b, c, d;
    tc_init(&a, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&b, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&c, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&d, &owner, NULL, WEFT_RIGHT_READ, content_key);
    int rc = tc_connect(&d, p.port, 1, 0, 0);
    printf("http_conns: a WebSocket next to 3 idle HTTP connections: %s\n",
           rc ? weft_proto_err_name(d.err_code) : "accepted");
    CHECK(rc == -1 && d.err_code == WEFT_PROTO_EOVERLOADED);
    tc_free(&d);
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0) close(fds[i]);
    nanosleep(&ts, NULL);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&c, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&a, until_synced, 0, 3000));
    char path[200], hdrs[3000];
    snprintf(path, sizeof path, "/v1/spaces/%s/changes", space_hex);
    auth_headers(hdrs, sizeof hdrs, &a, "GET", path, NULL);
    int st;
    char *body;
    size_t bl;
    CHECK(get(p.port, path, hdrs, &st, &body, &bl, NULL) == 0);
    printf("http_conns: a REST GET next to 3 WebSockets: %d %s", st, body);
    CHECK(st == 503 && strstr(body, "OVERLOADED"));
    free(body);
    CHECK(get(p.port, "/healthz", NULL, &st, &body, &bl, NULL) == 0 && st == 200);
    free(body);
    CHECK(relay_metric(p.port, "weft_relay_connections_open") == 4); /* this one too */
    tc_free(&a);
    tc_free(&b);
    tc_free(&c);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
}

/* REST proofs (issue 23): bound to the query as well as the method and
 * path, and accepted once. */
static void proofs(void) {
    relay_proc p = {0};
    if (start(&p, "memory", NULL)) return;
    tclient w, rd;
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
    char path[200], url[300], other[300], hdrs[3000];
    snprintf(path, sizeof path, "/v1/spaces/%s/changes", space_hex);
    int st;
    char *b;
    size_t bl, all_len;
    uint8_t *all = make_changes(&w, 5, &all_len);
    auth_headers(hdrs, sizeof hdrs, &w, NULL, NULL, NULL);
    CHECK(http_request(p.port, "POST", path, hdrs, all, all_len, &st, &b, &bl, NULL, 5000) == 0 &&
          st == 200);
    free(b);
    snprintf(url, sizeof url, "%s?after=0&limit=2", path);
    snprintf(other, sizeof other, "%s?after=2&limit=2", path);
    /* Plain "<unix s>" stamps, as clients sent before stamps had nonces. */
    plain_stamp = 1;
    auth_headers(hdrs, sizeof hdrs, &rd, "GET", url, NULL);
    plain_stamp = 0;
    /* A proof for one query is no proof for another. */
    CHECK(get(p.port, other, hdrs, &st, &b, &bl, NULL) == 0);
    printf("proofs: a proof for another query: %d %s", st, b);
    CHECK(st == 401 && strstr(b, "PROOF"));
    free(b);
    /* Once for its own, not twice. */
    CHECK(get(p.port, url, hdrs, &st, &b, &bl, NULL) == 0 && st == 200);
    free(b);
    CHECK(get(p.port, url, hdrs, &st, &b, &bl, NULL) == 0);
    printf("proofs: the same proof again: %d %s", st, b);
    CHECK(st == 401 && strstr(b, "PROOF"));
    free(b);
    CHECK(relay_metric(p.port, "weft_relay_rest_proofs_replayed_total") == 1);
    /* A fresh proof for the same request is fine. */
    auth_headers(hdrs, sizeof hdrs, &rd, "GET", url, NULL);
    CHECK(get(p.port, url, hdrs, &st, &b, &bl, NULL) == 0 && st == 200);
    free(b);
    free(all);
    tc_free(&w);
    tc_free(&rd);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void static_files(void) {
    relay_proc p = {0};
    relay_tmpdir(&p);
    char web[300];
    snprintf(web, sizeof web, "%s/web", p.dir);
    mkdir(web, 0755);
    write_file(web, "index.html", "<!doctype html><title>weft</title>");
    write_file(web, "app.js", "export const x = 1;");
    write_file(web, "core.wasm",
               "\x00"
               "asm");
    write_file(web, ".secret", "no");
    const char *extra[] = {"--static", web, NULL};
    if (start(&p, "memory", extra)) return;
    int st;
    char *b, *h;
    size_t bl;
    CHECK(get(p.port, "/", NULL, &st, &b, &bl, &h) == 0 && st == 200);
    CHECK(strstr(b, "<title>weft</title>") && strstr(h, "text/html"));
    CHECK(strstr(h, "content-security-policy: default-src 'self'"));
    CHECK(strstr(h, "cache-control: no-cache") && strstr(h, "x-content-type-options: nosniff"));
    free(b);
    free(h);
    CHECK(get(p.port, "/app.js", NULL, &st, &b, &bl, &h) == 0 && st == 200);
    CHECK(strstr(h, "text/javascript") && strstr(h, "max-age=3600"));
    free(b);
    free(h);
    CHECK(get(p.port, "/core.wasm", NULL, &st, &b, &bl, &h) == 0 && st == 200);
    CHECK(strstr(h, "application/wasm") != NULL);
    free(b);
    free(h);
    CHECK(get(p.port, "/.secret", NULL, &st, &b, &bl, NULL) == 0 && st == 404);
    free(b);
    CHECK(get(p.port, "/../web/index.html", NULL, &st, &b, &bl, NULL) == 0 && st != 200);
    free(b);
    CHECK(get(p.port, "/missing.js", NULL, &st, &b, &bl, NULL) == 0 && st == 404);
    free(b);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    relay_cleanup(&p);
}

static void limits(void) {
    const char *extra[] = {"--max-conns",         "3", "--conn-rate", "5", "--conn-burst", "5",
                           "--handshake-timeout", "1", NULL};
    relay_proc p = {0};
    if (start(&p, "memory", extra)) return;
    tclient a, b, c, d;
    tc_init(&a, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&b, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&c, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&d, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&c, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&a, until_synced, 0, 3000));
    /* A fourth connection is refused with OVERLOADED. */
    CHECK(tc_connect(&d, p.port, 1, 0, 0) == -1 && d.err_code == WEFT_PROTO_EOVERLOADED);
    tc_free(&d);
    /* Frames beyond the connection's bucket are dropped with RATE_LIMITED,
     * and the connection stays. */
    uint8_t frame[64], zero[32] = {0};
    size_t fl;
    weft_frame_signal_encode(frame, sizeof frame, &fl, WEFT_FRAME_PRESENCE, zero,
                             (const uint8_t *)"hi", 2);
    for (int i = 0; i < 12; i++)
        CHECK(wsc_send(&a.ws, frame, fl, 2, 1) == 0);
    CHECK(tc_wait(&a, until_error, 0, 3000));
    CHECK(a.err_code == WEFT_PROTO_ERATE_LIMITED && !a.err_fatal && !a.closed);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"RATE_LIMITED\"}") >= 1);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"OVERLOADED\"}") == 1);
    tc_free(&b);
    tc_free(&c);
    /* A connection that never says HELLO is closed after the timeout. */
    tclient idle;
    tc_init(&idle, &owner, NULL, WEFT_RIGHT_READ, content_key);
    double t0 = now_s();
    CHECK(tc_connect_raw(&idle, p.port) == 0);
    CHECK(tc_wait(&idle, until_closed, 0, 5000));
    CHECK(now_s() - t0 < 4.0);
    tc_free(&idle);
    tc_free(&a);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
}

/* SIGTERM while clients write: every client gets GOING_AWAY and a 1001
 * close, the relay exits 0 within 5 s, and what was acked is there after a
 * restart. */
static void sigterm_drain(void) {
    relay_proc p = {0};
    relay_tmpdir(&p);
    if (start(&p, "file", NULL)) return;
    tclient w, r1, r2;
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&r1, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&r2, &owner, NULL, WEFT_RIGHT_READ, content_key);
    r1.apply = r2.apply = 0;
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&r1, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&r2, p.port, 1, 0, 0) == 0);
    for (int i = 0; i < 20; i++)
        CHECK(tc_write(&w, 5, 40, 5) == 0);
    CHECK(tc_wait(&w, until_acked, 100, 5000));
    for (int i = 0; i < 20; i++) /* in flight when the signal comes */
        CHECK(tc_write(&w, 5, 40, 5) == 0);
    kill(p.pid, SIGTERM);
    double t0 = now_s();
    for (int i = 0; i < 20; i++) /* keep writing into the drain */
        if (tc_write(&w, 5, 40, 5)) break;
    CHECK(tc_wait(&w, until_closed, 0, 5000));
    CHECK(tc_wait(&r1, until_closed, 0, 5000) && tc_wait(&r2, until_closed, 0, 5000));
    CHECK(w.err_code == WEFT_PROTO_EGOING_AWAY && r1.err_code == WEFT_PROTO_EGOING_AWAY);
    CHECK(w.ws.close_code == 1001 && r1.ws.close_code == 1001);
    CHECK(relay_stop(&p, 0, 5000) == 0);
    double dt = now_s() - t0;
    printf("sigterm_drain: exit 0 after %.2f s, %llu changes acked before\n", dt,
           (unsigned long long)w.acked);
    CHECK(dt < 5.0);
    CHECK(w.acked >= 100);
    /* Restart: everything acked is there. */
    if (start(&p, "file", NULL) == 0) {
        tclient c;
        tc_init(&c, &owner, NULL, WEFT_RIGHT_READ, content_key);
        CHECK(tc_connect(&c, p.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&c, until_synced, 0, 5000));
        CHECK(tc_seq_of(&c, w.me.pk) >= w.acked_seq && w.acked_seq >= 100);
        tc_free(&c);
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    }
    tc_free(&w);
    tc_free(&r1);
    tc_free(&r2);
    relay_cleanup(&p);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_http PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    ident_new(&owner);
    for (int i = 0; i < 32; i++)
        snprintf(space_hex + 2 * i, 3, "%02x", owner.pk[i]);
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {
        {"probes", probes},
        {"rest", rest},
        {"static_files", static_files},
        {"limits", limits},
        {"idempotency", idempotency},
        {"proofs", proofs},
        {"http_conns", http_conns},
        {"sigterm_drain", sigterm_drain},
    };
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
