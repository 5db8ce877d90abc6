/*
 * Log inspection and verification (see logcmd.h). Records are read whole
 * into memory: a change file is at most what a replica already holds.
 */
#define _POSIX_C_SOURCE 200809L
#include "logcmd.h"

#include "json.h"
#include "spacedir.h"

#include "hex.h"
#include "segment.h"
#include "trimfile.h"
#include "vec.h"

#include "weft/sodium.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct chain_link {
    const uint8_t *author, *prev;
    uint64_t seq;
    uint8_t hash[32];
    size_t offset;
} chain_link;

static int link_cmp(const void *a, const void *b) {
    const chain_link *x = a, *y = b;
    int c = memcmp(x->author, y->author, 32);
    if (c) return c;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static void print_hash(const uint8_t h[32]) {
    char hex[WEFT__HEX_LEN(32)];
    weft__hex_encode(hex, sizeof hex, h, 32);
    fputs(hex, stdout);
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

/* A relay's trim checkpoint (common/trimfile.h), parsed: each author's
 * chain head at the trim point, where that author's retained chain starts. */
typedef struct trim_info {
    const uint8_t *ckpt; /* NULL: the log was never trimmed */
    size_t n;
    uint64_t trimmed;
} trim_info;

/* The checkpoint entry of author, or 0 (not in it). OUT: *a. */
static int trim_author(const trim_info *t, const uint8_t *author, weft__trim_author *a) {
    for (size_t i = 0; t && t->ckpt && i < t->n; i++) {
        weft__trim_author_get(a, t->ckpt, i);
        if (memcmp(a->key, author, 32) == 0) return 1;
    }
    return 0;
}

static int verify(const uint8_t *recs, size_t len, size_t good, const char *dir,
                  const trim_info *trim) {
    weft_crypto_backend be;
    if (weft_sodium_backend(&be)) {
        fprintf(stderr, "weft: libsodium failed to start\n");
        return 3;
    }
    size_t n = 0, cap = 0, bad = 0;
    chain_link *links = NULL;
    int first = 1;
    printf("{\"problems\":[");
    for (size_t off = 0; off < good;) {
        weft_change c;
        weft_level lv;
        size_t ll;
        if (good - off >= 2 && recs[off + 1] == WEFT_RECORD_LEVEL) {
            /* A level record (FORMAT.md §10): no chain to check, only its
             * structure and the owner's or admin's signature. */
            int lrc = weft_level_decode_prefix(&lv, recs + off, good - off, &ll);
            if (lrc) {
                bad += (size_t)problem(&first, off, "framing", weft_strerror(lrc));
                break;
            }
            if ((lrc = weft_level_verify(&be, recs + off, ll, lv.space, &lv)))
                bad += (size_t)problem(&first, off, "signature", weft_strerror(lrc));
            off += ll;
            continue;
        }
        if (good - off >= 2 && WEFT_RECORD_IS_MEMBERSHIP(recs[off + 1])) {
            /* A membership record (FORMAT.md §10): its structure and its
             * issuer's signature; who may sign it is the fold's question. */
            weft_member_record mr;
            int mrc = weft_member_record_decode_prefix(&mr, recs + off, good - off, &ll);
            if (mrc) {
                bad += (size_t)problem(&first, off, "framing", weft_strerror(mrc));
                break;
            }
            if ((mrc = weft_member_record_verify(&be, recs + off, ll, mr.space, &mr)))
                bad += (size_t)problem(&first, off, "signature", weft_strerror(mrc));
            off += ll;
            continue;
        }
        int rc = weft_change_decode(&c, recs + off, good - off);
        if (rc) { /* cannot happen: `good` ends at the last whole record */
            bad += (size_t)problem(&first, off, "framing", weft_strerror(rc));
            break;
        }
        if (c.suite == WEFT_SUITE_V1 && (rc = weft_change_verify(&be, &c)))
            bad += (size_t)problem(&first, off, "signature", weft_strerror(rc));
        chain_link *g = weft__vec_grow(links, &cap, n + 1, sizeof *links, 256);
        if (!g) {
            free(links);
            fprintf(stderr, "weft: out of memory\n");
            return 3;
        }
        links = g;
        links[n] = (chain_link){c.author, c.prev, c.seq, {0}, off};
        weft_change_hash(links[n].hash, &c);
        n++;
        off += c.total_len;
    }
    /* Each author's chain: seq 1, 2, 3... each naming its predecessor. A
     * replica that started from a snapshot holds each author's chain from
     * after the snapshot's vector: its first change there cannot be checked
     * against a hash here (the snapshot's heads are sealed); the replay
     * below checks it. */
    uint8_t *snap = NULL;
    const uint8_t *svv = NULL;
    size_t svv_len = 0;
    if (dir && spacedir_snapshot_vv(dir, &snap, &svv, &svv_len) < 0)
        bad += (size_t)problem(&first, 0, "snapshot", "snapshot.weft does not decode");
    if (n) qsort(links, n, sizeof *links, link_cmp); /* links is NULL when empty */
    size_t authors = 0;
    static const uint8_t zero[32];
    for (size_t i = 0; i < n; i++) {
        const chain_link *l = &links[i], *p = i ? &links[i - 1] : NULL;
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
        uint64_t base = 0;
        size_t pos = 0;
        const uint8_t *a;
        uint64_t seq;
        while (!same && snap && weft_vv_next(svv, svv_len, &pos, &a, &seq))
            if (memcmp(a, l->author, 32) == 0) base = seq;
        /* After a relay's trim point the chain continues from the head the
         * checkpoint names, hash included: checked like any link. */
        weft__trim_author ta;
        int trimmed = !same && trim_author(trim, l->author, &ta);
        if (trimmed) base = ta.seq;
        const uint8_t *want_prev = same ? p->hash : trimmed ? ta.hash : zero;
        uint64_t want = same ? p->seq + 1 : base + 1;
        if (l->seq != want) {
            snprintf(d, sizeof d, "seq %" PRIu64 " follows %" PRIu64 " of the same author", l->seq,
                     want - 1);
            bad += (size_t)problem(&first, l->offset, "gap", d);
        } else if ((same || !base || trimmed) && memcmp(l->prev, want_prev, 32) != 0) {
            snprintf(d, sizeof d, "prev hash does not match change seq %" PRIu64 " at %zu",
                     want - 1, same ? p->offset : (size_t)0);
            bad += (size_t)problem(&first, l->offset, "chain", d);
        }
    }
    free(snap);
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

/* One JSON line per change: inspect (metadata) or export (the bytes). */
static void print_changes(const char *what, const uint8_t *recs, size_t good, const char *space) {
    for (size_t off = 0; off < good;) {
        weft_change c;
        weft_level lv;
        size_t ll;
        if (good - off >= 2 && recs[off + 1] == WEFT_RECORD_LEVEL) {
            if (weft_level_decode_prefix(&lv, recs + off, good - off, &ll)) break;
            printf("{");
            if (space) printf("\"space\":\"%s\",", space);
            printf("\"offset\":%zu,\"kind\":\"level\",\"level\":%u,\"issuer\":", off, lv.level);
            print_b64(lv.issuer, 32);
            if (strcmp(what, "export") == 0) {
                printf(",\"record\":");
                print_b64(recs + off, ll);
            }
            printf("}\n");
            off += ll;
            continue;
        }
        if (good - off >= 2 && WEFT_RECORD_IS_MEMBERSHIP(recs[off + 1])) {
            weft_member_record mr;
            if (weft_member_record_decode_prefix(&mr, recs + off, good - off, &ll)) break;
            static const char *const kinds[] = {"grant", "revoke", "epoch", "", "link"};
            printf("{");
            if (space) printf("\"space\":\"%s\",", space);
            printf("\"offset\":%zu,\"kind\":\"%s\",\"issuer\":", off,
                   kinds[mr.kind - WEFT_RECORD_GRANT]);
            print_b64(mr.issuer, 32);
            if (mr.kind == WEFT_RECORD_LINK) {
                printf(",\"device\":");
                print_b64(mr.member, 32);
            } else if (mr.kind != WEFT_RECORD_EPOCH) {
                printf(",\"member\":");
                print_b64(mr.member, 32);
            } else {
                printf(",\"epoch\":%" PRIu64 ",\"sealed_to\":%zu", mr.epoch, mr.n_envelopes);
            }
            if (strcmp(what, "export") == 0) {
                printf(",\"record\":");
                print_b64(recs + off, ll);
            }
            printf("}\n");
            off += ll;
            continue;
        }
        if (weft_change_decode(&c, recs + off, good - off)) break;
        printf("{");
        if (space) printf("\"space\":\"%s\",", space);
        printf("\"offset\":%zu,\"author\":", off);
        print_b64(c.author, 32);
        printf(",\"seq\":%" PRIu64, c.seq);
        if (strcmp(what, "export") == 0) {
            printf(",\"record\":");
            print_b64(c.record, c.total_len);
        } else {
            uint8_t h[32];
            weft_change_hash(h, &c);
            printf(",\"lamport\":%" PRIu64 ",\"ops\":%" PRIu64 ",\"deps\":%u,\"wall_ms\":%" PRIu64
                   ",\"suite\":\"%s\",\"bytes\":%zu,\"hash\":\"",
                   c.lamport, c.n_ids, c.n_deps, c.wall_ms,
                   c.suite == WEFT_SUITE_V1 ? "v1" : "plain", c.total_len);
            print_hash(h);
            printf("\"");
        }
        printf("}\n");
        off += c.total_len;
    }
}

/* ---- a relay's data directory (docs/RELAY.md, "Storage layout") ---- */

static int is_space_dir(const char *name) {
    return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir that match keep(); caller frees each and the array.
 * NULL with *n = 0 when dir cannot be read or memory runs out. */
static char **list_dir(const char *dir, int (*keep)(const char *), size_t *n) {
    DIR *d = opendir(dir);
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    if (!d) return NULL;
    for (struct dirent *e; (e = readdir(d));) {
        if (!keep(e->d_name)) continue;
        char **g = weft__vec_grow(v, &cap, *n + 1, sizeof *v, 16);
        char *name = g ? strdup(e->d_name) : NULL;
        if (g) v = g;
        if (!name) break;
        v[(*n)++] = name;
    }
    closedir(d);
    if (v) qsort(v, *n, sizeof *v, name_cmp);
    return v;
}

/* What the relay itself would open as a segment (segment.h). */
static int is_segment(const char *name) {
    uint64_t first;
    return weft__seg_name_parse(&first, name) == 0;
}

/* The records of one space, concatenated in relay-sequence order. */
typedef struct space_recs {
    uint8_t *p;
    size_t len, cap;
    int oom;
} space_recs;

static int keep_record(void *ud, uint64_t rseq, uint64_t off, const uint8_t *rec, size_t len) {
    space_recs *r = ud;
    uint8_t *g =
        r->len <= SIZE_MAX - len ? weft__vec_grow(r->p, &r->cap, r->len + len, 1, 1 << 16) : NULL;
    if (!g) {
        r->oom = 1;
        return WEFT_ENOMEM;
    }
    r->p = g;
    memcpy(r->p + r->len, rec, len);
    r->len += len;
    return 0;
}

/* The records of one space, checked read-only with the relay's own segment
 * codec (segment.h): a fault in the last segment with no sync mark after it
 * is a torn tail (the relay cuts it on its next start); any other is
 * damage, printed as a problem. Returns the number of problems. */
static size_t read_space(const char *dir, const char *space, int print, uint8_t **out,
                         size_t *out_len, size_t *torn, trim_info *trim, uint8_t **trim_buf) {
    char path[1400];
    size_t nseg = 0, bad = 0;
    char **segs = NULL;
    if (path_join(path, sizeof path, dir, space)) {
        bad++;
        if (print) printf("{\"space\":\"%s\",\"problem\":\"path too long\"}\n", space);
    } else {
        segs = list_dir(path, is_segment, &nseg);
    }
    space_recs recs = {0};
    uint64_t want = 1;
    *torn = 0;
    /* A trimmed log (RELAY.md, "History"): its checkpoint says where the
     * kept records start; segments wholly before that are leftovers of a
     * trim the relay finishes at its next open. */
    *trim = (trim_info){0};
    *trim_buf = NULL;
    char tfile[1700];
    size_t tl = 0;
    if (segs && !path_join(tfile, sizeof tfile, path, "trim") && access(tfile, F_OK) == 0) {
        if (read_file(tfile, trim_buf, &tl) ||
            weft__trim_parse(&trim->trimmed, &trim->n, *trim_buf, tl)) {
            bad++;
            if (print)
                printf("{\"space\":\"%s\",\"problem\":\"damaged trim checkpoint\"}\n", space);
        } else {
            trim->ckpt = *trim_buf;
            want = trim->trimmed + 1;
        }
    }
    for (size_t i = 0; i < nseg; i++) {
        uint64_t seg_first;
        if (trim->ckpt && !weft__seg_name_parse(&seg_first, segs[i]) &&
            seg_first <= trim->trimmed) {
            free(segs[i]);
            continue;
        }
        char file[1700];
        uint8_t *seg = NULL;
        size_t sl = 0;
        const char *why = NULL;
        uint64_t off = 0;
        weft__seg_scan sc;
        if (path_join(file, sizeof file, path, segs[i]) || read_file(file, &seg, &sl)) {
            why = "unreadable";
        } else if (weft__seg_scan_mem(&sc, seg, sl, want, i + 1 == nseg, keep_record, &recs)) {
            why = "out of memory";
        } else {
            want = sc.next;
            off = sc.end;
            if (sc.fault && sc.torn)
                *torn = sl - (size_t)sc.end; /* the active segment's unacknowledged tail */
            else if (sc.fault)
                why = weft__seg_fault_str(sc.fault);
        }
        if (why) {
            bad++;
            if (print) {
                printf("{\"space\":\"%s\",\"segment\":\"%s\",\"offset\":%" PRIu64
                       ",\"problem\":\"%s\"}\n",
                       space, segs[i], off, why);
            }
        }
        free(seg);
        free(segs[i]);
    }
    free(segs);
    *out = recs.p;
    *out_len = recs.len;
    return bad;
}

/* Inspects, exports or verifies every space of a relay's data directory. */
static int relay_log(const char *what, const char *dir) {
    size_t n;
    char **spaces = list_dir(dir, is_space_dir, &n);
    int out = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *recs, *trim_buf;
        size_t len, torn;
        trim_info trim;
        int verifying = strcmp(what, "verify") == 0;
        size_t bad = read_space(dir, spaces[i], verifying, &recs, &len, &torn, &trim, &trim_buf);
        if (trim.ckpt)
            printf("{\"space\":\"%s\",\"kind\":\"trimmed\",\"upto_rseq\":%" PRIu64
                   ",\"authors\":%zu}\n",
                   spaces[i], trim.trimmed, trim.n);
        if (verifying) {
            printf("{\"space\":\"%s\",\"torn_tail_bytes\":%zu}\n", spaces[i], torn);
            if (verify(recs, len, len, NULL, &trim) || bad) out = 1;
        } else {
            print_changes(what, recs, len, spaces[i]);
            if (bad) out = 1;
        }
        free(recs);
        free(trim_buf);
        free(spaces[i]);
    }
    free(spaces);
    if (!n) {
        fprintf(stderr, "weft: %s holds no replica (space.json) and no relay spaces\n", dir);
        return 3;
    }
    return out;
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
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (is_dir ? path_join(file, sizeof file, path, "space.json")
               : (size_t)snprintf(file, sizeof file, "%s", path) >= sizeof file) {
        fprintf(stderr, "weft: path too long: %s\n", path);
        return 3;
    }
    if (is_dir) {
        if (access(file, F_OK) != 0) return relay_log(what, path);
        if (path_join(file, sizeof file, path, "changes.weft")) {
            fprintf(stderr, "weft: path too long: %s\n", path);
            return 3;
        }
        dir = path;
    }
    uint8_t *recs;
    size_t len;
    if (read_file(file, &recs, &len)) {
        fprintf(stderr, "weft: cannot read %s: %s\n", file, strerror(errno));
        return 3;
    }
    /* Whole records; a truncated last one is a torn tail. */
    int framing;
    size_t good = whole_records(recs, len, &framing);
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
            out = verify(recs, len, good, dir, NULL);
        }
    } else {
        print_changes(what, recs, good, NULL);
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
