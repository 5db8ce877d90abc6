/*
 * HTTP endpoints (http.h; docs/RELAY.md, "HTTP"). Each request builds its
 * whole response in memory (probes, metrics, one page of changes, a JSON
 * answer), writes the headers from the HTTP callback and the body from
 * HTTP_WRITEABLE in chunks, as lws wants. Static files go through
 * lws_serve_http_file.
 *
 * A POST of changes is answered only after the end-of-turn flush, like a
 * WebSocket ACK: the request joins the relay's list of held sessions and
 * http_release() answers it once its changes are durable. Answers to POSTs
 * with an Idempotency-Key are remembered in the space's cache (idem.h: per
 * token id, the last IDEM_SLOTS of them, for a day) and replayed for a
 * repeated key.
 *
 * Sealed snapshots (docs/RELAY.md, "Snapshots"): POST .../snapshots takes
 * one record (up to --max-snapshot), checks it (space_snapshot_check) and
 * answers once it is durable; GET .../snapshot serves the newest intact
 * one with its base relay sequence in a header.
 */
#include "admin.h"
#include "admit.h"
#include "blobs.h"
#include "hex.h"
#include "http.h"
#include "weft/hash.h"
#include "weft/members.h"
#include "pubsub.h"
#include "session.h"
#include "space.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>

/* Bytes handed to lws per WRITEABLE: large enough that a 1 MiB file chunk
 * takes a few loop turns, not dozens. */
#define BODY_CHUNK    (256 * 1024)
#define PROOF_SKEW_S  300
#define DEFAULT_LIMIT 100

enum { M_GET = 1, M_POST, M_DELETE, M_OPTIONS, M_OTHER };

typedef struct http_state {
    /* response */
    char *body;
    size_t body_len, sent;
    uint8_t *wbuf; /* LWS_PRE + BODY_CHUNK: what lws_write is handed */
    /* POST: request body, then results until the flush */
    int method;
    char path[256];
    uint8_t *req;
    size_t req_len, req_cap;
    int too_big;
    uint8_t space[32];
    uint8_t token_id[16];
    uint8_t req_hash[32]; /* BLAKE2b-256 of the POST body */
    char idem[IDEM_KEY_MAX + 1];
    int idem_bad;   /* Idempotency-Key empty or over IDEM_KEY_MAX: 400 */
    int proof_used; /* this request's proof was accepted (a rerun checks it again) */
    int by_grant;   /* Authorization: Grant: the key's grants decide (grant_rest_check) */
    uint8_t claim[WEFT_GRANT_MAX_BYTES]; /* by grant: the key's invite claim, if sent */
    size_t claim_len;
    uint32_t n;
    ack_entry *res;
    storage_batch *batch; /* the batch the answer waits for */
    /* the request waits for its space to load, a shared rate verdict or a
     * delete to be confirmed, and runs again from HTTP_WRITEABLE then */
    int deferred, load_failed, rate_asked, synced, delete_sent;
    uint32_t level; /* Weft-Format-Level: the format level the client reads (1 without) */
    /* a snapshot upload: its body is bounded by --max-snapshot; snap_sent
     * once storage took it and the answer waits for its confirmation */
    int snap, snap_sent;
    uint64_t snap_base;
    int space_charged;       /* the space's change bucket was charged (once) */
    uint64_t admitted_bytes; /* the admission's byte quota (0: none) */
    /* a file chunk upload (POST .../blobs/{blob}/{i}), or a blob's status */
    int blob_post;
    int cors; /* a files request: answers carry CORS headers */
    uint8_t blob[BLOB_ID_BYTES];
    uint32_t chunk;
} http_state;

/* ---- responses ---- */

static void http_state_free(session *s) {
    if (!s->http) return;
    storage_batch_unref(s->http->batch);
    free(s->http->body);
    free(s->http->wbuf);
    free(s->http->req);
    free(s->http->res);
    free(s->http);
    s->http = NULL;
}

static http_state *state_of(session *s) {
    if (!s->http) s->http = calloc(1, sizeof *s->http);
    return s->http;
}

/* Sends status + headers now, and the body (taken over) from WRITEABLE.
 * extra: NULL-terminated name/value pairs ("name:" with the colon). */
static int respond(session *s, struct lws *wsi, unsigned status, const char *type, char *body,
                   size_t body_len, const char *const *extra) {
    relay *r = s->r;
    r->m.http_requests++;
    http_state *h = state_of(s);
    if (!h) {
        free(body);
        return -1;
    }
    free(h->body);
    h->body = body;
    h->body_len = body_len;
    h->sent = 0;
    uint8_t hdr[LWS_PRE + 4096], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, status, type, body_len, &p, end)) return -1;
    int has_cache = 0;
    for (int i = 0; extra && extra[i]; i += 2) {
        if (strcmp(extra[i], "cache-control:") == 0) has_cache = 1;
        if (lws_add_http_header_by_name(wsi, (const uint8_t *)extra[i],
                                        (const uint8_t *)extra[i + 1], (int)strlen(extra[i + 1]),
                                        &p, end))
            return -1;
    }
    if (!has_cache && lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:",
                                                  (const uint8_t *)"no-store", 8, &p, end))
        return -1;
    /* Files are read and written from apps served elsewhere too: any
     * origin may call them (they need a token in a header, never a
     * cookie, so a page cannot borrow a user's rights). */
    if (h->cors &&
        (lws_add_http_header_by_name(wsi, (const uint8_t *)"access-control-allow-origin:",
                                     (const uint8_t *)"*", 1, &p, end) ||
         lws_add_http_header_by_name(wsi, (const uint8_t *)"access-control-expose-headers:",
                                     (const uint8_t *)"content-range", 13, &p, end)))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    r->m.bytes_out += body_len;
    lws_callback_on_writable(wsi);
    return 0;
}

