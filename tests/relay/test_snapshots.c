/*
 * Sealed snapshots on the relay (docs/RELAY.md, "Snapshots"): upload over
 * REST, serve the newest, and a fresh replica joining from it plus the
 * tail reaches the writer's state; every refusal with its HTTP status,
 * protocol code and metric label (bad signature, not an admin, an
 * uncovered vector, too big, another space, malformed, stale); a relay
 * killed with SIGKILL half-way through writing a snapshot keeps the older
 * snapshot and every acked change; a stored snapshot damaged on disk is
 * skipped for the next older one, then none. With the argument "redis"
 * (suite redis): the same on Redis storage, served by a second relay
 * sharing the Redis and after a restart.
 *
 *   test_snapshots PATH_TO_WEFT_RELAY [test|redis]
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *exe;
static ident owner;
static uint8_t content_key[32];
static char space_hex[65];

static int start(relay_proc *p, const char *storage, const char *const *extra) {
    if (relay_spawn(p, exe, storage, 0, extra)) {
        fprintf(stderr, "cannot start %s\n", exe);
        check_failures++;
        return -1;
    }
    return 0;
}

/* "Authorization: Bearer <token>\r\n", and a Weft-Proof for a GET of
 * target (the relay wants one for reads by a key's token). */
static void auth(char *dst, size_t cap, const tclient *c, const char *get_target) {
    char tok[1500];
    size_t n;
    weft_base64url_encode(tok, sizeof tok, &n, c->token, c->token_len);
    tok[n] = 0;
    int o = snprintf(dst, cap, "Authorization: Bearer %s\r\n", tok);
    if (!get_target) return;
    char stamp[40], sig64[100];
    uint32_t rnd;
    BE.random(BE.ctx, (uint8_t *)&rnd, sizeof rnd);
    snprintf(stamp, sizeof stamp, "%llu:%08x", (unsigned long long)time(NULL), rnd);
    uint8_t nonce[64], sig[64];
    int nl = snprintf((char *)nonce, 33, "%s GET ", stamp);
    weft_blake2b(nonce + nl, 32, get_target, strlen(get_target));
    if (weft_proof_sign(&BE, sig, c->me.sk, c->space, nonce, (size_t)nl + 32)) abort();
    weft_base64url_encode(sig64, sizeof sig64, &n, sig, 64);
    sig64[n] = 0;
    snprintf(dst + o, cap - (size_t)o, "Weft-Proof: %s.%s\r\n", stamp, sig64);
}

/* c's sealed snapshot now, copied (caller frees). */
static uint8_t *publish(tclient *c, size_t *len) {
    const uint8_t *rec;
    if (weft_replica_publish_snapshot(c->rep, 0, 1700000000000ULL, &rec, len)) abort();
    uint8_t *copy = malloc(*len);
    memcpy(copy, rec, *len);
    return copy;
}

/* POSTs a snapshot to space `hex` as c; returns the HTTP status, *body
 * when body is not NULL (caller frees). */
static int post_snap_t(int port, const char *hex, const tclient *c, const uint8_t *rec, size_t len,
                       char **body, int timeout_ms) {
    char path[200], hdrs[3000];
    snprintf(path, sizeof path, "/v1/spaces/%s/snapshots", hex);
    auth(hdrs, sizeof hdrs, c, NULL);
    int st = -1;
    char *b = NULL;
    size_t bl;
    if (http_request(port, "POST", path, hdrs, rec, len, &st, &b, &bl, NULL, timeout_ms)) {
        st = -1;
        b = NULL;
    }
    if (body)
        *body = b;
    else
        free(b);
    return st;
}

static int post_snap(int port, const char *hex, const tclient *c, const uint8_t *rec, size_t len,
                     char **body) {
    return post_snap_t(port, hex, c, rec, len, body, 10000);
}

/* GETs the newest snapshot as c; returns the HTTP status, *body, *len and
 * *hdrs (caller frees). */
static int get_snap(int port, const tclient *c, char **body, size_t *len, char **hdrs) {
    char path[200], h[3000];
    snprintf(path, sizeof path, "/v1/spaces/%s/snapshot", space_hex);
    auth(h, sizeof h, c, path);
    int st = -1;
    if (http_request(port, "GET", path, h, NULL, 0, &st, body, len, hdrs, 10000)) st = -1;
    return st;
}

