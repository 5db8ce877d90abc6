/*
 * Log inspection and verification (see logcmd.h). Records are read whole
 * into memory: a change file is at most what a replica already holds.
 */
#define _POSIX_C_SOURCE 200809L
#include "logcmd.h"

#include "json.h"
#include "spacedir.h"

#include "weft/sodium.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct link {
    const uint8_t *author, *prev;
    uint64_t seq;
    uint8_t hash[32];
    size_t offset;
} link;

static int link_cmp(const void *a, const void *b) {
    const link *x = a, *y = b;
    int c = memcmp(x->author, y->author, 32);
    if (c) return c;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static void print_hex(const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static void print_b64(const uint8_t *b, size_t n) {
    char *s = malloc(weft_base64url_len(n) + 1);
    size_t l = 0;
    if (s) weft_base64url_encode(s, weft_base64url_len(n) + 1, &l, b, n);
    printf("\"%.*s\"", (int)l, s ? s : "");
    free(s);
}

static int problem(int *first, size_t offset, const char *what, const char *detail) {
    printf("%s{\"offset\":%zu,\"problem\":\"%s\",\"detail\":", *first ? "" : ",", offset, what);
    json_print_string(stdout, detail, strlen(detail));
    printf("}");
    *first = 0;
    return 1;
}

static int verify(const uint8_t *recs, size_t len, size_t good, const char *dir) {
    weft_crypto_backend be;
    if (weft_sodium_backend(&be)) {
        fprintf(stderr, "weft: libsodium failed to start\n");
        return 3;
    }
    size_t n = 0, cap = 0, bad = 0;
    link *links = NULL;
    int first = 1;
    printf("{\"problems\":[");
    for (size_t off = 0; off < good;) {
        weft_change c;
        int rc = weft_change_decode(&c, recs + off, good - off);
        if (rc) { /* cannot happen: `good` ends at the last whole record */
            bad += (size_t)problem(&first, off, "framing", weft_strerror(rc));
            break;
        }
        if (c.suite == WEFT_SUITE_V1 && (rc = weft_change_verify(&be, &c)))
            bad += (size_t)problem(&first, off, "signature", weft_strerror(rc));
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            link *g = realloc(links, cap * sizeof *links);
            if (!g) {
                free(links);
                fprintf(stderr, "weft: out of memory\n");
                return 3;
            }
            links = g;
        }
        links[n] = (link){c.author, c.prev, c.seq, {0}, off};
        weft_change_hash(links[n].hash, &c);
        n++;
        off += c.total_len;
    }
    /* Each author's chain: seq 1, 2, 3... each naming its predecessor. */
    qsort(links, n, sizeof *links, link_cmp);
    size_t authors = 0;
    static const uint8_t zero[32];
    for (size_t i = 0; i < n; i++) {
        const link *l = &links[i], *p = i ? &links[i - 1] : NULL;
        int same = p && memcmp(p->author, l->author, 32) == 0;
        authors += !same;
        char d[160];
        if (same && p->seq == l->seq) {
            if (memcmp(p->hash, l->hash, 32) == 0) continue; /* a stored duplicate: harmless */
            snprintf(d, sizeof d, "two different changes with seq %" PRIu64 " (first at %zu)",
                     l->seq, p->offset);
            bad += (size_t)problem(&first, l->offset, "fork", d);
            continue;
        }
        uint64_t want = same ? p->seq + 1 : 1;
        if (l->seq != want) {
            snprintf(d, sizeof d, "seq %" PRIu64 " follows %" PRIu64 " of the same author", l->seq,
                     want - 1);
            bad += (size_t)problem(&first, l->offset, "gap", d);
        } else if (memcmp(l->prev, same ? p->hash : zero, 32) != 0) {
            snprintf(d, sizeof d, "prev hash does not match change seq %" PRIu64 " at %zu",
                     want - 1, same ? p->offset : (size_t)0);
            bad += (size_t)problem(&first, l->offset, "chain", d);
        }
    }
    /* With the content key, replaying proves every body opens and decodes. */
    int replayed = 0;
    if (dir && !bad) {
        spacedir sd;
        char err[512];
        if (spacedir_open(&sd, dir, err, sizeof err)) {
            bad += (size_t)problem(&first, 0, "replay", err);
        } else {
            replayed = 1;
            if (weft_replica_pending_count(sd.replica))
                bad += (size_t)problem(&first, 0, "replay", "changes wait for missing deps");
            spacedir_close(&sd);
        }
    }
    printf("],\"records\":%zu,\"authors\":%zu,\"torn_tail_bytes\":%zu,\"replayed\":%s,\"ok\":%s}\n",
           n, authors, len - good, replayed ? "true" : "false", bad ? "false" : "true");
    free(links);
    if (bad) fprintf(stderr, "weft: %zu problem(s) found\n", bad);
    return bad ? 1 : 0;
}

int cmd_log(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: weft log inspect|verify|export DIR|FILE\n");
        return 2;
    }
    const char *what = argv[2], *path = argv[3];
    if (strcmp(what, "inspect") && strcmp(what, "verify") && strcmp(what, "export")) {
        fprintf(stderr, "weft: unknown log command '%s' (inspect, verify, export)\n", what);
        return 2;
    }
    struct stat st;
    char file[1100];
    const char *dir = NULL;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(file, sizeof file, "%s/changes.weft", path);
        dir = path;
    } else {
        snprintf(file, sizeof file, "%s", path);
    }
    uint8_t *recs;
    size_t len;
    if (read_file(file, &recs, &len)) {
        fprintf(stderr, "weft: cannot read %s: %s\n", file, strerror(errno));
        return 3;
    }
    /* Whole records; a truncated last one is a torn tail. */
    size_t good = 0;
    int framing = 0;
    while (good < len) {
        weft_change c;
        int rc = weft_change_decode(&c, recs + good, len - good);
        if (rc == WEFT_ETRUNCATED) break;
        if (rc) {
            framing = rc;
            break;
        }
        good += c.total_len;
    }
    int out = 0;
    if (strcmp(what, "verify") == 0) {
        if (framing) {
            printf("{\"problems\":[{\"offset\":%zu,\"problem\":\"framing\",\"detail\":\"%s\"}],"
                   "\"ok\":false}\n",
                   good, weft_strerror(framing));
            fprintf(stderr, "weft: %s: not a change record at byte %zu (%s)\n", file, good,
                    weft_strerror(framing));
            out = 1;
        } else {
            out = verify(recs, len, good, dir);
        }
    } else {
        for (size_t off = 0; off < good;) {
            weft_change c;
            weft_change_decode(&c, recs + off, good - off);
            printf("{\"offset\":%zu,\"author\":", off);
            print_b64(c.author, 32);
            printf(",\"seq\":%" PRIu64, c.seq);
            if (strcmp(what, "export") == 0) {
                printf(",\"record\":");
                print_b64(c.record, c.total_len);
            } else {
                uint8_t h[32];
                weft_change_hash(h, &c);
                printf(",\"lamport\":%" PRIu64 ",\"ops\":%" PRIu64
                       ",\"deps\":%u,\"wall_ms\":%" PRIu64
                       ",\"suite\":\"%s\",\"bytes\":%zu,\"hash\":\"",
                       c.lamport, c.n_ids, c.n_deps, c.wall_ms,
                       c.suite == WEFT_SUITE_V1 ? "v1" : "plain", c.total_len);
                print_hex(h, 32);
                printf("\"");
            }
            printf("}\n");
            off += c.total_len;
        }
        if (framing) {
            fprintf(stderr, "weft: %s: not a change record at byte %zu (%s)\n", file, good,
                    weft_strerror(framing));
            out = 3;
        } else if (len > good) {
            fprintf(stderr, "weft: %s ends with a torn record of %zu bytes\n", file, len - good);
        }
    }
    free(recs);
    return out;
}