static char *dup_printf(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *dup_printf(size_t *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *b = malloc((size_t)n + 1);
    if (!b) return NULL;
    va_start(ap, fmt);
    vsnprintf(b, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len = (size_t)n;
    return b;
}

static int respond_text(session *s, struct lws *wsi, unsigned status, const char *text) {
    size_t n;
    char *b = dup_printf(&n, "%s", text);
    return b ? respond(s, wsi, status, "text/plain; charset=utf-8", b, n, NULL) : -1;
}

static unsigned http_status_of(uint32_t code) {
    switch (code) {
    case WEFT_PROTO_EAUTH:
    case WEFT_PROTO_EPROOF:
    case WEFT_PROTO_EEXPIRED:
        return 401;
    case WEFT_PROTO_ERIGHTS:
    case WEFT_PROTO_ENOT_ADMITTED:
    case WEFT_PROTO_EBAD_URL:
    case WEFT_PROTO_EURL_EXPIRED:
    case WEFT_PROTO_EREVOKED:
        return 403;
    case WEFT_PROTO_ERANGE:
        return 416;
    case WEFT_PROTO_EQUOTA:
        return 507;
    case WEFT_PROTO_ENOT_FOUND:
        return 404;
    case WEFT_PROTO_ETRIMMED:
        return 410;
    case WEFT_PROTO_EUNCOVERED:
    case WEFT_PROTO_ESTALE_SNAPSHOT:
        return 409;
    case WEFT_PROTO_ETOO_BIG:
    case WEFT_PROTO_ETOO_MANY_CHANGES:
        return 413;
    case WEFT_PROTO_ERATE_LIMITED:
        return 429;
    case WEFT_PROTO_ESTORAGE:
    case WEFT_PROTO_EINTERNAL:
        return 500;
    case WEFT_PROTO_EGOING_AWAY:
    case WEFT_PROTO_EOVERLOADED:
        return 503;
    default:
        return 400;
    }
}

/* An error as JSON: {"error": NAME, "code": N, "message": "..."}. The
 * message is one of the relay's own fixed strings (no quoting needed). */
static int respond_error(session *s, struct lws *wsi, uint32_t code, const char *msg) {
    relay_reject(s->r, code);
    size_t n;
    char *b = dup_printf(&n, "{\"error\":\"%s\",\"code\":%u,\"message\":\"%s\"}\n",
                         weft_proto_err_name(code), code, msg);
    if (!b) return -1;
    return respond(s, wsi, http_status_of(code), "application/json", b, n, NULL);
}

/* ---- request parsing ---- */

/* A space id in a path: 64 hex digits or 43 base64url characters. */
static int parse_space(uint8_t out[32], const char *p, size_t n) {
    if (n == 64) return weft__hex_decode(out, 32, NULL, p, n) ? -1 : 0;
    size_t len;
    if (n == 43 && weft_base64url_decode(out, 32, &len, p, n) == 0 && len == 32) return 0;
    return -1;
}

/* "/v1/spaces/{id}", ".../changes", ".../snapshots" (upload),
 * ".../snapshot" (the newest), ".../blobs/{blob}" (a file's status and
 * URL) or ".../blobs/{blob}/{chunk}" (upload). Returns 1 to 6, or 0. */
static int parse_path(const char *path, uint8_t sid[32], uint8_t blob[BLOB_ID_BYTES],
                      uint32_t *chunk) {
    static const char pre[] = "/v1/spaces/";
    if (strncmp(path, pre, sizeof pre - 1) != 0) return 0;
    const char *id = path + sizeof pre - 1, *slash = strchr(id, '/');
    size_t n = slash ? (size_t)(slash - id) : strlen(id);
    if (parse_space(sid, id, n)) return 0;
    if (!slash) return 1;
    if (strcmp(slash, "/changes") == 0) return 2;
    if (strcmp(slash, "/snapshots") == 0) return 3;
    if (strncmp(slash, "/blobs/", 7) == 0) {
        int k = weft__blob_tail_parse(blob, chunk, slash + 7, strlen(slash + 7));
        return k ? 4 + k : 0;
    }
    return strcmp(slash, "/snapshot") == 0 ? 4 : 0;
}

/* ---- single-use proofs ----
 *
 * A REST proof is valid for PROOF_SKEW_S either side of the relay's clock,
 * so one taken off the wire could be replayed for that long; the relay
 * remembers every proof it accepted (by the hash of its signature) for
 * PROOF_KEEP_S, long enough to outlive its window, and refuses it the
 * second time. Entries are kept in the order they came, which is also the
 * order they expire in. At most PROOF_SEEN_MAX: when every one is still
 * fresh, new proofs are refused (OVERLOADED) rather than let replays in. */

#define PROOF_KEEP_S   (2 * PROOF_SKEW_S)
#define PROOF_SEEN_MAX 65536u

typedef struct proof_seen {
    uint8_t id[32];
    uint64_t until;
} proof_seen;

struct proof_cache {
    weft__idtab tab; /* id -> (void *)1 */
    proof_seen *ring;
    size_t first, n;
};

static void proofs_expire(proof_cache *c, uint64_t now) {
    while (c->n && c->ring[c->first].until <= now) {
        weft__idtab_del(&c->tab, c->ring[c->first].id);
        c->first = (c->first + 1) % PROOF_SEEN_MAX;
        c->n--;
    }
}

/* Records a proof. Returns 0, WEFT_PROTO_EPROOF when it was seen before,
 * or WEFT_PROTO_EOVERLOADED when the table is full or out of memory. */
static uint32_t proof_use(relay *r, const uint8_t sig[64], uint64_t now) {
    proof_cache *c = r->proofs;
    if (!c) {
        c = r->proofs = calloc(1, sizeof *c);
        if (c) c->ring = malloc(PROOF_SEEN_MAX * sizeof *c->ring);
        if (!c || !c->ring) {
            http_free(r);
            return WEFT_PROTO_EOVERLOADED;
        }
        weft__idtab_init(&c->tab, r->hash_seed);
    }
    proofs_expire(c, now);
    uint8_t id[32];
    weft_blake2b(id, 32, sig, 64);
    if (weft__idtab_get(&c->tab, id)) {
        r->m.proofs_replayed++;
        return WEFT_PROTO_EPROOF;
    }
    if (c->n == PROOF_SEEN_MAX || weft__idtab_put(&c->tab, id, (void *)1, NULL))
        return WEFT_PROTO_EOVERLOADED;
    proof_seen *e = &c->ring[(c->first + c->n++) % PROOF_SEEN_MAX];
    memcpy(e->id, id, 32);
    e->until = now + PROOF_KEEP_S;
    return 0;
}

void http_free(relay *r) {
    proof_cache *c = r->proofs;
    if (!c) return;
    weft__idtab_free(&c->tab);
    free(c->ring);
    free(c);
    r->proofs = NULL;
}

/* Checks the Bearer token for the space and a right. For a token granted
 * to a key, reads and deletes also need Weft-Proof: "<stamp>.<sig>", where
 * stamp is "<unix s>" or "<unix s>:<client nonce>" (at most
 * PROOF_STAMP_MAX characters, the nonce of [A-Za-z0-9_-]) and sig the
 * grantee's weft_proof_sign over "<stamp> <METHOD> " || BLAKE2b-256(target),
 * target being the path and, when the request has one, "?" and its query
 * (within 5 minutes of the relay's clock, and accepted once: proof_use). A
 * POST of changes needs none: every change it carries is signed by its
 * author, whom the token must name. always_proof: a write needs the proof
 * too (a file chunk's bytes are signed by nobody). Returns 0 or a
 * WEFT_PROTO_E code. */
#define PROOF_STAMP_MAX 24

/* "Authorization: Grant <base64url>": the key (32 bytes) or its invite
 * claim (a grant record naming it). Fills t with the key and no rights:
 * grant_rest_check gives it the rights its grants hold once the space is
 * loaded. Returns 0 or WEFT_PROTO_EAUTH. */
static uint32_t grant_auth(session *s, const char *b64, const uint8_t sid[32], weft_token *t) {
    http_state *h = s->http;
    uint8_t buf[WEFT_GRANT_MAX_BYTES];
    size_t len;
    if (!h || weft_base64url_decode(buf, sizeof buf, &len, b64, strlen(b64)))
        return WEFT_PROTO_EAUTH;
    memset(t, 0, sizeof *t);
    memcpy(t->space, sid, 32);
    memcpy(t->issuer, sid, 32);
    if (len == 32) {
        memcpy(t->grantee, buf, 32);
    } else {
        weft_member_record c;
        if (weft_member_record_decode(&c, buf, len) || c.kind != WEFT_RECORD_GRANT || c.flags)
            return WEFT_PROTO_EAUTH;
        memcpy(t->grantee, c.member, 32);
        memcpy(h->claim, buf, len);
        h->claim_len = len;
    }
    memcpy(t->id, t->grantee, WEFT_TOKEN_IDBYTES);
    h->by_grant = 1;
    return 0;
}

/* A request by grant, its space loaded: its claim is stored (once; a
 * refusal changes nothing), then t gets the rights its key's grants give
 * now. Returns 0 or the refusal (NOT_MEMBER, EXPIRED, REVOKED, REPLAY,
 * RIGHTS...). Requests by token pass. */
static uint32_t grant_rest_check(session *s, struct space *sp, weft_token *t, uint8_t right) {
    http_state *h = s->http;
    if (!h->by_grant) return 0;
    relay *r = s->r;
    uint64_t now = relay_unix_s();
    if (h->claim_len) {
        weft_member_record c;
        uint8_t hash[32];
        if (weft_member_record_verify(&r->be, h->claim, h->claim_len, sp->id, &c))
            return WEFT_PROTO_EBAD_SIGNATURE;
        weft_blake2b(hash, 32, h->claim, h->claim_len);
        if (weft_members_status(sp->members, hash) != 0) {
            int rc = weft_members_invite_open(sp->members, c.issuer, now);
            if (rc == WEFT_EREPLAY) return WEFT_PROTO_EREPLAY;
            if (rc == WEFT_EEXPIRED) return WEFT_PROTO_EEXPIRED;
            if (rc == WEFT_EREVOKED) return WEFT_PROTO_EREVOKED;
            if (rc) return WEFT_PROTO_ENOT_MEMBER;
            uint8_t status;
            uint64_t value;
            if (space_submit(sp, h->claim, h->claim_len, NULL, now, 0, h->level, &status, &value))
                return WEFT_PROTO_ESTORAGE;
            if (status == WEFT_ACK_REJECTED) return (uint32_t)value;
        }
    }
    uint8_t rights;
    uint64_t until;
    int rc = weft_members_rights(sp->members, t->grantee, now, &rights, &until);
    if (rc == WEFT_EREVOKED) return WEFT_PROTO_EREVOKED;
    if (rc == WEFT_EEXPIRED) return WEFT_PROTO_EEXPIRED;
    if (rc || !rights) return WEFT_PROTO_ENOT_MEMBER;
    if (rights < right) return WEFT_PROTO_ERIGHTS;
    t->rights = rights;
    t->expires = until;
    return 0;
}

/* grant_ok: the handler calls grant_rest_check once its space is loaded,
 * so "Authorization: Grant" may be accepted (it always needs the proof). */
static uint32_t check_auth_as(session *s, struct lws *wsi, const uint8_t sid[32], uint8_t right,
                              int always_proof, int grant_ok, const char *method, const char *path,
                              weft_token *t) {
    relay *r = s->r;
    char auth[2048];
    if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
        return WEFT_PROTO_EAUTH;
    uint64_t now = relay_unix_s();
    if (grant_ok && strncmp(auth, "Grant ", 6) == 0) {
        uint32_t code = grant_auth(s, auth + 6, sid, t);
        if (code) return code;
    } else {
        if (strncmp(auth, "Bearer ", 7) != 0) return WEFT_PROTO_EAUTH;
        uint8_t tok[WEFT_PROTO_MAX_TOKEN];
        size_t tlen;
        if (weft_base64url_decode(tok, sizeof tok, &tlen, auth + 7, strlen(auth + 7)))
            return WEFT_PROTO_EAUTH;
        int rc = weft_token_verify(&r->be, tok, tlen, sid, now, t);
        if (rc == WEFT_EEXPIRED || rc == WEFT_ENOTYET) return WEFT_PROTO_EEXPIRED;
        if (rc) return WEFT_PROTO_EAUTH;
        if (t->rights < right) return WEFT_PROTO_ERIGHTS;
        if (t->any_grantee || (right == WEFT_RIGHT_WRITE && !always_proof)) return 0;
    }
    char proof[160];
    if (lws_hdr_custom_copy(wsi, proof, sizeof proof, "weft-proof:", 11) <= 0)
        return WEFT_PROTO_EPROOF;
    char *dot = strchr(proof, '.');
    if (!dot || dot - proof > PROOF_STAMP_MAX) return WEFT_PROTO_EPROOF;
    *dot = 0;
    char *end;
    unsigned long long ts = strtoull(proof, &end, 10);
    if (end == proof || ts + PROOF_SKEW_S < now || ts > now + PROOF_SKEW_S)
        return WEFT_PROTO_EPROOF;
    if (*end == ':') {
        size_t nl = strlen(end + 1);
        if (!nl || strspn(end + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789_-") != nl)
            return WEFT_PROTO_EPROOF;
    } else if (*end) {
        return WEFT_PROTO_EPROOF;
    }
    uint8_t sig[64];
    size_t sl;
    if (weft_base64url_decode(sig, sizeof sig, &sl, dot + 1, strlen(dot + 1)) || sl != 64)
        return WEFT_PROTO_EPROOF;
    /* Proof nonces are at most 64 bytes: "<stamp> <METHOD> " (at most 24 +
     * 1 + 6 + 1) then the BLAKE2b-256 of the target, so that a proof for
     * one page, cursor or method is no proof for another. */
    uint8_t nonce[64];
    int nl = snprintf((char *)nonce, 33, "%s %s ", proof, method);
    if (nl < 0 || nl > 32) return WEFT_PROTO_EPROOF;
    char target[1024];
    size_t pl = strlen(path);
    if (pl >= sizeof target) return WEFT_PROTO_EPROOF;
    memcpy(target, path, pl);
    /* The query as lws holds it: its parameters in order (percent-escapes
     * decoded), joined again by '&'. */
    for (int i = 0;; i++) {
        char arg[512];
        int al = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (al < 0) break;
        if (pl + 1 + (size_t)al >= sizeof target) return WEFT_PROTO_EPROOF;
        target[pl++] = i ? '&' : '?';
        memcpy(target + pl, arg, (size_t)al);
        pl += (size_t)al;
    }
    weft_blake2b(nonce + nl, 32, target, pl);
    nl += 32;
    if (weft_proof_verify(&r->be, sig, t->grantee, sid, nonce, (size_t)nl))
        return WEFT_PROTO_EPROOF;
    /* A request that waited (a space loading) runs again with the same
     * proof: that is its own use, not a replay. */
    if (s->http && s->http->proof_used) return 0;
    uint32_t code = proof_use(r, sig, now);
    if (!code && s->http) s->http->proof_used = 1;
    return code;
}

/* check_auth_as for handlers that also take "Authorization: Grant"
 * (reading the log, posting changes or snapshots): they call
 * grant_rest_check once loaded. A bearer write needs no Weft-Proof (the
 * body, signed, proves its author); a grant always does. */
static uint32_t check_auth_grant(session *s, struct lws *wsi, const uint8_t sid[32], uint8_t right,
                                 const char *method, const char *path, weft_token *t) {
    return check_auth_as(s, wsi, sid, right, 0, 1, method, path, t);
}

/* The answer a parked request waited for came (failed: its space could
 * not be loaded, or a delete was not confirmed): it runs again from
 * HTTP_WRITEABLE. */
static void on_answer(void *ud, int failed) {
    session *s = ud;
    if (!s->http || !s->wsi) return;
    s->http->load_failed = failed;
    lws_callback_on_writable(s->wsi);
}

static void on_rate_verdict(void *ud, int allowed) {
    session *s = ud;
    s->rate_verdict = allowed;
    on_answer(s, 0);
}

/* Waits for the space to load (fresh: and to be as fresh as storage, see
 * space_wait). Returns 0 when it is now; else the request waits (it runs
 * again when the answer comes) or failed, and *answered is what the
 * callback should return. */
static int park(session *s, struct lws *wsi, struct space *sp, int fresh, int *answered) {
    int rc = space_wait(sp, fresh, &s->wait, on_answer, s);
    if (rc == 0) return 0;
    if (rc == STORAGE_LATER) {
        s->http->deferred = 1;
        *answered = 0;
    } else {
        *answered = respond_error(s, wsi, WEFT_PROTO_EINTERNAL, "out of memory");
    }
    return 1;
}

static uint64_t urlarg_u64(struct lws *wsi, const char *name, uint64_t dflt, int *bad) {
    char buf[64];
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, sizeof buf);
    if (!v) return dflt;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || !*v || *v == '-') *bad = 1;
    return n;
}

/* ---- GET /v1/spaces/{id}/changes ---- */

typedef struct page {
    uint8_t *frame;
    size_t len, cap, max;
    uint32_t n, limit;
    uint64_t last, durable;
    int members; /* ?members=1: the client reads membership records */
} page;

/* A membership record's kind byte (weft/members.h). */
static int is_member_record(const uint8_t *rec, size_t len) {
    return len >= 2 && WEFT_RECORD_IS_MEMBERSHIP(rec[1]);
}

static int page_add(void *ud, uint64_t rseq, const uint8_t *rec, size_t len) {
    page *pg = ud;
    if (rseq > pg->durable || pg->n >= pg->limit) return 1;
    if (!pg->members && is_member_record(rec, len)) {
        pg->last = rseq; /* passed over: a client that does not read them */
        return 0;
    }
    size_t need = pg->len + weft_frame_change_entry_bound(len);
    if (pg->n && need > pg->max) return 1; /* one record always fits */
    if (need > pg->cap) {
        size_t cap = need * 2;
        uint8_t *p = realloc(pg->frame, cap);
        if (!p) return WEFT_ENOMEM;
        pg->frame = p;
        pg->cap = cap;
    }
    weft_frame_changes_add(pg->frame, pg->cap, &pg->len, rseq, rec, len);
    pg->n++;
    pg->last = rseq;
    return 0;
}

/* Admission of a REST request: the `Weft-Admission` header (base64url)
 * carries the token under --admit signed:KEY. Its byte quota applies once
 * the space is open (admitted_bytes). Returns 0 or NOT_ADMITTED (*why). */
static uint32_t admit_check_http(session *s, struct lws *wsi, const uint8_t sid[32],
                                 const char **why) {
    char txt[400];
    uint8_t adm[WEFT_PROTO_MAX_ADMISSION];
    size_t adm_len = 0;
    int tl = lws_hdr_custom_copy(wsi, txt, sizeof txt, "weft-admission:", 15);
    int have = tl > 0 && weft_base64url_decode(adm, sizeof adm, &adm_len, txt, (size_t)tl) == 0;
    return admit_check(s->r, sid, have ? adm : NULL, adm_len, &s->http->admitted_bytes, why);
}

static int get_changes(session *s, struct lws *wsi, const uint8_t sid[32], const char *path) {
    relay *r = s->r;
    weft_token t;
    uint32_t code = check_auth_grant(s, wsi, sid, WEFT_RIGHT_READ, "GET", path, &t);
    if (code) return respond_error(s, wsi, code, "token refused");
    int bad = 0;
    uint64_t after = urlarg_u64(wsi, "after=", 0, &bad);
    uint64_t limit = urlarg_u64(wsi, "limit=", DEFAULT_LIMIT, &bad);
    if (bad) return respond_error(s, wsi, WEFT_PROTO_EBAD_FRAME, "bad after or limit");
    if (limit == 0 || limit > r->cfg.max_changes) limit = r->cfg.max_changes;
    const char *why;
    if (admit_check_http(s, wsi, sid, &why))
        return respond_error(s, wsi, WEFT_PROTO_ENOT_ADMITTED, why);
    struct space *sp;
    int rc = space_open(r, sid, 0, &sp);
    if (rc == WEFT_ENOTFOUND) return respond_error(s, wsi, WEFT_PROTO_ENOT_FOUND, "no such space");
    if (rc) return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "cannot open the space");
    int answered;
    if (!s->http->synced) { /* as fresh as storage: see space_wait */
        s->http->synced = 1;
        if (park(s, wsi, sp, 1, &answered)) return answered;
    }
    if ((code = grant_rest_check(s, sp, &t, WEFT_RIGHT_READ)) != 0) {
        relay_reject(r, code);
        return respond_error(s, wsi, code, weft_proto_strerror(code));
    }
    if (!t.any_grantee && space_key_revoked(sp, t.grantee)) {
        relay_reject(r, WEFT_PROTO_EREVOKED);
        return respond_error(s, wsi, WEFT_PROTO_EREVOKED,
                             "this key was removed from the space: ask an admin");
    }
    if (sp->level > s->http->level)
        return respond_error(s, wsi, WEFT_PROTO_EVERSION,
                             "this space uses a newer format level than this client reads: "
                             "update the app");
    if (after < sp->trimmed) {
        /* The prefix is gone: the joiner loads the newest snapshot, then
         * reads after its base (RELAY.md, "History"). */
        relay_reject(r, WEFT_PROTO_ETRIMMED);
        size_t n;
        char trimmed[24];
        snprintf(trimmed, sizeof trimmed, "%llu", (unsigned long long)sp->trimmed);
        char *b = dup_printf(
            &n,
            "{\"error\":\"TRIMMED\",\"code\":%u,\"trimmed\":%llu,\"snapshot\":\"/v1/spaces/%s/"
            "snapshot\",\"message\":\"history up to rseq %llu is trimmed: load the newest "
            "snapshot, then read the changes after its base\"}\n",
            WEFT_PROTO_ETRIMMED, (unsigned long long)sp->trimmed, sp->hex,
            (unsigned long long)sp->trimmed);
        const char *extra[] = {"weft-trimmed:", trimmed, NULL};
        return b ? respond(s, wsi, 410, "application/json", b, n, extra) : -1;
    }
    page pg = {.max = r->cfg.max_frame,
               .limit = (uint32_t)limit,
               .last = after,
               .durable = sp->durable,
               .members = urlarg_u64(wsi, "members=", 0, &bad) == 1};
    pg.cap = 4096;
    pg.frame = malloc(pg.cap);
    if (!pg.frame) return -1;
    weft_frame_changes_begin(pg.frame, pg.cap, &pg.len, 1);
    rc = after < sp->durable ? space_read(sp, after, pg.max, page_add, &pg) : 0;
    if (rc < 0) {
        free(pg.frame);
        return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "storage read failed");
    }
    char next[24], head[24];
    snprintf(next, sizeof next, "%llu", (unsigned long long)pg.last);
    snprintf(head, sizeof head, "%llu", (unsigned long long)sp->durable);
    const char *extra[] = {"weft-next-after:", next, "weft-head:", head, NULL};
    char accept[256] = "";
    lws_hdr_copy(wsi, accept, sizeof accept, WSI_TOKEN_HTTP_ACCEPT);
    if (!strstr(accept, "application/json")) {
        /* Binary: the body is one CHANGES frame with relay sequences
         * (PROTOCOL.md), or empty when there is nothing after `after`. */
        r->m.changes_out += pg.n;
        size_t n = pg.n ? pg.len : 0;
        return respond(s, wsi, 200, "application/vnd.weft.frame", (char *)pg.frame, n, extra);
    }
    /* JSON: {"changes":[{"rseq":N,"record":"<base64url>"}...],"next_after":N,"head":N} */
    weft_frame f;
    size_t cap = 64 + pg.len * 2 + (size_t)pg.n * 40, o = 0, pos = 0, rl, bl;
    char *b = malloc(cap);
    if (!b || (pg.n && weft_frame_decode(&f, pg.frame, pg.len, pg.n + 1))) {
        free(b);
        free(pg.frame);
        return respond_error(s, wsi, WEFT_PROTO_EINTERNAL, "out of memory");
    }
    o += (size_t)snprintf(b + o, cap - o, "{\"changes\":[");
    uint64_t rseq;
    const uint8_t *rec;
    uint32_t k = 0;
    while (pg.n && weft_frame_change_next(&f, &pos, &rseq, &rec, &rl)) {
        o += (size_t)snprintf(b + o, cap - o, "%s{\"rseq\":%llu,\"record\":\"", k++ ? "," : "",
                              (unsigned long long)rseq);
        weft_base64url_encode(b + o, cap - o, &bl, rec, rl);
        o += bl;
        o += (size_t)snprintf(b + o, cap - o, "\"}");
    }
    o += (size_t)snprintf(b + o, cap - o, "],\"next_after\":%llu,\"head\":%llu}\n",
                          (unsigned long long)pg.last, (unsigned long long)sp->durable);
    free(pg.frame);
    r->m.changes_out += pg.n;
    return respond(s, wsi, 200, "application/json", b, o, extra);
}