static double refused(int port, const char *reason) {
    char name[128];
    snprintf(name, sizeof name, "weft_relay_snapshots_refused_total{reason=\"%s\"}", reason);
    return relay_metric(port, name);
}

/* Writes n changes through the relay and waits for their ACKs. */
static void write_acked(tclient *c, int n) {
    uint64_t want = c->acked + (uint64_t)n;
    CHECK(tc_write(c, n, 32, 16) == 0);
    CHECK(tc_wait(c, until_acked, want, 10000));
}

/* Upload, serve, and a fresh replica joining from the snapshot and the
 * tail reaches the publisher's state. */
static void upload_and_join(void) {
    relay_proc p = {0};
    relay_tmpdir(&p);
    if (start(&p, "file", NULL)) return;
    tclient admin, rd, fresh;
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&admin, until_synced, 0, 5000));
    /* No snapshot yet. */
    char *b, *h;
    size_t bl;
    CHECK(get_snap(p.port, &rd, &b, &bl, NULL) == 404 && strstr(b, "NOT_FOUND"));
    free(b);
    write_acked(&admin, 50);
    size_t sl;
    uint8_t *snap = publish(&admin, &sl);
    CHECK(post_snap(p.port, space_hex, &admin, snap, sl, &b) == 200);
    CHECK(b && strstr(b, "\"rseq\":50"));
    free(b);
    CHECK(relay_metric(p.port, "weft_relay_snapshots_stored_total") == 1);
    write_acked(&admin, 10); /* the tail */
    CHECK(get_snap(p.port, &rd, &b, &bl, &h) == 200);
    CHECK(bl == sl && memcmp(b, snap, sl) == 0);
    CHECK(strstr(h, "weft-snapshot-rseq: 50") && strstr(h, "weft-head: 60") &&
          strstr(h, "weft-snapshot-vv: "));
    /* The joiner: the publisher's rights first (SECURITY.md), then load,
     * then the changes past the snapshot's vector. */
    weft_snapshot_header sh;
    CHECK(weft_snapshot_header_decode(&sh, (const uint8_t *)b, bl) == 0);
    CHECK(memcmp(sh.publisher, admin.me.pk, 32) == 0);
    const char *tk = strstr(h, "weft-snapshot-token: ");
    CHECK(tk != NULL);
    if (tk) {
        tk += strlen("weft-snapshot-token: ");
        uint8_t tok[WEFT_PROTO_MAX_TOKEN];
        size_t tl;
        weft_token t;
        CHECK(weft_base64url_decode(tok, sizeof tok, &tl, tk, strcspn(tk, "\r\n")) == 0);
        CHECK(tl == admin.token_len && memcmp(tok, admin.token, tl) == 0);
        CHECK(weft_token_verify(&BE, tok, tl, owner.pk, (uint64_t)time(NULL), &t) == 0 &&
              weft_token_allows(&t, sh.publisher, WEFT_RIGHT_ADMIN) == 0);
    }
    CHECK(weft_replica_load_sealed_snapshot(fresh.rep, (const uint8_t *)b, bl) == 0);
    free(b);
    free(h);
    CHECK(tc_connect(&fresh, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&fresh, until_synced, 0, 5000));
    CHECK(fresh.received == 10); /* only the tail travelled */
    CHECK(same_state(&fresh, &admin));
    CHECK(relay_metric(p.port, "weft_relay_snapshots_served_total") == 1);
    /* After a restart the snapshot is still served. */
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    if (start(&p, "file", NULL) == 0) {
        CHECK(get_snap(p.port, &rd, &b, &bl, &h) == 200 && bl == sl && memcmp(b, snap, sl) == 0);
        free(b);
        free(h);
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    }
    free(snap);
    tc_free(&admin);
    tc_free(&rd);
    tc_free(&fresh);
    relay_cleanup(&p);
}

/* Each refusal: its status, its code in the body, its metric; nothing
 * stored changes. */
