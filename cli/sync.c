/* `weft sync` (see sync.h): a small blocking HTTP/1.1 client and the sync. */
#define _POSIX_C_SOURCE 200809L
#include "sync.h"

#include "conn.h"
#include "spacedir.h"

#include "hex.h"
#include "vec.h"

#include "weft/protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum { TIMEOUT_MS = 15000 };

typedef struct response {
    int status;
    char *head; /* status line + headers, NUL-terminated */
    uint8_t *body;
    size_t body_len;
} response;

static void response_free(response *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* One request with Connection: close; reads until the server closes. */
static int http(const endpoint *ep, const char *method, const char *path, const char *headers,
                const uint8_t *body, size_t body_len, response *out, char *err, size_t err_cap) {
    memset(out, 0, sizeof *out);
    conn c;
    if (conn_open(&c, ep, TIMEOUT_MS, err, err_cap)) return -1;
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     method, path, ep->host, ep->port, body_len, headers ? headers : "");
    int rc = n > 0 && (size_t)n < sizeof req ? 0 : -1;
    if (!rc) rc = conn_write(&c, req, (size_t)n);
    if (!rc && body_len) rc = conn_write(&c, body, body_len);
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    while (!rc && buf) {
        uint8_t *g2 = weft__vec_grow(buf, &cap, len + 1, 1, 0);
        if (!g2) {
            rc = -1;
            break;
        }
        buf = g2;
        ssize_t r = conn_read(&c, buf + len, cap - len);
        if (r < 0) rc = -1;
        if (r <= 0) break;
        len += (size_t)r;
    }
    conn_close(&c);
    uint8_t *sep = NULL;
    for (size_t i = 0; buf && i + 4 <= len && !sep; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) sep = buf + i;
    if (rc || !buf || !sep || sscanf((char *)buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        snprintf(err, err_cap, "no valid HTTP answer from the relay at %s:%s", ep->host, ep->port);
        return -1;
    }
    size_t hl = (size_t)(sep - buf);
    out->head = malloc(hl + 1);
    out->body_len = len - hl - 4;
    out->body = malloc(out->body_len + 1);
    if (!out->head || !out->body) {
        free(buf);
        response_free(out);
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    memcpy(out->head, buf, hl);
    out->head[hl] = 0;
    memcpy(out->body, sep + 4, out->body_len);
    out->body[out->body_len] = 0;
    free(buf);
    return 0;
}

/* The value of a header (case-insensitive name), trimmed. OUT: *v, *vl
 * (borrowed from head). Returns 0 or -1 when absent. */
static int header_str(const char *head, const char *name, const char **v, size_t *vl) {
    size_t nl = strlen(name);
    for (const char *p = strchr(head, '\n'); p; p = strchr(p + 1, '\n'))
        if (strncasecmp(p + 1, name, nl) == 0 && p[1 + nl] == ':') {
            const char *q = p + 2 + nl;
            q += strspn(q, " \t");
            *v = q;
            *vl = strcspn(q, "\r\n");
            return 0;
        }
    return -1;
}

/* The value of a header (case-insensitive name), as an unsigned number. */
static int header_u64(const char *head, const char *name, uint64_t *v) {
    const char *s;
    size_t n;
    if (header_str(head, name, &s, &n)) return -1;
    *v = strtoull(s, NULL, 10);
    return 0;
}

/* Authorization and, for a key-bound token, the Weft-Proof of this request;
 * the relay operator's admission (base64url) when given. Returns 0, or -1
 * when they do not fit in cap bytes. */
static int auth_headers(const spacedir *sd, const char *method, const char *path,
                        const char *admission, char *dst, size_t cap) {
    char tok[1024], sig64[128] = "";
    size_t tl = 0, sl = 0;
    weft_base64url_encode(tok, sizeof tok, &tl, sd->token, sd->token_len);
    /* The relay accepts each proof once: a random stamp nonce keeps two
     * identical requests in the same second (a retry) apart. */
    uint8_t rnd[6];
    char stamp[40], rhex[13];
    if (sd->be.random(sd->be.ctx, rnd, sizeof rnd)) return -1;
    weft__hex_encode(rhex, sizeof rhex, rnd, sizeof rnd);
    snprintf(stamp, sizeof stamp, "%" PRIu64 ":%s", (uint64_t)time(NULL), rhex);
    /* Signed: the method and the whole target, query included, so the
     * proof holds for this one request (docs/RELAY.md, "Authorization"). */
    char nonce[128];
    int nl = snprintf(nonce, sizeof nonce, "%s %s ", stamp, method);
    weft_blake2b((uint8_t *)nonce + nl, 32, path, strlen(path));
    uint8_t sig[64];
    if (!weft_proof_sign(&sd->be, sig, sd->author_sk, sd->space, (const uint8_t *)nonce,
                         (size_t)nl + 32))
        weft_base64url_encode(sig64, sizeof sig64, &sl, sig, 64);
    /* The format level this build reads (PROTOCOL.md §6): a relay whose
     * space is above it answers VERSION instead of records we cannot read. */
    int n = snprintf(dst, cap,
                     "Authorization: %s %.*s\r\nWeft-Proof: %s.%.*s\r\nWeft-Format-Level: "
                     "%d\r\n%s%s%s",
                     spacedir_by_grant(sd) ? "Grant" : "Bearer", (int)tl, tok, stamp, (int)sl,
                     sig64, WEFT_FORMAT_LEVEL, admission ? "Weft-Admission: " : "",
                     admission ? admission : "", admission ? "\r\n" : "");
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* sync.state: "cursor <n>\nvv <hex>\n". */
static int load_state(const spacedir *sd, uint64_t *cursor, uint8_t **vv, size_t *vv_len) {
    char p[1100];
    if (path_join(p, sizeof p, sd->path, "sync.state")) return -1;
    *cursor = 0;
    *vv = NULL;
    *vv_len = 0;
    uint8_t *text;
    size_t len;
    if (read_file(p, &text, &len)) return errno == ENOENT ? 0 : -1;
    const char *s = (const char *)text;
    char *hex = NULL;
    int rc = 0;
    if (len && text[len - 1] == '\n' && (hex = strstr(s, "\nvv ")) &&
        sscanf(s, "cursor %" SCNu64, cursor) == 1) {
        hex += 4;
        size_t hl = strcspn(hex, "\n");
        *vv = malloc(hl / 2 + 1);
        if (!*vv || weft__hex_decode(*vv, hl / 2 + 1, vv_len, hex, hl)) rc = -1;
    } else {
        rc = -1;
    }
    free(text);
    return rc;
}

static int save_state(const spacedir *sd, uint64_t cursor, const uint8_t *vv, size_t vv_len) {
    char p[1100], tmp[1110];
    if (path_join(p, sizeof p, sd->path, "sync.state") ||
        path_join(tmp, sizeof tmp, sd->path, "sync.state.tmp"))
        return -1;
    char *hex = malloc(WEFT__HEX_LEN(vv_len));
    if (!hex) return -1;
    weft__hex_encode(hex, WEFT__HEX_LEN(vv_len), vv, vv_len);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(hex);
        return -1;
    }
    fprintf(f, "cursor %" PRIu64 "\nvv %s\n", cursor, hex);
    free(hex);
    int bad = fflush(f) || fsync(fileno(f));
    bad |= fclose(f);
    return bad || rename(tmp, p) ? -1 : 0;
}

/* Applies records from the relay and stores those that were new here. */
static int take(spacedir *sd, const uint8_t *recs, size_t len, size_t *applied, char *err,
                size_t cap) {
    weft_apply_result res = {0};
    int rc = spacedir_take(sd, recs, len, &res, err, cap);
    if (rc < 0)
        snprintf(err, cap, "the relay sent changes this replica cannot apply: %s",
                 weft_strerror(rc));
    if (rc) return -1;
    *applied += res.applied;
    return 0;
}

/* Whether the replica holds nothing yet (no change, no snapshot). */
static int replica_empty(const spacedir *sd) {
    const uint8_t *vv, *author;
    size_t vl, pos = 0;
    uint64_t seq;
    if (sd->has_snapshot || sd->good_bytes || weft_replica_vv(sd->replica, &vv, &vl)) return 0;
    return !weft_vv_next(vv, vl, &pos, &author, &seq);
}

/* An empty replica starts from the relay's newest snapshot, when it holds
 * one: GET .../snapshot, check that the token it came with grants its
 * publisher admin (docs/SECURITY.md, "Snapshots: who may publish"), store
 * and load it (which verifies the signature, opens it with the content key
 * and checks its vector), and continue from its base. OUT: *cursor and
 * *base (0 when the relay has no snapshot: then nothing changed). Returns
 * 0, 1 (failed, err set), or 3 (refused, err set). */
/* Whether the token kept with a snapshot fails to make its publisher an
 * admin now: an admin token, or for a publisher admitted by grant its grant
 * chain (a grant record first), as weftdb checks it (snapshots.js). */
static int publisher_refused(const spacedir *sd, const uint8_t *tok, size_t tl,
                             const uint8_t *publisher) {
    uint64_t now = (uint64_t)time(NULL);
    if (tl > 1 && tok[1] == WEFT_RECORD_GRANT) {
        uint8_t rights = 0;
        return weft_grant_chain_verify(&sd->be, tok, tl, sd->space, publisher, now, &rights) ||
               rights < WEFT_RIGHT_ADMIN;
    }
    weft_token t;
    return weft_token_verify(&sd->be, tok, tl, sd->space, now, &t) ||
           weft_token_allows(&t, publisher, WEFT_RIGHT_ADMIN);
}

static int join_from_snapshot(spacedir *sd, const endpoint *ep, const char *sid,
                              const char *admission, uint64_t *cursor, uint64_t *base, char *err,
                              size_t cap) {
    char path[256], hdrs[2048];
    snprintf(path, sizeof path, "/v1/spaces/%s/snapshot", sid);
    if (auth_headers(sd, "GET", path, admission, hdrs, sizeof hdrs)) {
        snprintf(err, cap, "the token is too long for a request header");
        return 1;
    }
    response r;
    if (http(ep, "GET", path, hdrs, NULL, 0, &r, err, cap)) return 1;
    *base = 0;
    if (r.status == 404) { /* no such space yet, or no snapshot: the log it is */
        response_free(&r);
        return 0;
    }
    if (r.status != 200) {
        snprintf(err, cap, "the relay refused to send its snapshot (HTTP %d): %.300s", r.status,
                 (char *)r.body);
        response_free(&r);
        return r.status == 401 || r.status == 403 ? 3 : 1;
    }
    weft_snapshot_header h;
    const char *tv;
    size_t tvl, tl = 0;
    uint8_t tok[WEFT_PROTO_MAX_TOKEN];
    uint64_t rseq = 0;
    int rc = 3;
    if (weft_snapshot_header_decode(&h, r.body, r.body_len))
        snprintf(err, cap, "the relay's snapshot does not decode");
    else if (header_str(r.head, "Weft-Snapshot-Token", &tv, &tvl) ||
             weft_base64url_decode(tok, sizeof tok, &tl, tv, tvl) ||
             publisher_refused(sd, tok, tl, h.publisher))
        snprintf(err, cap,
                 "the relay's snapshot was not published by an admin of the space; "
                 "not loaded");
    else if (header_u64(r.head, "Weft-Snapshot-Rseq", &rseq))
        snprintf(err, cap, "the relay's snapshot came without its Weft-Snapshot-Rseq");
    else if (spacedir_start_from_snapshot(sd, r.body, r.body_len, err, cap) == 0)
        rc = 0;
    response_free(&r);
    if (rc) return rc;
    *cursor = rseq;
    *base = rseq;
    return 0;
}

/* The relay trimmed history below the cursor (410 TRIMMED, RELAY.md
 * "History"). A replica that holds every change the newest snapshot covers
 * (its vector covers the snapshot's) lacks nothing the relay dropped: it
 * goes on from the snapshot's base. OUT: *cursor. Returns 0, or 1 with err
 * set (this replica lacks trimmed history: it must be joined afresh). */
static int skip_trimmed(spacedir *sd, const endpoint *ep, const char *sid, const char *admission,
                        uint64_t *cursor, char *err, size_t cap) {
    char path[256], hdrs[2048];
    snprintf(path, sizeof path, "/v1/spaces/%s/snapshot", sid);
    response r;
    if (auth_headers(sd, "GET", path, admission, hdrs, sizeof hdrs) ||
        http(ep, "GET", path, hdrs, NULL, 0, &r, err, cap)) {
        snprintf(err, cap, "the relay trimmed its history and its snapshot cannot be read");
        return 1;
    }
    weft_snapshot_header h;
    uint64_t base = 0;
    const uint8_t *mine, *author;
    size_t ml, pos = 0;
    uint64_t seq;
    int covered = r.status == 200 && !weft_snapshot_header_decode(&h, r.body, r.body_len) &&
                  !header_u64(r.head, "Weft-Snapshot-Rseq", &base) &&
                  !weft_replica_vv(sd->replica, &mine, &ml);
    while (covered && weft_vv_next(h.vv, h.vv_len, &pos, &author, &seq)) {
        size_t mp = 0;
        const uint8_t *a;
        uint64_t have = 0, s2;
        while (weft_vv_next(mine, ml, &mp, &a, &s2))
            if (memcmp(a, author, 32) == 0) have = s2;
        covered = have >= seq;
    }
    response_free(&r);
    if (!covered || base <= *cursor) {
        snprintf(err, cap,
                 "the relay trimmed history this replica does not hold (RELAY.md, \"History\"): "
                 "join the space afresh in an empty directory");
        return 1;
    }
    *cursor = base;
    return 0;
}

/* `weft snapshot publish DIR [--relay URL]`: seals this replica's state
 * (weft_replica_publish_snapshot) and uploads it (POST .../snapshots). Only
 * an admin's upload is stored; sync first, or the relay refuses a vector
 * naming changes it lacks (UNCOVERED). */
int cmd_space_delete(int argc, char **argv) {
    if (argc < 4 || argv[3][0] == '-') {
        fprintf(stderr, "usage: weft space delete DIR [--relay http://host:port] [--yes]\n");
        return 2;
    }
    const char *url = NULL;
    int yes = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--yes") == 0)
            yes = 1;
        else if (strcmp(argv[i], "--relay") == 0 && i + 1 < argc)
            url = argv[++i];
        else {
            fprintf(stderr, "weft: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, argv[3], err, sizeof err)) {
        fprintf(stderr, "weft: %s\n", err);
        return 3;
    }
    if (!url) url = sd.relay;
    char sid[64], path[256], hdrs[1400];
    endpoint epv, *ep = &epv;
    if (!*url || endpoint_parse(ep, url)) {
        fprintf(stderr, "weft: %s relay URL '%s' (give --relay http://host:port)\n",
                *url ? "bad" : "no", url);
        spacedir_close(&sd);
        return 2;
    }
    size_t sl;
    weft_base64url_encode(sid, sizeof sid, &sl, sd.space, 32);
    sid[sl] = 0;
    if (!yes) {
        /* It cannot be undone: the person types the id (a script says --yes). */
        char line[128] = "";
        fprintf(stderr,
                "This deletes space %s and every record of it on the relay %s.\n"
                "Other members lose the relay's copy; what their devices hold stays.\n"
                "Type the space id to confirm: ",
                sid, url);
        if (fgets(line, sizeof line, stdin)) line[strcspn(line, "\r\n")] = 0;
        if (strcmp(line, sid) != 0) {
            fprintf(stderr, "\nweft: not deleted (the id did not match)\n");
            spacedir_close(&sd);
            return 1;
        }
    }
    snprintf(path, sizeof path, "/v1/spaces/%s", sid);
    response r;
    int out = 0;
    if (auth_headers(&sd, "DELETE", path, NULL, hdrs, sizeof hdrs)) {
        snprintf(err, sizeof err, "the token is too long for a request header");
        out = 1;
    } else if (http(ep, "DELETE", path, hdrs, NULL, 0, &r, err, sizeof err)) {
        out = 1;
    } else {
        if (r.status == 200 || r.status == 204 || r.status == 404) {
            printf("{\"deleted\":%s}\n", r.status == 404 ? "false" : "true");
        } else {
            snprintf(err, sizeof err, "the relay refused the delete (HTTP %d): %.300s", r.status,
                     r.body ? (char *)r.body : "");
            out = r.status == 401 || r.status == 403 ? 3 : 1;
        }
        response_free(&r);
    }
    if (out) fprintf(stderr, "weft: %s\n", err);
    spacedir_close(&sd);
    return out;
}

/* Appends "Weft-Grant-Chain: <base64url>" to hdrs when there is a chain. */
static int add_chain_header(char *hdrs, size_t cap, const uint8_t *chain, size_t len) {
    if (!len) return 0;
    char b64[WEFT_GRANT_CHAIN_MAX_BYTES * 4 / 3 + 4];
    size_t bl = 0, used = strlen(hdrs);
    if (weft_base64url_encode(b64, sizeof b64, &bl, chain, len)) return -1;
    int n = snprintf(hdrs + used, cap - used, "Weft-Grant-Chain: %.*s\r\n", (int)bl, b64);
    return n > 0 && (size_t)n < cap - used ? 0 : -1;
}

/* Opens the space directory dir and the relay it syncs with (url, else the
 * one it remembers); 0, or the exit code after saying why. */
static int open_with_relay(const char *dir, const char *url, spacedir *sd, endpoint *ep) {
    char err[512];
    if (spacedir_open(sd, dir, err, sizeof err)) {
        fprintf(stderr, "weft: %s\n", err);
        return 3;
    }
    if (!url) url = sd->relay;
    if (!*url || endpoint_parse(ep, url)) {
        fprintf(stderr, "weft: %s relay URL '%s' (give --relay http[s]://host:port)\n",
                *url ? "bad" : "no", url);
        spacedir_close(sd);
        return 2;
    }
    return 0;
}

static const char NO_ADMIN_CHAIN[] =
    "this replica holds no grant chain making it an admin (the owner's admin grant to its key, "
    "or the owner's admin invite it claimed): sync first, or ask the owner";

int cmd_snapshot(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "publish") != 0 || argv[3][0] == '-') {
        fprintf(stderr, "usage: weft snapshot publish DIR [--relay http[s]://host:port]\n");
        return 2;
    }
    const char *url = NULL;
    for (int i = 4; i + 1 < argc; i++)
        if (strcmp(argv[i], "--relay") == 0) url = argv[i + 1];
    spacedir sd;
    endpoint epv, *ep = &epv;
    int opened = open_with_relay(argv[3], url, &sd, ep);
    if (opened) return opened;
    char err[512];
    uint64_t cursor = 0;
    uint8_t *synced_vv = NULL;
    size_t synced_len;
    load_state(&sd, &cursor, &synced_vv, &synced_len); /* the rseq is informative only */
    free(synced_vv);
    const uint8_t *rec;
    size_t len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int rc = weft_replica_publish_snapshot(
        sd.replica, cursor, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, &rec,
        &len);
    if (rc) {
        fprintf(stderr, "weft: cannot seal a snapshot of this replica: %s\n", weft_strerror(rc));
        spacedir_close(&sd);
        return 3;
    }
    char sid[64], path[256], hdrs[2048];
    size_t sl;
    weft_base64url_encode(sid, sizeof sid, &sl, sd.space, 32);
    sid[sl] = 0;
    snprintf(path, sizeof path, "/v1/spaces/%s/snapshots", sid);
    response r;
    int out = 0;
    /* Admitted by grant: its grant chain stands where a token would, for
     * the relay and for every joiner (SECURITY.md "Snapshots: who may
     * publish"). */
    uint8_t chain[WEFT_GRANT_CHAIN_MAX_BYTES];
    size_t chain_len = 0;
    if (spacedir_by_grant(&sd) && spacedir_grant_chain(&sd, WEFT_RIGHT_ADMIN, chain, &chain_len)) {
        snprintf(err, sizeof err, "%s", NO_ADMIN_CHAIN);
        out = 3;
    } else if (auth_headers(&sd, "POST", path, NULL, hdrs, sizeof hdrs) ||
               add_chain_header(hdrs, sizeof hdrs, chain, chain_len)) {
        snprintf(err, sizeof err, "the token is too long for a request header");
        out = 1;
    } else if (http(ep, "POST", path, hdrs, rec, len, &r, err, sizeof err)) {
        out = 1;
    } else {
        if (r.status != 200) {
            snprintf(err, sizeof err, "the relay refused the snapshot (HTTP %d): %.300s", r.status,
                     (char *)r.body);
            out = r.status == 401 || r.status == 403 ? 3 : 1;
        } else {
            uint64_t base = 0;
            const char *p = strstr((char *)r.body, "\"rseq\":");
            if (p) base = strtoull(p + 7, NULL, 10);
            printf("{\"stored\":true,\"rseq\":%" PRIu64 ",\"bytes\":%zu}\n", base, len);
        }
        response_free(&r);
    }
    if (out) fprintf(stderr, "weft: %s\n", err);
    spacedir_close(&sd);
    return out;
}

int cmd_level(int argc, char **argv) {
    char *end = NULL;
    unsigned long level = argc >= 5 ? strtoul(argv[4], &end, 10) : 0;
    if (argc < 5 || strcmp(argv[2], "raise") != 0 || argv[3][0] == '-' || !end || *end ||
        level < 2 || level > WEFT_FORMAT_LEVEL) {
        fprintf(stderr, "usage: weft level raise DIR N [--relay http[s]://host:port] (N: 2..%d)\n",
                WEFT_FORMAT_LEVEL);
        return 2;
    }
    const char *url = NULL;
    for (int i = 5; i + 1 < argc; i++)
        if (strcmp(argv[i], "--relay") == 0) url = argv[i + 1];
    spacedir sd;
    endpoint ep;
    int opened = open_with_relay(argv[3], url, &sd, &ep);
    if (opened) return opened;
    char err[512];
    /* The parent: none for the owner; an admin's token; or, admitted by
     * grant, its grant chain (as weftdb's level.js). */
    uint8_t chain[WEFT_GRANT_CHAIN_MAX_BYTES], rec[WEFT_LEVEL_MAX_BYTES];
    const uint8_t *parent = NULL;
    size_t parent_len = 0, len = 0;
    int out = 0;
    if (!sd.has_owner && spacedir_by_grant(&sd)) {
        if (spacedir_grant_chain(&sd, WEFT_RIGHT_ADMIN, chain, &parent_len)) {
            snprintf(err, sizeof err, "%s", NO_ADMIN_CHAIN);
            out = 3;
        }
        parent = chain;
    } else if (!sd.has_owner) {
        parent = sd.token;
        parent_len = sd.token_len;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int rc = out ? 0
                 : weft_level_sign(&sd.be, rec, sizeof rec, &len, sd.space,
                                   sd.has_owner ? sd.owner_sk : sd.author_sk, parent, parent_len,
                                   (uint32_t)level,
                                   (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
    weft_level lv;
    if (!out && !rc)
        rc = weft_level_verify(&sd.be, rec, len, sd.space, &lv); /* as the relay will */
    if (!out && rc) {
        snprintf(err, sizeof err, "cannot raise the level: %s (%s)%s", weft_strerror(rc),
                 weft_err_name(rc),
                 rc == WEFT_ERIGHTS || rc == WEFT_EDELEGATION ? ": only the owner or an admin can"
                                                              : "");
        out = 3;
    }
    char sid[64], path[256], hdrs[2048];
    size_t sl;
    weft_base64url_encode(sid, sizeof sid, &sl, sd.space, 32);
    sid[sl] = 0;
    snprintf(path, sizeof path, "/v1/spaces/%s/changes", sid);
    response r;
    if (out) {
        /* refused here: nothing sent */
    } else if (auth_headers(&sd, "POST", path, NULL, hdrs, sizeof hdrs)) {
        snprintf(err, sizeof err, "the token is too long for a request header");
        out = 1;
    } else if (http(&ep, "POST", path, hdrs, rec, len, &r, err, sizeof err)) {
        out = 1;
    } else {
        if (r.status != 200 || strstr((char *)r.body, "\"rejected\"")) {
            snprintf(err, sizeof err, "the relay refused the level record (HTTP %d): %.300s",
                     r.status, (char *)r.body);
            out = r.status >= 500 ? 1 : 3;
        } else {
            printf("{\"level\":%lu,\"stored\":true}\n", level);
        }
        response_free(&r);
    }
    if (out) fprintf(stderr, "weft: %s\n", err);
    spacedir_close(&sd);
    return out;
}

int cmd_sync(int argc, char **argv) {
    if (argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "usage: weft sync DIR [--relay http[s]://host:port]\n");
        return 2;
    }
    const char *url = NULL, *admission = NULL;
    for (int i = 3; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--relay") == 0) url = argv[i + 1];
        if (strcmp(argv[i], "--admission") == 0) admission = argv[i + 1];
    }
    if (admission && (strlen(admission) > 400 || strpbrk(admission, "\r\n"))) {
        fprintf(stderr, "weft: --admission wants the token `weft admission issue` printed\n");
        return 2;
    }
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, argv[2], err, sizeof err)) {
        fprintf(stderr, "weft: %s\n", err);
        return 3;
    }
    if (!url) url = sd.relay;
    endpoint epv, *ep = &epv;
    if (!*url || endpoint_parse(ep, url)) {
        fprintf(stderr,
                "weft: %s relay URL '%s' (give --relay http[s]://host:port or ws[s]://host:port)\n",
                *url ? "bad" : "no", url);
        spacedir_close(&sd);
        return 2;
    }
    char sid[64];
    size_t sl;
    weft_base64url_encode(sid, sizeof sid, &sl, sd.space, 32);
    sid[sl] = 0;
    uint64_t cursor, head = 0;
    uint8_t *synced_vv;
    size_t synced_len;
    if (load_state(&sd, &cursor, &synced_vv, &synced_len)) {
        fprintf(stderr, "weft: %s/sync.state is corrupt; delete it to sync from the start\n",
                sd.path);
        spacedir_close(&sd);
        return 3;
    }
    int out = 0;
    size_t pulled = 0, applied = 0, pushed = 0;
    uint64_t snap_base = 0;
    int skipped_trim = 0;
    if (cursor == 0 && replica_empty(&sd))
        out = join_from_snapshot(&sd, ep, sid, admission, &cursor, &snap_base, err, sizeof err);
    /* Pull: pages until the relay has nothing after the cursor. */
    for (; !out;) {
        char path[256], hdrs[2048];
        snprintf(path, sizeof path, "/v1/spaces/%s/changes?after=%" PRIu64 "&limit=1000&members=1",
                 sid, cursor); /* fits: 43 + 20 digits + 10 */
        response r;
        if (auth_headers(&sd, "GET", path, admission, hdrs, sizeof hdrs)) {
            snprintf(err, sizeof err, "the token is too long for a request header");
            out = 1;
            break;
        }
        if (http(ep, "GET", path, hdrs, NULL, 0, &r, err, sizeof err)) {
            out = 1;
            break;
        }
        if (r.status == 404 && strstr((char *)r.body, "NOT_FOUND")) {
            response_free(&r); /* the relay has not seen this space yet: nothing to pull */
            break;
        }
        if (r.status == 410 && !skipped_trim) {
            response_free(&r); /* TRIMMED: below the relay's trim point */
            skipped_trim = 1;
            out = skip_trimmed(&sd, ep, sid, admission, &cursor, err, sizeof err);
            continue;
        }
        if (r.status != 200) {
            snprintf(err, sizeof err, "the relay refused to send changes (HTTP %d): %s", r.status,
                     (char *)r.body);
            out = r.status == 401 || r.status == 403 ? 3 : 1; /* before the free zeroes r */
            response_free(&r);
            break;
        }
        header_u64(r.head, "Weft-Head", &head);
        if (!r.body_len) {
            response_free(&r);
            break;
        }
        weft_frame f;
        int rc = weft_frame_decode(&f, r.body, r.body_len, 0);
        if (rc || f.type != WEFT_FRAME_CHANGES) {
            snprintf(err, sizeof err, "the relay sent a malformed page: %s", weft_strerror(rc));
            response_free(&r);
            out = 1;
            break;
        }
        size_t pos = 0, len;
        uint64_t rseq;
        const uint8_t *rec;
        while (!out && weft_frame_change_next(&f, &pos, &rseq, &rec, &len)) {
            weft_level lv;
            if (len >= 2 && rec[1] == WEFT_RECORD_LEVEL) {
                /* A level record (FORMAT.md §10) is no change: it only says
                 * what writers may use, and this CLI writes level-1 ops. */
                if (weft_level_verify(&sd.be, rec, len, sd.space, &lv) ||
                    weft_replica_set_format_level(sd.replica, lv.level)) {
                    snprintf(err, sizeof err, "the relay sent a level record this build refuses");
                    out = 1;
                }
            } else if (len >= 2 && WEFT_RECORD_IS_MEMBERSHIP(rec[1])) {
                /* A membership record: folded and kept; a key epoch sealed
                 * to this replica gives the key later changes open with. */
                int mrc = spacedir_take_members(&sd, rec, len, 0, NULL, err, sizeof err);
                if (mrc < 0)
                    snprintf(err, sizeof err,
                             "the relay sent a membership record this build "
                             "refuses: %s",
                             weft_strerror(mrc));
                if (mrc) out = 1;
            } else if (take(&sd, rec, len, &applied, err, sizeof err)) {
                out = 1;
            }
            if (rseq > cursor) cursor = rseq;
            pulled++;
        }
        response_free(&r);
        if (out) break;
    }
    /* Push the membership records signed here first (few; the relay
     * answers DUPLICATE for those it holds), so that a key epoch is there
     * before the changes sealed with its key. */
    uint8_t *mrecs = NULL;
    size_t mlen = 0;
    if (!out && spacedir_member_records(&sd, 1, &mrecs, &mlen)) {
        snprintf(err, sizeof err, "out of memory");
        out = 1;
    }
    if (!out && mlen) {
        char path[256], hdrs[2048];
        snprintf(path, sizeof path, "/v1/spaces/%s/changes", sid); /* fits: 43 */
        response r;
        if (auth_headers(&sd, "POST", path, admission, hdrs, sizeof hdrs)) {
            snprintf(err, sizeof err, "the token is too long for a request header");
            out = 1;
        } else if (http(ep, "POST", path, hdrs, mrecs, mlen, &r, err, sizeof err)) {
            out = 1;
        } else {
            if (r.status != 200 || strstr((char *)r.body, "\"rejected\"")) {
                snprintf(err, sizeof err,
                         "the relay did not store every membership record (HTTP %d): %s", r.status,
                         (char *)r.body);
                out = r.status == 403 ? 3 : 1;
            }
            response_free(&r);
        }
    }
    free(mrecs);
    /* Push: everything since the vector of the last successful sync. */
    const uint8_t *diff = NULL, *vv;
    size_t dl = 0, vl;
    if (!out && weft_replica_diff_held(sd.replica, synced_vv, synced_len, &diff, &dl)) {
        /* The saved vector no longer fits (another space?): send everything. */
        weft_replica_diff_held(sd.replica, NULL, 0, &diff, &dl);
    }
    /* Only this replica's own changes: the relay takes a change only from
     * a token granted to its author (others' reach it through them). */
    uint8_t *own = dl ? malloc(dl) : NULL;
    size_t own_len = 0;
    for (size_t off = 0; own && off < dl;) {
        weft_change c;
        if (weft_change_decode(&c, diff + off, dl - off)) break;
        if (memcmp(c.author, sd.author_pk, 32) == 0) {
            memcpy(own + own_len, diff + off, c.total_len);
            own_len += c.total_len;
        }
        off += c.total_len;
    }
    for (size_t off = 0; !out && off < own_len;) {
        /* Batches of whole records under the relay's default frame limit. */
        size_t end = off, count = 0;
        while (end < own_len && count < 1000) {
            weft_change c;
            if (weft_change_decode(&c, own + end, own_len - end)) break;
            if (end > off && end + c.total_len - off > 512 * 1024) break;
            end += c.total_len;
            count++;
        }
        char path[256], hdrs[2048];
        snprintf(path, sizeof path, "/v1/spaces/%s/changes", sid); /* fits: 43 */
        response r;
        if (auth_headers(&sd, "POST", path, admission, hdrs, sizeof hdrs)) {
            snprintf(err, sizeof err, "the token is too long for a request header");
            out = 1;
            break;
        }
        if (http(ep, "POST", path, hdrs, own + off, end - off, &r, err, sizeof err)) {
            out = 1;
            break;
        }
        if (r.status != 200 || strstr((char *)r.body, "\"rejected\"")) {
            snprintf(err, sizeof err, "the relay did not store every change (HTTP %d): %s",
                     r.status, (char *)r.body);
            out = r.status == 403 ? 3 : 1;
        }
        response_free(&r);
        pushed += count;
        off = end;
    }
    free(own);
    if (!out && !weft_replica_vv(sd.replica, &vv, &vl) && save_state(&sd, cursor, vv, vl)) {
        snprintf(err, sizeof err, "cannot write %.400s/sync.state", sd.path);
        out = 1;
    }
    if (out) {
        fprintf(stderr, "weft: %s\n", err);
    } else {
        uint8_t h[32];
        weft_state_hash(sd.replica, h);
        char hex[WEFT__HEX_LEN(32)];
        weft__hex_encode(hex, sizeof hex, h, 32);
        printf("{\"pulled\":%zu,\"applied\":%zu,\"pushed\":%zu,\"cursor\":%" PRIu64
               ",\"relay_head\":%" PRIu64 ",\"waiting\":%zu,\"snapshot_rseq\":%" PRIu64
               ",\"state_hash\":\"%s\"}\n",
               pulled, applied, pushed, cursor, head, weft_replica_pending_count(sd.replica),
               snap_base, hex);
    }
    free(synced_vv);
    spacedir_close(&sd);
    return out;
}

int sync_deliver_as(const spacedir *sd, const uint8_t *sk, const uint8_t *recs, size_t len,
                    char *err, size_t err_cap) {
    endpoint ep;
    if (!*sd->relay || endpoint_parse(&ep, sd->relay)) {
        snprintf(err, err_cap, "no relay to deliver to (give --relay http[s]://host:port)");
        return 1;
    }
    /* The backed-up key, named in the token's place ("Grant" with a bare key). */
    spacedir *as = malloc(sizeof *as);
    if (!as) {
        snprintf(err, err_cap, "out of memory");
        return 1;
    }
    memcpy(as, sd, sizeof *as);
    memcpy(as->author_sk, sk, 64);
    memcpy(as->author_pk, sk + 32, 32);
    memcpy(as->token, sk + 32, 32);
    as->token_len = 32;
    char sid[64], path[256], hdrs[2048];
    size_t sl;
    weft_base64url_encode(sid, sizeof sid, &sl, sd->space, 32);
    sid[sl] = 0;
    snprintf(path, sizeof path, "/v1/spaces/%s/changes", sid);
    int bad = auth_headers(as, "POST", path, NULL, hdrs, sizeof hdrs);
    memset(as, 0, sizeof *as);
    free(as);
    if (bad) {
        snprintf(err, err_cap, "the request headers do not fit");
        return 1;
    }
    response r;
    if (http(&ep, "POST", path, hdrs, recs, len, &r, err, err_cap)) return 1;
    int out = 0;
    if (r.status != 200 || strstr((char *)r.body, "\"rejected\"")) {
        snprintf(err, err_cap, "the relay refused the restored key's records (HTTP %d): %.300s",
                 r.status, (char *)r.body);
        out = r.status >= 500 ? 1 : 3;
    }
    response_free(&r);
    return out;
}