/* ---- POST /v1/spaces/{id}/changes ---- */

/* The length of the record at p: a change, or a membership record (which
 * a POST may carry too, FORMAT.md §10). 0 when it is neither. */
static size_t record_len(const uint8_t *p, size_t len) {
    if (len >= 2 && p[1] == WEFT_RECORD_LEVEL) { /* a raise (`weft level raise`) */
        weft_level lv;
        size_t rl;
        return weft_level_decode_prefix(&lv, p, len, &rl) ? 0 : rl;
    }
    if (is_member_record(p, len)) {
        weft_member_record m;
        size_t rl;
        return weft_member_record_decode_prefix(&m, p, len, &rl) ? 0 : rl;
    }
    weft_change c;
    return weft_change_decode(&c, p, len) ? 0 : c.total_len;
}

static int post_changes(session *s, struct lws *wsi) {
    relay *r = s->r;
    http_state *h = s->http;
    if (h->too_big) return respond_error(s, wsi, WEFT_PROTO_ETOO_BIG, "body exceeds --max-frame");
    weft_token t;
    uint32_t code = check_auth_grant(s, wsi, h->space, WEFT_RIGHT_WRITE, "POST", h->path, &t);
    if (code) return respond_error(s, wsi, code, "token refused");
    const char *why;
    if (admit_check_http(s, wsi, h->space, &why))
        return respond_error(s, wsi, WEFT_PROTO_ENOT_ADMITTED, why);
    memcpy(h->token_id, t.id, 16);
    if (h->idem_bad)
        return respond_error(s, wsi, WEFT_PROTO_EBAD_FRAME,
                             "Idempotency-Key must be 1 to 128 characters");
    /* A key names one request: the same key on another body is a client
     * bug (or two clients sharing keys), never a replay. */
    weft_blake2b(h->req_hash, 32, h->req, h->req_len);
    struct space *known = h->idem[0] ? space_find(r, h->space) : NULL;
    size_t idem_len = 0;
    const char *idem_body = NULL;
    int found = known ? idem_find(known->idem, t.id, h->idem, h->req_hash, relay_unix_s(),
                                  &idem_body, &idem_len)
                      : IDEM_MISS;
    if (found == IDEM_CONFLICT) {
        r->m.idem_conflicts++;
        size_t n;
        char *b = dup_printf(&n, "{\"error\":\"IDEMPOTENCY_KEY_REUSED\",\"code\":0,"
                                 "\"message\":\"this Idempotency-Key was used for another "
                                 "request body\"}\n");
        if (!b) return -1;
        return respond(s, wsi, 422, "application/json", b, n, NULL);
    }
    if (found == IDEM_HIT) {
        char *b = malloc(idem_len + 1);
        if (!b) return -1;
        memcpy(b, idem_body, idem_len);
        const char *extra[] = {"idempotent-replayed:", "true", NULL};
        return respond(s, wsi, 200, "application/json", b, idem_len, extra);
    }
    /* Frame the records first: a body that cannot be cut into records is
     * refused whole. */
    uint32_t n = 0;
    for (size_t pos = 0; pos < h->req_len;) {
        size_t rl = record_len(h->req + pos, h->req_len - pos);
        if (!rl) return respond_error(s, wsi, WEFT_PROTO_EBAD_CHANGE, "body is not change records");
        pos += rl;
        if (++n > r->cfg.max_changes)
            return respond_error(s, wsi, WEFT_PROTO_ETOO_MANY_CHANGES, "too many changes");
    }
    if (n == 0) return respond_error(s, wsi, WEFT_PROTO_EBAD_CHANGE, "no changes in the body");
    if (!h->rate_asked) {
        /* Taken once: a shared limit's verdict comes later and the request
         * runs again with it (a Redis error allows, see ratelimit.h). */
        h->rate_asked = 1;
        /* Each change may cost a signature check: the address pays first. */
        if (!ip_take(r, ip_entry_of_fd(r, (int)lws_get_socket_fd(wsi)), IPB_CHANGES, n,
                     RL_IP_CHANGES))
            return respond_error(s, wsi, WEFT_PROTO_ERATE_LIMITED, "address change limit");
        int v = token_rate_take(r, h->space, t.id, n, &s->wait, on_rate_verdict, s);
        if (v == RATE_LATER) {
            h->deferred = 1;
            return 0;
        }
        s->rate_verdict = v;
    }
    if (!s->rate_verdict)
        return respond_error(s, wsi, WEFT_PROTO_ERATE_LIMITED, "token rate limit");
    struct space *sp;
    if (space_open(r, h->space, 1, &sp))
        return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "cannot open the space");
    if (h->admitted_bytes) sp->quota_bytes = h->admitted_bytes;
    if (!h->space_charged) {
        h->space_charged = 1;
        if (!bucket_take(&sp->changes, r->cfg.space_rate, r->cfg.space_burst, n, relay_now_us())) {
            r->m.limited[RL_SPACE_CHANGES]++;
            return respond_error(s, wsi, WEFT_PROTO_ERATE_LIMITED, "space change limit");
        }
    }
    int answered;
    if (park(s, wsi, sp, 0, &answered)) return answered;
    if ((code = grant_rest_check(s, sp, &t, WEFT_RIGHT_WRITE)) != 0) {
        relay_reject(r, code);
        return respond_error(s, wsi, code, weft_proto_strerror(code));
    }
    if (sp->level > h->level)
        return respond_error(s, wsi, WEFT_PROTO_EVERSION,
                             "this space uses a newer format level than this client reads: "
                             "update the app");
    if (space_throttled(sp))
        return respond_error(s, wsi, WEFT_PROTO_EOVERLOADED, "too many appends in flight");
    h->res = calloc(n, sizeof *h->res);
    if (!h->res) return -1;
    uint64_t now = relay_unix_s();
    r->m.bytes_in += h->req_len;
    for (size_t pos = 0; h->n < n;) {
        size_t rl = record_len(h->req + pos, h->req_len - pos);
        ack_entry *e = &h->res[h->n++];
        int rc = space_submit(sp, h->req + pos, rl, &t, now, 0, h->level, &e->status, &e->value);
        if (rc) return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "storage failure");
        if (e->status == ACK_PENDING && !h->batch) h->batch = space_batch(sp);
        pos += rl;
    }
    session_hold(s); /* answered by http_release after the flush */
    return 0;
}