static void refusals(void) {
    relay_proc p = {0};
    const char *extra[] = {"--max-snapshot", "4096", NULL};
    if (start(&p, "memory", extra)) return;
    tclient admin, w, rd, other;
    ident owner2;
    ident_new(&owner2);
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&other, &owner2, NULL, WEFT_RIGHT_ADMIN, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&admin, until_synced, 0, 5000));
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&w, until_synced, 0, 5000));
    write_acked(&admin, 5);
    write_acked(&w, 5);
    char *b;
    size_t sl;
    /* Malformed. */
    CHECK(post_snap(p.port, space_hex, &admin, (const uint8_t *)"junk", 4, &b) == 400);
    CHECK(b && strstr(b, "BAD_SNAPSHOT"));
    free(b);
    CHECK(refused(p.port, "malformed") == 1);
    /* A bad signature: one byte of the sealed body changed. */
    uint8_t *snap = publish(&admin, &sl);
    snap[sl - 80] ^= 1;
    CHECK(post_snap(p.port, space_hex, &admin, snap, sl, &b) == 400);
    CHECK(b && strstr(b, "BAD_SIGNATURE"));
    free(b);
    free(snap);
    CHECK(refused(p.port, "signature") == 1);
    /* A writer's snapshot, and a reader's token: not admins. */
    snap = publish(&w, &sl);
    CHECK(post_snap(p.port, space_hex, &w, snap, sl, &b) == 403);
    CHECK(b && strstr(b, "RIGHTS"));
    free(b);
    /* An admin's token does not make a writer's snapshot an admin's. */
    CHECK(post_snap(p.port, space_hex, &admin, snap, sl, &b) == 403);
    free(b);
    free(snap);
    snap = publish(&admin, &sl);
    CHECK(post_snap(p.port, space_hex, &rd, snap, sl, &b) == 403);
    free(b);
    free(snap);
    CHECK(refused(p.port, "rights") == 3);
    /* Another space's snapshot, posted under this space's admin token. */
    snap = publish(&other, &sl);
    CHECK(post_snap(p.port, space_hex, &admin, snap, sl, &b) == 400);
    CHECK(b && strstr(b, "WRONG_SPACE"));
    free(b);
    free(snap);
    CHECK(refused(p.port, "space") == 1);
    /* A vector naming changes the relay never got (made, not sent). */
    uint8_t v[8];
    size_t vl;
    weft_value_write_int(v, sizeof v, &vl, 7);
    weft_replica_put(admin.rep, "x", 1, "unsent", 6, "n", 1, v, vl);
    const uint8_t *rec;
    size_t rl;
    CHECK(weft_replica_commit(admin.rep, 1700000000000ULL, &rec, &rl) == 0);
    snap = publish(&admin, &sl);
    CHECK(post_snap(p.port, space_hex, &admin, snap, sl, &b) == 409);
    CHECK(b && strstr(b, "UNCOVERED"));
    free(b);
    free(snap);
    CHECK(refused(p.port, "uncovered") == 1);
    /* Stale: an older snapshot after a newer one. */
    tclient a2;
    tc_init(&a2, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    CHECK(tc_connect(&a2, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&a2, until_synced, 0, 5000));
    size_t old_len;
    uint8_t *old = publish(&a2, &old_len);
    write_acked(&a2, 3);
    size_t newer_len;
    uint8_t *newer = publish(&a2, &newer_len);
    CHECK(newer_len < 4096 && old_len < 4096);
    CHECK(post_snap(p.port, space_hex, &a2, newer, newer_len, &b) == 200);
    free(b);
    CHECK(post_snap(p.port, space_hex, &a2, old, old_len, &b) == 409);
    CHECK(b && strstr(b, "STALE_SNAPSHOT"));
    free(b);
    CHECK(refused(p.port, "stale") == 1);
    /* Too big: a state over --max-snapshot. */
    tclient big;
    tc_init(&big, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    CHECK(tc_connect(&big, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&big, until_synced, 0, 5000));
    uint64_t want = big.acked + 8;
    CHECK(tc_write(&big, 8, 1000, 8) == 0);
    CHECK(tc_wait(&big, until_acked, want, 10000));
    snap = publish(&big, &sl);
    CHECK(sl > 4096);
    CHECK(post_snap(p.port, space_hex, &big, snap, sl, &b) == 413);
    CHECK(b && strstr(b, "TOO_BIG"));
    free(b);
    free(snap);
    CHECK(refused(p.port, "too_big") == 1);
    /* The one stored is the newer one. */
    char *h;
    CHECK(get_snap(p.port, &rd, &b, &vl, &h) == 200 && vl == newer_len &&
          memcmp(b, newer, newer_len) == 0);
    free(b);
    free(h);
    free(newer);
    free(old);
    CHECK(relay_metric(p.port, "weft_relay_snapshots_stored_total") == 1);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    tc_free(&admin);
    tc_free(&w);
    tc_free(&rd);
    tc_free(&other);
    tc_free(&big);
    tc_free(&a2);
}

/* Sends a SNAPSHOT upload with `tok` in its token field (a grant chain,
 * or nothing), or SNAPSHOT_GET when rec is NULL, on c. */
static int ws_send_snapshot_tok(tclient *c, const uint8_t *tok, size_t tl, const uint8_t *rec,
                                size_t len) {
    size_t cap = weft_frame_snapshot_bound(tl, len), n;
    uint8_t *f = malloc(cap);
    int rc = rec ? weft_frame_snapshot_encode(f, cap, &n, 0, 0, tok, tl, rec, len)
                 : weft_frame_snapshot_get_encode(f, cap, &n);
    if (!rc) rc = wsc_send(&c->ws, f, n, 2, 1);
    free(f);
    return rc;
}

static int ws_send_snapshot(tclient *c, const uint8_t *rec, size_t len) {
    return ws_send_snapshot_tok(c, NULL, 0, rec, len);
}

/* Uploads over the sync protocol with `tok` in the frame; returns the
 * SNAPSHOT_ACK's status, and its value in *value. */
static int ws_upload_tok(tclient *c, const uint8_t *tok, size_t tl, const uint8_t *rec, size_t len,
                         uint64_t *value) {
    size_t want = c->n_snap_acks + 1;
    if (ws_send_snapshot_tok(c, tok, tl, rec, len) || !tc_wait(c, until_snapshot_acks, want, 5000))
        return -1;
    *value = c->snap_ack_value;
    return c->snap_ack_status;
}

static int ws_upload(tclient *c, const uint8_t *rec, size_t len, uint64_t *value) {
    return ws_upload_tok(c, NULL, 0, rec, len, value);
}

/* A join over the sync protocol: HELLO with a cursor past everything (so
 * no catch-up starts), SNAPSHOT_GET, load what comes, and the relay sends
 * only what the snapshot lacks. */
static void ws_join(tclient *c, int port) {
    CHECK(tc_connect(c, port, 1, 1, UINT64_MAX >> 1) == 0);
    CHECK(tc_wait(c, until_synced, 0, 5000));
    CHECK(c->received == 0);
    c->apply = 0; /* whatever comes before the SNAPSHOT comes again after it */
    CHECK(ws_send_snapshot(c, NULL, 0) == 0);
    CHECK(tc_wait(c, until_snapshots, c->n_snapshots + 1, 5000));
    if (c->snap) CHECK(weft_replica_load_sealed_snapshot(c->rep, c->snap, c->snap_len) == 0);
    c->apply = 1;
    c->received = 0;
    c->synced = 0;
    CHECK(tc_wait(c, until_synced, 0, 5000));
}

/* The same over the sync protocol: uploads with SNAPSHOT_ACKs (stored with
 * the base; refusals not fatal), and joins with SNAPSHOT_GET. */
static void ws_upload_and_join(void) {
    relay_proc p = {0};
    if (start(&p, "memory", NULL)) return;
    tclient admin, w, other_admin, early, fresh;
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&other_admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&early, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&admin, until_synced, 0, 5000));
    write_acked(&admin, 30);
    /* None held: an empty SNAPSHOT, then the whole log. */
    ws_join(&early, p.port);
    CHECK(early.n_snapshots == 1 && early.snap == NULL && early.snap_rseq == 0);
    CHECK(early.received == 30 && same_state(&early, &admin));
    size_t sl;
    uint8_t *snap = publish(&admin, &sl);
    uint64_t v;
    CHECK(ws_upload(&admin, snap, sl, &v) == WEFT_ACK_STORED && v == 30);
    CHECK(relay_metric(p.port, "weft_relay_snapshots_stored_total") == 1);
    /* Refusals, each answered and counted; the sessions stay up. */
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&w, until_synced, 0, 5000));
    uint8_t *ws_snap = publish(&w, &sl);
    CHECK(ws_upload(&w, ws_snap, sl, &v) == WEFT_ACK_REJECTED && v == WEFT_PROTO_ERIGHTS);
    free(ws_snap);
    /* An admin's session uploading another admin's snapshot: the
     * publisher must be the key the session proved. */
    CHECK(tc_connect(&other_admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&other_admin, until_synced, 0, 5000));
    uint8_t *oa = publish(&other_admin, &sl);
    CHECK(ws_upload(&admin, oa, sl, &v) == WEFT_ACK_REJECTED && v == WEFT_PROTO_ERIGHTS);
    CHECK(ws_upload(&other_admin, oa, sl, &v) == WEFT_ACK_STORED && v == 30);
    free(oa);
    CHECK(ws_upload(&admin, (const uint8_t *)"junk", 4, &v) == WEFT_ACK_REJECTED &&
          v == WEFT_PROTO_EBAD_SNAPSHOT);
    CHECK(refused(p.port, "rights") == 2 && refused(p.port, "malformed") == 1);
    CHECK(!admin.closed && !w.closed && admin.err_code == 0);
    write_acked(&admin, 5); /* the tail */
    ws_join(&fresh, p.port);
    CHECK(fresh.snap != NULL && fresh.snap_rseq == 30 && fresh.snap_flags == 0);
    CHECK(fresh.snap_token_len == other_admin.token_len &&
          memcmp(fresh.snap_token, other_admin.token, fresh.snap_token_len) == 0);
    CHECK(fresh.received == 5); /* only the tail */
    CHECK(same_state(&fresh, &admin));
    /* Live changes keep coming after the join. */
    write_acked(&admin, 2);
    CHECK(tc_wait(&fresh, until_received, 7, 5000));
    CHECK(same_state(&fresh, &admin));
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    free(snap);
    tc_free(&admin);
    tc_free(&w);
    tc_free(&other_admin);
    tc_free(&early);
    tc_free(&fresh);
}