int http_release(struct session *s, int failed) {
    http_state *h = s->http;
    struct lws *wsi = s->wsi;
    if (!h || !h->res) return 1;
    if (!failed && h->batch) {
        int st = storage_batch_state(h->batch);
        if (st == 0) return 0;
        if (st > 0) storage_batch_resolve(h->batch, h->res, h->n);
        failed = st < 0;
    }
    storage_batch_unref(h->batch);
    h->batch = NULL;
    if (failed) {
        free(h->res);
        h->res = NULL;
        respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "storage flush failed");
        return 1;
    }
    size_t cap = 64 + (size_t)h->n * 64, o = 0;
    char *b = malloc(cap);
    if (!b) return 1;
    o += (size_t)snprintf(b + o, cap - o, "{\"results\":[");
    for (uint32_t i = 0; i < h->n; i++) {
        const ack_entry *e = &h->res[i];
        const char *sep = i ? "," : "";
        if (e->status == WEFT_ACK_STORED)
            o += (size_t)snprintf(b + o, cap - o, "%s{\"status\":\"stored\",\"rseq\":%llu}", sep,
                                  (unsigned long long)e->value);
        else if (e->status == WEFT_ACK_DUPLICATE)
            o += (size_t)snprintf(b + o, cap - o, "%s{\"status\":\"duplicate\"}", sep);
        else if (e->status == WEFT_ACK_PARKED)
            o += (size_t)snprintf(b + o, cap - o, "%s{\"status\":\"parked\"}", sep);
        else
            o += (size_t)snprintf(b + o, cap - o, "%s{\"status\":\"rejected\",\"error\":\"%s\"}",
                                  sep, weft_proto_err_name((uint32_t)e->value));
    }
    o += (size_t)snprintf(b + o, cap - o, "]}\n");
    free(h->res);
    h->res = NULL;
    struct space *sp = h->idem[0] ? space_find(s->r, h->space) : NULL;
    if (sp) idem_put(&sp->idem, h->token_id, h->idem, h->req_hash, b, o, relay_unix_s());
    respond(s, wsi, 200, "application/json", b, o, NULL);
    return 1;
}