/* Sessions admitted by grant (HELLO flag 0x10) upload with their grant
 * chain in the frame's token field (weft_grant_chain_verify): an admin by
 * a claimed invite is stored and its chain served to joiners in the
 * token's place; no chain, another key's chain, or a writer's own chain
 * is RIGHTS; a token from a session admitted by token stays BAD_SNAPSHOT. */
static int until_stored(tclient *c, uint64_t n) {
    return c->n_stored + c->n_dup + c->n_rejected >= n;
}

static void ws_by_grant(void) {
    relay_proc p = {0};
    if (start(&p, "memory", NULL)) return;
    tclient admin, ga, gw, fresh;
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&ga, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&gw, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0 && tc_wait(&admin, until_synced, 0, 5000));
    write_acked(&admin, 10);
    uint64_t now = (uint64_t)time(NULL);
    /* The owner's admin invite, claimed by ga; the owner's write grant to gw. */
    uint8_t chain[WEFT_GRANT_CHAIN_MAX_BYTES], ticket[WEFT_TICKET_MAX_BYTES];
    uint8_t claim[WEFT_GRANT_MAX_BYTES], wgrant[WEFT_GRANT_MAX_BYTES];
    size_t il, tl, cl, wl;
    CHECK(0 == weft_invite_issue(&BE, chain, sizeof chain, &il, ticket, &tl, owner.pk, owner.sk,
                                 WEFT_RIGHT_ADMIN, 0, now * 1000));
    CHECK(0 == weft_invite_claim(&BE, claim, sizeof claim, &cl, owner.pk, ticket, tl, ga.me.pk,
                                 now * 1000, NULL));
    memcpy(chain + il, claim, cl);
    CHECK(0 == weft_grant_sign(&BE, wgrant, sizeof wgrant, &wl, owner.pk, owner.sk, gw.me.pk,
                               WEFT_RIGHT_WRITE, 0, 0, now * 1000));
    CHECK(tc_send_record(&admin, chain, il) == 0 && tc_send_record(&admin, wgrant, wl) == 0);
    CHECK(tc_wait(&admin, until_stored, 12, 5000) && admin.n_rejected == 0);
    ga.by_grant = 1;
    memcpy(ga.token, claim, cl);
    ga.token_len = cl;
    gw.by_grant = 1;
    gw.token_len = 0;
    CHECK(tc_connect(&ga, p.port, 1, 0, 0) == 0 && tc_wait(&ga, until_synced, 0, 5000));
    CHECK(tc_connect(&gw, p.port, 1, 0, 0) == 0 && tc_wait(&gw, until_synced, 0, 5000));
    CHECK(same_state(&ga, &admin) && same_state(&gw, &admin));
    size_t sl, wsl;
    uint8_t *snap = publish(&ga, &sl), *wsnap = publish(&gw, &wsl);
    uint64_t v;
    CHECK(ws_upload(&ga, snap, sl, &v) == WEFT_ACK_REJECTED && v == WEFT_PROTO_ERIGHTS);
    CHECK(ws_upload_tok(&gw, chain, il + cl, wsnap, wsl, &v) == WEFT_ACK_REJECTED &&
          v == WEFT_PROTO_ERIGHTS);
    CHECK(ws_upload_tok(&gw, wgrant, wl, wsnap, wsl, &v) == WEFT_ACK_REJECTED &&
          v == WEFT_PROTO_ERIGHTS);
    CHECK(ws_upload_tok(&admin, chain, il + cl, snap, sl, &v) == WEFT_ACK_REJECTED &&
          v == WEFT_PROTO_EBAD_SNAPSHOT);
    CHECK(refused(p.port, "rights") == 3);
    CHECK(ws_upload_tok(&ga, chain, il + cl, snap, sl, &v) == WEFT_ACK_STORED);
    CHECK(!ga.closed && !gw.closed && ga.err_code == 0 && gw.err_code == 0);
    /* A joiner is served the chain where a token would be. */
    ws_join(&fresh, p.port);
    CHECK(fresh.snap != NULL && fresh.snap_token_len == il + cl &&
          memcmp(fresh.snap_token, chain, il + cl) == 0);
    uint8_t rights = 0;
    weft_snapshot_header hd;
    CHECK(weft_snapshot_header_decode(&hd, fresh.snap, fresh.snap_len) == 0);
    CHECK(weft_grant_chain_verify(&BE, fresh.snap_token, fresh.snap_token_len, owner.pk,
                                  hd.publisher, now, &rights) == 0 &&
          rights == WEFT_RIGHT_ADMIN);
    CHECK(same_state(&fresh, &admin));
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    free(snap);
    free(wsnap);
    tc_free(&admin);
    tc_free(&ga);
    tc_free(&gw);
    tc_free(&fresh);
}

/* A snapshot too big for a WebSocket frame: the answer says USE_REST with
 * the base and token but no record, the session is rewound past it all
 * the same, and the client GETs the record over REST. */
static void ws_use_rest(void) {
    relay_proc p = {0};
    const char *extra[] = {"--max-frame", "2048", NULL};
    if (start(&p, "memory", extra)) return;
    tclient admin, fresh;
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&admin, until_synced, 0, 5000));
    CHECK(tc_write(&admin, 20, 100, 1) == 0);
    CHECK(tc_wait(&admin, until_acked, 20, 10000));
    size_t sl;
    uint8_t *snap = publish(&admin, &sl);
    CHECK(sl > 2048);
    CHECK(post_snap(p.port, space_hex, &admin, snap, sl, NULL) == 200);
    ws_join(&fresh, p.port);
    CHECK(fresh.n_snapshots == 1 && fresh.snap == NULL);
    CHECK(fresh.snap_flags == WEFT_SNAPSHOT_USE_REST && fresh.snap_rseq == 20);
    CHECK(fresh.snap_token_len == admin.token_len);
    CHECK(fresh.received == 0); /* rewound past what the snapshot covers */
    char *b;
    size_t bl;
    CHECK(get_snap(p.port, &fresh, &b, &bl, NULL) == 200 && bl == sl);
    CHECK(weft_replica_load_sealed_snapshot(fresh.rep, (const uint8_t *)b, bl) == 0);
    free(b);
    CHECK(same_state(&fresh, &admin));
    write_acked(&admin, 1);
    CHECK(tc_wait(&fresh, until_received, 1, 5000) && same_state(&fresh, &admin));
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    free(snap);
    tc_free(&admin);
    tc_free(&fresh);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* kill -9 while a snapshot is half on disk: the older snapshot and every
 * acked change survive; the torn one is gone. */