/* ---- POST /v1/spaces/{id}/snapshots, GET /v1/spaces/{id}/snapshot ---- */

static int snapshot_stored(session *s, struct lws *wsi) {
    s->r->m.snapshots_stored++;
    size_t n;
    char *b =
        dup_printf(&n, "{\"stored\":true,\"rseq\":%llu}\n", (unsigned long long)s->http->snap_base);
    return b ? respond(s, wsi, 200, "application/json", b, n, NULL) : -1;
}

/* The body is one sealed snapshot. Auth as for POST changes (a Bearer
 * token, no Weft-Proof): the snapshot is signed by its publisher, whom the
 * token must grant admin, which proves possession of that key. Or by
 * grant (Authorization: Grant and its Weft-Proof) with Weft-Grant-Chain. */
static int post_snapshot(session *s, struct lws *wsi) {
    relay *r = s->r;
    http_state *h = s->http;
    if (h->too_big) {
        r->m.snapshots_refused[RELAY_SNAP_TOO_BIG]++;
        return respond_error(s, wsi, WEFT_PROTO_ETOO_BIG, "body exceeds --max-snapshot");
    }
    weft_token t;
    uint32_t code = check_auth_grant(s, wsi, h->space, WEFT_RIGHT_WRITE, "POST", h->path, &t);
    if (code == WEFT_PROTO_ERIGHTS) r->m.snapshots_refused[RELAY_SNAP_RIGHTS]++;
    if (code) return respond_error(s, wsi, code, "token refused");
    struct space *sp;
    int rc = space_open(r, h->space, 0, &sp);
    if (rc == WEFT_ENOTFOUND) return respond_error(s, wsi, WEFT_PROTO_ENOT_FOUND, "no such space");
    if (rc) return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "cannot open the space");
    int answered;
    if (park(s, wsi, sp, 0, &answered)) return answered;
    char hdr[2048];
    uint8_t tok[WEFT_PROTO_MAX_TOKEN];
    size_t tl = 0;
    if (h->by_grant) {
        /* By grant (with its Weft-Proof): admin by its grants now, and the
         * grant chain joiners check, in Weft-Grant-Chain, kept in the
         * token's place (as over the sync link). */
        uint8_t rights = 0;
        int hl = lws_hdr_custom_copy(wsi, hdr, sizeof hdr, "weft-grant-chain:", 17);
        if ((code = grant_rest_check(s, sp, &t, WEFT_RIGHT_ADMIN)) == 0 &&
            (hl <= 0 ||
             weft_base64url_decode(tok, WEFT_GRANT_CHAIN_MAX_BYTES, &tl, hdr, (size_t)hl) ||
             weft_grant_chain_verify(&r->be, tok, tl, sp->id, t.grantee, relay_unix_s(), &rights) ||
             rights < WEFT_RIGHT_ADMIN))
            code = WEFT_PROTO_ERIGHTS;
        if (code) {
            if (code == WEFT_PROTO_ERIGHTS) r->m.snapshots_refused[RELAY_SNAP_RIGHTS]++;
            relay_reject(r, code);
            return respond_error(s, wsi, code, "no grant chain making this key an admin");
        }
    }
    code = space_snapshot_check(sp, h->req, h->req_len, r->cfg.max_snapshot, &t,
                                h->by_grant ? t.grantee : NULL, &h->snap_base);
    if (code) return respond_error(s, wsi, code, weft_proto_strerror(code));
    r->m.bytes_in += h->req_len;
    /* The token's bytes, kept with the snapshot (check_auth decoded them
     * already, so this cannot fail). */
    if (!h->by_grant && (lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
                         weft_base64url_decode(tok, sizeof tok, &tl, hdr + 7, strlen(hdr + 7))))
        return respond_error(s, wsi, WEFT_PROTO_EAUTH, "token refused");
    rc = space_snapshot_put(sp, h->snap_base, tok, tl, h->req, h->req_len, &s->wait, on_answer, s);
    if (rc == WEFT_ESTATE)
        return respond_error(s, wsi, WEFT_PROTO_ESTALE_SNAPSHOT,
                             "a snapshot covering more is held already");
    if (rc == WEFT_EUNAVAILABLE)
        return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "this storage keeps no snapshots");
    if (rc < 0) return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "storage failure");
    if (rc == STORAGE_LATER) { /* answered once storage confirmed (rerun) */
        h->snap_sent = 1;
        h->deferred = 1;
        return 0;
    }
    return snapshot_stored(s, wsi);
}

/* Checks the request's token and proof for `right`, then opens the space
 * (it must exist) and waits for it to be loaded. Returns 1 with *sp when
 * the request can go on; 0 when it was answered (an error) or parked until
 * the load, and the caller returns *answered. */
static int open_checked(session *s, struct lws *wsi, const uint8_t sid[32], uint8_t right,
                        const char *method, const char *path, struct space **sp, int *answered) {
    weft_token t;
    uint32_t code = check_auth_grant(s, wsi, sid, right, method, path, &t);
    int rc = code ? 0 : space_open(s->r, sid, 0, sp);
    if (code)
        *answered = respond_error(s, wsi, code, "token refused");
    else if (rc == WEFT_ENOTFOUND)
        *answered = respond_error(s, wsi, WEFT_PROTO_ENOT_FOUND, "no such space");
    else if (rc)
        *answered = respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "cannot open the space");
    else if (park(s, wsi, *sp, 0, answered))
        return 0;
    else if ((code = grant_rest_check(s, *sp, &t, right)) != 0) {
        relay_reject(s->r, code);
        *answered = respond_error(s, wsi, code, weft_proto_strerror(code));
    } else if (!t.any_grantee && space_key_revoked(*sp, t.grantee)) {
        relay_reject(s->r, WEFT_PROTO_EREVOKED);
        *answered = respond_error(s, wsi, WEFT_PROTO_EREVOKED,
                                  "this key was removed from the space: ask an admin");
    } else
        return 1;
    return 0;
}

static int get_snapshot(session *s, struct lws *wsi, const uint8_t sid[32], const char *path) {
    relay *r = s->r;
    struct space *sp;
    int answered;
    if (!open_checked(s, wsi, sid, WEFT_RIGHT_READ, "GET", path, &sp, &answered)) return answered;
    uint8_t *body;
    const uint8_t *rec, *tok;
    size_t len, tl;
    uint64_t base;
    if (space_snapshot_newest(sp, &body, &rec, &len, &tok, &tl, &base))
        return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "storage read failed");
    if (!body) return respond_error(s, wsi, WEFT_PROTO_ENOT_FOUND, "no snapshot held");
    weft_snapshot_header sh;
    char rseq[24], head[24], vv[1400] = "", token[1400] = "";
    size_t tkl = 0;
    weft_base64url_encode(token, sizeof token, &tkl, tok, tl);
    token[tkl] = 0;
    snprintf(rseq, sizeof rseq, "%llu", (unsigned long long)base);
    snprintf(head, sizeof head, "%llu", (unsigned long long)sp->durable);
    /* The vector is in the record's header too (authoritative); the HTTP
     * header repeats it when it is short enough for one. */
    size_t vl = 0;
    if (weft_snapshot_header_decode(&sh, rec, len) == 0 && sh.vv_len <= 1024)
        weft_base64url_encode(vv, sizeof vv, &vl, sh.vv, sh.vv_len);
    vv[vl] = 0;
    const char *extra[] = {
        "weft-snapshot-rseq:",           rseq, "weft-head:", head, "weft-snapshot-token:", token,
        vl ? "weft-snapshot-vv:" : NULL, vv,   NULL};
    /* The response body is the record alone: move it to the front of the
     * buffer, which respond() takes over. */
    memmove(body, rec, len);
    r->m.snapshots_served++;
    return respond(s, wsi, 200, "application/vnd.weft.snapshot", (char *)body, len, extra);
}

/* ---- files: POST .../blobs/{blob}/{chunk}, GET .../blobs/{blob},
 *      GET /v1/blobs/{space}/{blob}/{chunk}?exp=&sig= (docs/RELAY.md "Files") ---- */

static int blob_refuse(session *s, struct lws *wsi, int reason, uint32_t code, const char *msg) {
    s->r->m.blob_refused[reason]++;
    return respond_error(s, wsi, code, msg);
}

/* One encrypted chunk of a file, body = its bytes. Needs a token granting
 * write and a Weft-Proof (nobody signed the bytes), and Weft-Chunk-Hash:
 * the SHA-256 of the body in hex. Answered once the chunk is durable. */
static int post_blob_chunk(session *s, struct lws *wsi) {
    relay *r = s->r;
    http_state *h = s->http;
    if (h->too_big)
        return blob_refuse(s, wsi, RELAY_BLOB_TOO_BIG, WEFT_PROTO_ETOO_BIG,
                           "chunk exceeds --max-frame");
    weft_token t;
    uint32_t code = check_auth_as(s, wsi, h->space, WEFT_RIGHT_WRITE, 1, 1, "POST", h->path, &t);
    if (code) return blob_refuse(s, wsi, RELAY_BLOB_RIGHTS, code, "token refused");
    char hx[80];
    uint8_t want[32], got[32];
    if (lws_hdr_custom_copy(wsi, hx, sizeof hx, "weft-chunk-hash:", 16) != 64 ||
        weft__hex_decode(want, 32, NULL, hx, 64))
        return blob_refuse(s, wsi, RELAY_BLOB_BAD, WEFT_PROTO_EBAD_FRAME,
                           "Weft-Chunk-Hash must be the body's SHA-256 in 64 hex digits");
    crypto_hash_sha256(got, h->req, h->req_len);
    if (sodium_memcmp(got, want, 32))
        return blob_refuse(s, wsi, RELAY_BLOB_HASH, WEFT_PROTO_EBAD_HASH,
                           "the chunk's bytes do not match Weft-Chunk-Hash");
    if (!h->req_len)
        return blob_refuse(s, wsi, RELAY_BLOB_BAD, WEFT_PROTO_EBAD_FRAME, "empty chunk");
    const char *why;
    if (admit_check_http(s, wsi, h->space, &why))
        return respond_error(s, wsi, WEFT_PROTO_ENOT_ADMITTED, why);
    struct space *sp;
    int rc = space_open(r, h->space, 0, &sp);
    if (rc == WEFT_ENOTFOUND) return respond_error(s, wsi, WEFT_PROTO_ENOT_FOUND, "no such space");
    if (rc) return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "cannot open the space");
    if (h->admitted_bytes) sp->quota_bytes = h->admitted_bytes;
    int answered;
    if (park(s, wsi, sp, 0, &answered)) return answered;
    if ((code = grant_rest_check(s, sp, &t, WEFT_RIGHT_WRITE)) != 0)
        return blob_refuse(s, wsi, RELAY_BLOB_RIGHTS, code, weft_proto_strerror(code));
    /* The space's one quota counts files' bytes with its records. */
    uint64_t old = blobs_chunk_size(r->blobs, h->space, h->blob, h->chunk);
    uint64_t quota = sp->quota_bytes ? sp->quota_bytes : r->cfg.space_bytes;
    if (quota && h->req_len > old && space_bytes_used(sp) + (h->req_len - old) > quota) {
        r->m.limited[RL_SPACE_BYTES]++;
        return blob_refuse(s, wsi, RELAY_BLOB_QUOTA, WEFT_PROTO_EQUOTA,
                           "the space's quota (--space-bytes) is used up");
    }
    int64_t delta;
    if (blobs_put_chunk(r->blobs, h->space, h->blob, h->chunk, h->req, h->req_len, &delta))
        return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "cannot store the chunk");
    sp->blob_bytes = delta < 0 && (uint64_t)-delta > sp->blob_bytes
                         ? 0
                         : (uint64_t)((int64_t)sp->blob_bytes + delta);
    r->m.blob_chunks_stored++;
    r->m.blob_bytes_in += h->req_len;
    size_t n;
    char *b =
        dup_printf(&n, "{\"stored\":true,\"chunk\":%u,\"bytes\":%zu}\n", h->chunk, h->req_len);
    return b ? respond(s, wsi, 200, "application/json", b, n, NULL) : -1;
}

typedef struct chunk_list {
    char *b;
    size_t o, cap;
    uint64_t total;
    int n;
} chunk_list;

static void list_chunk(void *ud, uint32_t idx, uint64_t size) {
    chunk_list *l = ud;
    l->total += size;
    if (l->o + 48 > l->cap) {
        char *p = realloc(l->b, l->cap * 2);
        if (!p) return; /* the list stays short; the client uploads again */
        l->b = p;
        l->cap *= 2;
    }
    l->o += (size_t)snprintf(l->b + l->o, l->cap - l->o, "%s[%u,%llu]", l->n++ ? "," : "", idx,
                             (unsigned long long)size);
}

/* A file's status for a member (read token + proof): the chunks held and
 * their sizes, a signed URL for its chunks; and its lease renewed. */
static int get_blob(session *s, struct lws *wsi, const uint8_t sid[32], const char *path) {
    relay *r = s->r;
    http_state *h = s->http;
    struct space *sp;
    int answered;
    weft_token t;
    uint32_t code = check_auth_grant(s, wsi, sid, WEFT_RIGHT_READ, "GET", path, &t);
    if (code) return blob_refuse(s, wsi, RELAY_BLOB_RIGHTS, code, "token refused");
    const char *why;
    if (admit_check_http(s, wsi, sid, &why))
        return respond_error(s, wsi, WEFT_PROTO_ENOT_ADMITTED, why);
    int rc = space_open(r, sid, 0, &sp);
    if (rc == WEFT_ENOTFOUND) return respond_error(s, wsi, WEFT_PROTO_ENOT_FOUND, "no such space");
    if (rc) return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "cannot open the space");
    if (park(s, wsi, sp, 0, &answered)) return answered;
    if ((code = grant_rest_check(s, sp, &t, WEFT_RIGHT_READ)) != 0)
        return blob_refuse(s, wsi, RELAY_BLOB_RIGHTS, code, weft_proto_strerror(code));
    int held = blobs_renew(r->blobs, sid, h->blob) == 0;
    chunk_list l = {.cap = 256};
    if (!(l.b = malloc(l.cap))) return -1;
    l.b[0] = 0;
    if (held) blobs_list(r->blobs, sid, h->blob, list_chunk, &l);
    uint64_t exp = relay_unix_s() + (uint64_t)r->cfg.blob_url_secs;
    char sig[BLOB_SIG_CHARS + 1], bh[33];
    blobs_url_sign(r->blobs, sid, h->blob, exp, sig);
    weft__hex_encode(bh, sizeof bh, h->blob, BLOB_ID_BYTES);
    size_t n;
    char *b = dup_printf(&n,
                         "{\"chunks\":[%s],\"bytes\":%llu,\"url\":\"/v1/blobs/%s/%s/\","
                         "\"query\":\"exp=%llu&sig=%s\",\"expires\":%llu}\n",
                         l.b, (unsigned long long)l.total, sp->hex, bh, (unsigned long long)exp,
                         sig, (unsigned long long)exp);
    free(l.b);
    return b ? respond(s, wsi, 200, "application/json", b, n, NULL) : -1;
}