static void kill_mid_upload(void) {
    relay_proc p = {0};
    relay_tmpdir(&p);
    setenv("WEFT_RELAY_TEST_SNAPSHOT_DELAY_MS", "4000", 1);
    int rc = start(&p, "file", NULL);
    unsetenv("WEFT_RELAY_TEST_SNAPSHOT_DELAY_MS");
    if (rc) return;
    tclient admin, rd;
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&admin, until_synced, 0, 5000));
    write_acked(&admin, 20);
    size_t l1, l2;
    uint8_t *s1 = publish(&admin, &l1);
    CHECK(post_snap(p.port, space_hex, &admin, s1, l1, NULL) == 200); /* slow: the hook */
    write_acked(&admin, 10);
    uint64_t acked_seq = admin.acked_seq;
    uint8_t *s2 = publish(&admin, &l2);
    /* The relay sleeps half-way through writing s2: this request times
     * out, and the relay is killed meanwhile. */
    CHECK(post_snap_t(p.port, space_hex, &admin, s2, l2, NULL, 1500) == -1);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/%s/snap.tmp", p.dir, space_hex);
    CHECK(file_exists(tmp)); /* half a snapshot is on disk */
    CHECK(relay_stop(&p, SIGKILL, 3000) == 128 + SIGKILL);
    if (start(&p, "file", NULL) == 0) {
        char *b, *h;
        size_t bl;
        CHECK(get_snap(p.port, &rd, &b, &bl, &h) == 200);
        CHECK(bl == l1 && memcmp(b, s1, l1) == 0 && strstr(h, "weft-snapshot-rseq: 20"));
        free(b);
        free(h);
        CHECK(!file_exists(tmp)); /* the torn upload was removed at open */
        CHECK(tc_connect(&rd, p.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&rd, until_synced, 0, 5000));
        CHECK(tc_seq_of(&rd, admin.me.pk) == acked_seq && acked_seq == 30);
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    }
    free(s1);
    free(s2);
    tc_free(&admin);
    tc_free(&rd);
    relay_cleanup(&p);
}