/* A chunk through a signed URL: no token, no session state, so a CDN or a
 * proxy can serve it; the URL is good for every chunk of one file until
 * exp. */
static int get_signed_chunk(session *s, struct lws *wsi, const char *path) {
    relay *r = s->r;
    uint8_t sid[32], blob[BLOB_ID_BYTES];
    uint32_t chunk;
    if (weft__blob_url_path_parse(sid, blob, &chunk, path, strlen(path)))
        return blob_refuse(s, wsi, RELAY_BLOB_URL, WEFT_PROTO_EBAD_URL, "not a file URL");
    char sig[64];
    int bad = 0;
    uint64_t exp = urlarg_u64(wsi, "exp=", 0, &bad);
    const char *sg = lws_get_urlarg_by_name(wsi, "sig=", sig, sizeof sig);
    if (bad || !exp || !sg || blobs_url_verify(r->blobs, sid, blob, exp, sg))
        return blob_refuse(s, wsi, RELAY_BLOB_URL, WEFT_PROTO_EBAD_URL,
                           "the URL's signature does not hold");
    uint64_t now = relay_unix_s();
    if (exp <= now)
        return blob_refuse(s, wsi, RELAY_BLOB_EXPIRED, WEFT_PROTO_EURL_EXPIRED,
                           "the URL has expired: ask for a new one");
    uint8_t *data;
    size_t len;
    if (blobs_read_chunk(r->blobs, sid, blob, chunk, &data, &len))
        return blob_refuse(s, wsi, RELAY_BLOB_MISSING, WEFT_PROTO_ENOT_FOUND, "no such chunk");
    char range[128], cr[96], cache[64];
    uint64_t from = 0, to = len ? len - 1 : 0;
    int ranged = 0;
    int rl = lws_hdr_copy(wsi, range, sizeof range, WSI_TOKEN_HTTP_RANGE);
    if (rl > 0) ranged = weft__blob_range_parse(&from, &to, range, (size_t)rl, len);
    if (ranged < 0) {
        free(data);
        return blob_refuse(s, wsi, RELAY_BLOB_RANGE, WEFT_PROTO_ERANGE,
                           "the range lies outside the chunk");
    }
    /* Immutable bytes: a cache may keep them as long as the URL lives. */
    snprintf(cache, sizeof cache, "public, max-age=%llu, immutable",
             (unsigned long long)(exp - now));
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%zu", (unsigned long long)from, (unsigned long long)to,
             len);
    const char *extra[] = {"cache-control:",
                           cache,
                           "accept-ranges:",
                           "bytes",
                           ranged ? "content-range:" : NULL,
                           cr,
                           NULL};
    size_t n = len ? (size_t)(to - from + 1) : 0;
    if (from) memmove(data, data + from, n);
    r->m.blob_chunks_served++;
    r->m.blob_bytes_out += n;
    return respond(s, wsi, ranged ? 206 : 200, "application/octet-stream", (char *)data, n, extra);
}

/* A browser's CORS preflight for a files request. */
static int preflight(session *s, struct lws *wsi) {
    const char *extra[] = {
        "access-control-allow-methods:",
        "GET, POST",
        "access-control-allow-headers:",
        "authorization, weft-proof, weft-grant-chain, weft-chunk-hash, content-type, range",
        "access-control-max-age:",
        "86400",
        NULL};
    char *b = malloc(1);
    return b ? respond(s, wsi, 204, "text/plain", b, 0, extra) : -1;
}

/* ---- DELETE /v1/spaces/{id} ---- */

static int delete_space(session *s, struct lws *wsi, const uint8_t sid[32], const char *path) {
    relay *r = s->r;
    struct space *sp;
    int answered;
    if (!open_checked(s, wsi, sid, WEFT_RIGHT_ADMIN, "DELETE", path, &sp, &answered))
        return answered;
    /* Its sessions close first, then the records go for good. */
    int rc = space_delete(sp, &s->wait, on_answer, s);
    if (rc < 0) return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "delete failed");
    pubsub_space_deleted(r, sid); /* the other relays drop it too */
    blobs_delete_space(r->blobs, sid);
    if (rc == STORAGE_LATER) { /* answered once storage confirmed (rerun) */
        s->http->delete_sent = 1;
        s->http->deferred = 1;
        return 0;
    }
    return respond_text(s, wsi, 200, "{\"deleted\":true}\n");
}

/* ---- static files ---- */

static const struct {
    const char *ext, *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".wasm", "application/wasm"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
    {".woff2", "font/woff2"},
};

/* The PWA's policy: everything from this origin, WebSockets to it, wasm
 * compiled from its own files; no inline script, no framing. */
static const char csp[] =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

static int serve_static(session *s, struct lws *wsi, const char *path) {
    relay *r = s->r;
    if (!r->cfg.static_dir) return respond_text(s, wsi, 404, "not found\n");
    if (strcmp(path, "/") == 0) path = "/index.html";
    /* No way out of the directory: no "..", no hidden files, no "//". */
    if (path[0] != '/' || strstr(path, "/.") || strstr(path, "//") || strchr(path, '\\'))
        return respond_text(s, wsi, 404, "not found\n");
    char file[1024];
    int n = snprintf(file, sizeof file, "%s%s", r->cfg.static_dir, path);
    struct stat sb;
    if (n < 0 || (size_t)n >= sizeof file || stat(file, &sb) || !S_ISREG(sb.st_mode))
        return respond_text(s, wsi, 404, "not found\n");
    const char *dot = strrchr(path, '.'), *type = "application/octet-stream";
    for (size_t i = 0; dot && i < sizeof mime_types / sizeof *mime_types; i++)
        if (strcmp(dot, mime_types[i].ext) == 0) type = mime_types[i].type;
    /* Entry points must be revalidated so a deploy is seen at once; other
     * assets may be cached for an hour. */
    int entry = strcmp(path, "/index.html") == 0 || strcmp(path, "/sw.js") == 0 ||
                (dot && strcmp(dot, ".webmanifest") == 0);
    uint8_t hdr[2048], *p = hdr, *end = hdr + sizeof hdr;
    const char *cache = entry ? "no-cache" : "public, max-age=3600";
    if (lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:", (const uint8_t *)cache,
                                    (int)strlen(cache), &p, end) ||
        lws_add_http_header_by_name(wsi, (const uint8_t *)"content-security-policy:",
                                    (const uint8_t *)csp, (int)strlen(csp), &p, end) ||
        lws_add_http_header_by_name(wsi, (const uint8_t *)"x-content-type-options:",
                                    (const uint8_t *)"nosniff", 7, &p, end) ||
        lws_add_http_header_by_name(
            wsi, (const uint8_t *)"referrer-policy:", (const uint8_t *)"no-referrer", 11, &p, end))
        return -1;
    r->m.http_requests++;
    r->m.bytes_out += (uint64_t)sb.st_size;
    int rc = lws_serve_http_file(wsi, file, type, (const char *)hdr, (int)(p - hdr));
    if (rc < 0 || (rc > 0 && lws_http_transaction_completed(wsi))) return -1;
    return 0;
}

/* ---- the operator's view (admin.h) ---- */

/* GET /admin/spaces?by=conns|bytes|changes&limit=N. Answers 404 when
 * --admin-token is not set, so the endpoint does not even show. */
static int get_admin_spaces(session *s, struct lws *wsi) {
    relay *r = s->r;
    if (!r->cfg.admin_token) return respond_text(s, wsi, 404, "not found\n");
    char auth[512];
    int al = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (!admin_allowed(r, al > 0 ? auth : NULL))
        return respond_text(s, wsi, 401, "admin token needed (Authorization: Bearer)\n");
    char by[16] = "conns", arg[64];
    size_t limit = 10;
    for (int i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
         i++) {
        if (strncmp(arg, "by=", 3) == 0) snprintf(by, sizeof by, "%.15s", arg + 3);
        if (strncmp(arg, "limit=", 6) == 0) limit = strtoul(arg + 6, NULL, 10);
    }
    char *json;
    size_t n;
    int rc = admin_top_spaces(r, by, limit, &json, &n);
    if (rc == WEFT_EINVAL) return respond_text(s, wsi, 400, "by= is conns, bytes or changes\n");
    if (rc) return respond_text(s, wsi, 500, "out of memory\n");
    return respond(s, wsi, 200, "application/json", json, n, NULL);
}