static void flip_byte(const char *path, long off) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
}

/* A stored snapshot damaged on disk is skipped: the next older one is
 * served, then none. */
static void damaged_skipped(void) {
    relay_proc p = {0};
    relay_tmpdir(&p);
    if (start(&p, "file", NULL)) return;
    tclient admin, rd;
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&admin, until_synced, 0, 5000));
    size_t l1, l2, l3;
    write_acked(&admin, 5);
    uint8_t *s1 = publish(&admin, &l1);
    CHECK(post_snap(p.port, space_hex, &admin, s1, l1, NULL) == 200);
    write_acked(&admin, 5);
    uint8_t *s2 = publish(&admin, &l2);
    CHECK(post_snap(p.port, space_hex, &admin, s2, l2, NULL) == 200);
    write_acked(&admin, 5);
    uint8_t *s3 = publish(&admin, &l3);
    CHECK(post_snap(p.port, space_hex, &admin, s3, l3, NULL) == 200);
    /* Only the two newest are kept. */
    char f1[512], f2[512], f3[512];
    snprintf(f1, sizeof f1, "%s/%s/%020d.snap", p.dir, space_hex, 5);
    snprintf(f2, sizeof f2, "%s/%s/%020d.snap", p.dir, space_hex, 10);
    snprintf(f3, sizeof f3, "%s/%s/%020d.snap", p.dir, space_hex, 15);
    CHECK(!file_exists(f1) && file_exists(f2) && file_exists(f3));
    char *b, *h;
    size_t bl;
    flip_byte(f3, 100);
    CHECK(get_snap(p.port, &rd, &b, &bl, &h) == 200);
    CHECK(bl == l2 && memcmp(b, s2, l2) == 0 && strstr(h, "weft-snapshot-rseq: 10"));
    free(b);
    free(h);
    CHECK(relay_metric(p.port, "weft_relay_snapshots_damaged_total") == 1);
    flip_byte(f2, 30);
    CHECK(get_snap(p.port, &rd, &b, &bl, NULL) == 404);
    free(b);
    CHECK(relay_metric(p.port, "weft_relay_snapshots_damaged_total") == 3);
    /* The log is untouched: a joiner replays it. */
    CHECK(tc_connect(&rd, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&rd, until_synced, 0, 5000));
    CHECK(rd.received == 15 && same_state(&rd, &admin));
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    free(s1);
    free(s2);
    free(s3);
    tc_free(&admin);
    tc_free(&rd);
    relay_cleanup(&p);
}

/* Redis storage keeps snapshots too (the newest two, in weft:{hex}:snap):
 * uploads over REST and WebSocket are stored once Redis confirmed them,
 * served by this relay and by another relay sharing the Redis, after a
 * restart too; the same refusals hold (stale); a joiner gets only the
 * tail. */
static void redis_snapshots(void) {
    redis_proc rds = {0};
    if (redis_spawn(&rds)) {
        fprintf(stderr, "cannot start redis-server\n");
        check_failures++;
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rds.port);
    relay_proc p = {0}, q = {0};
    const char *extra[] = {"--redis", url, NULL};
    if (start(&p, "redis", extra) == 0 && start(&q, "redis", extra) == 0) {
        tclient admin, rd, fresh, other;
        tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
        tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
        tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
        tc_init(&other, &owner, NULL, WEFT_RIGHT_READ, content_key);
        CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&admin, until_synced, 0, 5000));
        write_acked(&admin, 10);
        size_t sl, s2l;
        uint8_t *snap = publish(&admin, &sl);
        char *b, *h;
        size_t bl;
        CHECK(get_snap(p.port, &rd, &b, &bl, NULL) == 404);
        free(b);
        CHECK(post_snap(p.port, space_hex, &admin, snap, sl, &b) == 200);
        CHECK(b && strstr(b, "\"rseq\":10"));
        free(b);
        CHECK(get_snap(p.port, &rd, &b, &bl, &h) == 200 && bl == sl && memcmp(b, snap, sl) == 0);
        CHECK(h && strstr(h, "weft-snapshot-rseq: 10"));
        free(b);
        free(h);
        /* The other relay serves it from Redis. */
        CHECK(get_snap(q.port, &rd, &b, &bl, &h) == 200 && bl == sl && memcmp(b, snap, sl) == 0);
        free(b);
        free(h);
        /* Over the sync protocol: stored once Redis confirmed it. */
        write_acked(&admin, 5);
        uint8_t *snap2 = publish(&admin, &s2l);
        uint64_t v;
        CHECK(ws_upload(&admin, snap2, s2l, &v) == WEFT_ACK_STORED && v == 15);
        CHECK(!admin.closed);
        /* Stale: the first one again. */
        CHECK(post_snap(p.port, space_hex, &admin, snap, sl, &b) == 409);
        CHECK(b && strstr(b, "STALE_SNAPSHOT"));
        free(b);
        CHECK(relay_metric(p.port, "weft_relay_snapshots_stored_total") == 2);
        write_acked(&admin, 3); /* the tail */
        /* A joiner through the other relay: the newest snapshot, then 3. */
        ws_join(&fresh, q.port);
        CHECK(fresh.snap != NULL && fresh.snap_rseq == 15);
        CHECK(fresh.received == 3 && same_state(&fresh, &admin));
        /* After a restart the relay loads it from Redis again. */
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
        if (start(&p, "redis", extra) == 0) {
            CHECK(get_snap(p.port, &rd, &b, &bl, NULL) == 200 && bl == s2l &&
                  memcmp(b, snap2, s2l) == 0);
            free(b);
            ws_join(&other, p.port);
            CHECK(other.snap_rseq == 15 && other.received == 3 && same_state(&other, &admin));
        }
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
        CHECK(relay_stop(&q, SIGTERM, 5000) == 0);
        free(snap);
        free(snap2);
        tc_free(&admin);
        tc_free(&rd);
        tc_free(&fresh);
        tc_free(&other);
    } else if (p.pid) {
        relay_stop(&p, SIGTERM, 5000);
    }
    redis_kill(&rds);
    redis_cleanup(&rds);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_snapshots PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    ident_new(&owner);
    for (int i = 0; i < 32; i++)
        snprintf(space_hex + 2 * i, 3, "%02x", owner.pk[i]);
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {
        {"upload_and_join", upload_and_join},
        {"refusals", refusals},
        {"ws_upload_and_join", ws_upload_and_join},
        {"ws_use_rest", ws_use_rest},
        {"ws_by_grant", ws_by_grant},
        {"kill_mid_upload", kill_mid_upload},
        {"damaged_skipped", damaged_skipped},
    };
    static const relay_test redis_tests[] = {
        {"redis_snapshots", redis_snapshots},
    };
    if (argc > 2 && strcmp(argv[2], "redis") == 0) return run_relay_tests(redis_tests, 1, NULL);
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