/* ---- dispatch ---- */

static int on_http(relay *r, session *s, struct lws *wsi, const char *path) {
    s->r = r;
    s->wsi = wsi;
    http_state *h = state_of(s);
    if (!h) return -1;
    free(h->req);
    h->req = NULL;
    h->req_len = h->req_cap = 0;
    h->too_big = 0;
    h->idem[0] = 0;
    h->deferred = h->load_failed = h->rate_asked = h->synced = h->delete_sent = 0;
    h->snap = h->snap_sent = 0;
    h->space_charged = 0;
    h->proof_used = 0;
    h->by_grant = 0;
    h->claim_len = 0;
    h->cors = 0;
    h->method = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)       ? M_GET
                : lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)    ? M_POST
                : lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI)  ? M_DELETE
                : lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) ? M_OPTIONS
                                                                   : M_OTHER;
    if (r->draining) return respond_error(s, wsi, WEFT_PROTO_EGOING_AWAY, "shutting down");
    if (h->method == M_GET && strcmp(path, "/healthz") == 0)
        return respond_text(s, wsi, 200, "ok\n");
    if (h->method == M_GET && strcmp(path, "/readyz") == 0)
        return r->storage->ops->ready(r->storage)
                   ? respond_text(s, wsi, 200, "ready\n")
                   : respond_text(s, wsi, 503, "redis unavailable\n");
    if (h->method == M_GET && strcmp(path, "/metrics") == 0) {
        size_t n;
        char *m = relay_metrics_render(r, &n);
        if (!m) return respond_text(s, wsi, 500, "out of memory\n");
        return respond(s, wsi, 200, "text/plain; version=0.0.4; charset=utf-8", m, n, NULL);
    }
    if (h->method == M_GET && strcmp(path, "/admin/spaces") == 0) return get_admin_spaces(s, wsi);
    /* Over --max-conns (this connection included): probes and metrics
     * above are still answered, being cheap and what an operator needs
     * most then; everything else is refused. */
    if (r->m.conns_open > r->cfg.max_conns)
        return respond_error(s, wsi, WEFT_PROTO_EOVERLOADED, "too many connections");
    uint8_t sid[32];
    int kind = parse_path(path, sid, h->blob, &h->chunk);
    int signed_url = strncmp(path, "/v1/blobs/", 10) == 0;
    h->cors = signed_url || kind == 5 || kind == 6;
    if (h->method == M_OPTIONS && h->cors) return preflight(s, wsi);
    if (h->method == M_GET && signed_url) return get_signed_chunk(s, wsi, path);
    h->blob_post = 0;
    memcpy(h->space, sid, 32);
    snprintf(h->path, sizeof h->path, "%s", path);
    /* A client that sends no Weft-Format-Level predates negotiation
     * and reads format level 1 (PROTOCOL.md §6). */
    char lv[16];
    int ll = lws_hdr_custom_copy(wsi, lv, sizeof lv, "weft-format-level:", 18);
    unsigned long lvl = ll > 0 ? strtoul(lv, NULL, 10) : 1;
    h->level = lvl >= 1 && lvl <= UINT32_MAX ? (uint32_t)lvl : 1;
    if (kind == 2 && h->method == M_GET) return get_changes(s, wsi, sid, path);
    if (kind == 1 && h->method == M_DELETE) return delete_space(s, wsi, sid, path);
    if (kind == 4 && h->method == M_GET) return get_snapshot(s, wsi, sid, path);
    if (kind == 5 && h->method == M_GET) return get_blob(s, wsi, sid, path);
    if (kind == 6 && h->method == M_POST) {
        /* The answer comes at BODY_COMPLETION; a chunk is bounded by
         * --max-frame. */
        h->blob_post = 1;
        char cl[32];
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
            strtoull(cl, NULL, 10) > r->cfg.max_frame)
            h->too_big = 1;
        return 0;
    }
    if (kind == 3 && h->method == M_POST) {
        /* The answer comes at BODY_COMPLETION. */
        h->snap = 1;
        char cl[32];
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
            strtoull(cl, NULL, 10) > r->cfg.max_snapshot)
            h->too_big = 1;
        return 0;
    }
    if (kind == 2 && h->method == M_POST) {
        /* The answer comes at BODY_COMPLETION. */
        char cl[32];
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
            strtoull(cl, NULL, 10) > r->cfg.max_frame)
            h->too_big = 1;
        /* A key too long to keep is refused (at BODY_COMPLETION), not
         * ignored: ignoring it would store a retry twice. */
        int kl = lws_hdr_custom_length(wsi, "idempotency-key:", 16);
        h->idem[0] = 0;
        h->idem_bad = 0;
        if (kl == 0 || kl > IDEM_KEY_MAX)
            h->idem_bad = 1;
        else if (kl > 0 &&
                 lws_hdr_custom_copy(wsi, h->idem, sizeof h->idem, "idempotency-key:", 16) <= 0)
            h->idem[0] = 0;
        return 0;
    }
    if (kind) return respond_error(s, wsi, WEFT_PROTO_EBAD_FRAME, "method not allowed here");
    if (h->method == M_GET) return serve_static(s, wsi, path);
    return respond_text(s, wsi, 404, "not found\n");
}

static int on_body(session *s, const uint8_t *in, size_t len) {
    http_state *h = s->http;
    if (!h || h->too_big) return 0;
    if (h->req_len + len > (h->snap ? s->r->cfg.max_snapshot : s->r->cfg.max_frame)) {
        h->too_big = 1;
        return 0;
    }
    if (h->req_len + len > h->req_cap) {
        size_t cap = h->req_cap ? h->req_cap * 2 : 16384;
        while (cap < h->req_len + len)
            cap *= 2;
        uint8_t *p = realloc(h->req, cap);
        if (!p) return -1;
        h->req = p;
        h->req_cap = cap;
    }
    memcpy(h->req + h->req_len, in, len);
    h->req_len += len;
    return 0;
}

/* A parked request runs again (its headers are still there). */
static int rerun(session *s, struct lws *wsi) {
    http_state *h = s->http;
    h->deferred = 0;
    if (h->delete_sent)
        return h->load_failed
                   ? respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "delete not confirmed by redis")
                   : respond_text(s, wsi, 200, "{\"deleted\":true}\n");
    if (h->snap_sent) {
        if (h->load_failed)
            return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "snapshot not stored");
        struct space *sp = space_find(s->r, h->space);
        if (sp) space_snapshot_stored(sp);
        return snapshot_stored(s, wsi);
    }
    if (h->load_failed) return respond_error(s, wsi, WEFT_PROTO_ESTORAGE, "cannot load the space");
    if (h->method == M_POST && h->blob_post) return post_blob_chunk(s, wsi);
    if (h->method == M_POST && h->snap) return post_snapshot(s, wsi);
    if (h->method == M_POST) return post_changes(s, wsi);
    int kind = parse_path(h->path, h->space, h->blob, &h->chunk);
    if (h->method == M_GET && kind == 4) return get_snapshot(s, wsi, h->space, h->path);
    if (h->method == M_GET && kind == 5) return get_blob(s, wsi, h->space, h->path);
    if (h->method == M_DELETE) return delete_space(s, wsi, h->space, h->path);
    return get_changes(s, wsi, h->space, h->path);
}

static int on_writeable(session *s, struct lws *wsi) {
    http_state *h = s->http;
    if (h && h->deferred && !s->wait) return rerun(s, wsi);
    if (!h || !h->body) return 0;
    size_t n = h->body_len - h->sent;
    if (n > BODY_CHUNK) n = BODY_CHUNK;
    int final = h->sent + n == h->body_len;
    if (!h->wbuf && !(h->wbuf = malloc(LWS_PRE + BODY_CHUNK))) return -1;
    if (n) memcpy(h->wbuf + LWS_PRE, h->body + h->sent, n);
    if (lws_write(wsi, h->wbuf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
        (int)n)
        return -1;
    h->sent += n;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    free(h->body);
    h->body = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void http_gone(session *s) {
    session_cancel_wait(s); /* whoever answers finds nobody */
    session_unhold(s);      /* a POST whose flush has not come yet */
    http_state_free(s);
}

int http_callback(relay *r, struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len) {
    session *s = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(r, s, wsi, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(s, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!s->http || s->http->method != M_POST) return 0;
        if (s->http->blob_post) return post_blob_chunk(s, wsi);
        return s->http->snap ? post_snapshot(s, wsi) : post_changes(s, wsi);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(s, wsi);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s && !s->is_ws && s->r) http_gone(s);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
