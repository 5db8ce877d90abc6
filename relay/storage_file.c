/*
 * File storage, the default: per space, a directory of append-only segment
 * files (docs/RELAY.md, "Storage layout").
 *
 *   <root>/<space id hex>/<first relay seq, 20 digits>.seg
 *   segment = "weftseg1" | u64 first_rseq            (16-byte header)
 *             then records: u32 len | u32 crc32c | u64 rseq | len bytes
 *             and sync marks: u32 0 | u32 crc32c | u64 own offset
 *   crc32c covers the rseq (8 bytes, little-endian) and the record bytes;
 *   a mark's covers its offset.
 *
 * Appends go straight to the active (last) segment with one pwritev each;
 * flush runs fdatasync once per space written since the last flush, which
 * is the group commit: the server flushes once per event-loop turn. Older
 * segments are synced when they are closed, so only the active one can ever
 * have an unsynced tail.
 *
 * After each fdatasync a sync mark goes after the synced bytes: it says
 * "everything before me was durable" (it is written only once that is
 * true, and needs no sync of its own: lost, it only says less).
 *
 * Opening a space scans its segments with the segment codec
 * (common/segment.h, which also says exactly what a torn tail is) and
 * rebuilds the in-memory index (segment, offset, length per relay
 * sequence). A torn tail in the last segment is truncated (nothing after it
 * was acked, since acks follow the fdatasync that would have covered it);
 * any other damage is disk corruption, not a crash artefact: the space
 * refuses to open rather than serve or renumber around it. Every read
 * checks the CRC again, so a record damaged later is never served either.
 * This file does the I/O; the codec knows the bytes.
 *
 * Sealed snapshots sit beside the segments, one file each
 * (<base rseq, 20 digits>.snap, common/snapfile.h), written to snap.tmp,
 * fdatasync'd, renamed into place and the directory fsync'd, so that a
 * crash leaves a whole snapshot or none; a snap.tmp found at open is a torn
 * upload and is removed. The STORAGE_SNAPSHOTS_KEPT newest are kept. A
 * snapshot write is synchronous on the loop: uploads are rare (an admin's,
 * every so often) and bounded by --max-snapshot.
 *
 * Trimming (--keep-history) cuts the log at a segment boundary: the
 * checkpoint (common/trimfile.h: each author's chain head at the cut) is
 * written to trim.tmp, fdatasync'd, renamed to "trim" and the directory
 * fsync'd; only then are the sealed segments before the cut unlinked. The
 * checkpoint is what says the prefix is gone: a crash before the rename
 * leaves the log whole (and a trim.tmp, removed at open), one after it
 * leaves segments before the cut, which open removes. Only sealed segments
 * whose every record is at or before the newest durable snapshot's base go,
 * so no acknowledged change is lost that the snapshot does not carry.
 */
#include "storage.h"

#include "hex.h"
#include "segment.h"
#include "snapfile.h"
#include "trimfile.h"
#include "vec.h"

#include "weft/change.h"
#include "weft/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SEG_HDR        WEFT__SEG_HDR
#define REC_HDR        WEFT__SEG_ITEM
#define SEG_DEFAULT    (64u << 20)
#define MAX_REC        WEFT__SEG_MAX_REC
#define WEFT_EIO_STORE WEFT_EUNAVAILABLE /* I/O failures: the core has no EIO code */

typedef struct seg {
    uint64_t first; /* relay sequence of its first record */
    uint64_t size;  /* valid bytes */
} seg;

typedef struct fpos {
    uint64_t off;
    uint32_t seg, len;
} fpos;

typedef struct file_space {
    relay_space_store base;
    struct file_store *st;
    char dir[PATH_MAX];
    seg *segs;
    size_t n_segs, cap_segs;
    int fd;          /* the active (last) segment, or -1 */
    uint64_t marked; /* the active segment's size at its last sync mark */
    fpos *idx;       /* idx[i]: relay sequence trimmed + i + 1 */
    size_t n, cap;
    uint64_t trimmed; /* records up to it are gone (the trim checkpoint says so) */
    int dirty;
    int syncing; /* between sync_begin and sync_end */
    /* Records appended while a sync runs: held here, and written at
     * pend_off (after a slot for the sync's mark) once it is done, so that
     * the mark goes right after the bytes that sync covered. */
    uint8_t *pend;
    size_t pend_len, pend_cap;
    uint64_t pend_off, pend_first; /* file offset, relay sequence of the first */
    int failed;                    /* an fdatasync failed: nothing unsynced can be trusted */
    char hex[WEFT__HEX_LEN(32)];
    struct file_space *dirty_next;
} file_space;

typedef struct file_store {
    relay_store base;
    char root[PATH_MAX];
    size_t seg_bytes;
    file_space *dirty;
    uint8_t *buf; /* read buffer, shared: one read at a time */
    size_t buf_cap;
    /* Test hooks (docs/TESTING.md), read once from the environment: the
     * fail_at-th group-commit fdatasync (counting from 1) fails as the
     * kernel reports a writeback error (the writes since the last good
     * sync are dropped), and the group-commit fdatasync of the space named
     * slow_space (hex) takes delay_ms longer. Unset, they cost a compare. */
    uint64_t syncs, fail_at;
    unsigned delay_ms;
    unsigned snap_delay_ms; /* a snapshot write pauses half-way (kill -9 tests) */
    unsigned trim_delay_ms; /* a trim pauses before and after its rename (kill -9 tests) */
    char slow_space[WEFT__HEX_LEN(32)];
    /* Spaces whose unsynced tail could not be dropped after a failed
     * fdatasync: refused until the process restarts (hex ids). */
    char (*poisoned)[WEFT__HEX_LEN(32)];
    size_t n_poisoned;
} file_store;

static int io_fail(const char *op, const char *path) {
    fprintf(stderr, "weft-relay: file storage: %s %s: %s\n", op, path, strerror(errno));
    return WEFT_EIO_STORE;
}

static void seg_path(char *dst, size_t cap, const file_space *s, uint64_t first) {
    char name[WEFT__SEG_NAME_CAP];
    weft__seg_name(name, sizeof name, first);
    snprintf(dst, cap, "%s/%s", s->dir, name); /* cannot truncate: dir is checked at open */
}

static int fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return io_fail("open", path);
    int rc = fsync(fd);
    close(fd);
    return rc ? io_fail("fsync", path) : 0;
}

static int buf_reserve(file_store *st, size_t n) {
    uint8_t *p = weft__vec_grow(st->buf, &st->buf_cap, n, 1, 1u << 20);
    if (!p) return WEFT_ENOMEM;
    st->buf = p;
    return 0;
}

static int seg_push(file_space *s, uint64_t first, uint64_t size) {
    seg *p = weft__vec_grow(s->segs, &s->cap_segs, s->n_segs + 1, sizeof *p, 8);
    if (!p) return WEFT_ENOMEM;
    s->segs = p;
    s->segs[s->n_segs++] = (seg){first, size};
    return 0;
}

static int idx_push(file_space *s, uint32_t segi, uint64_t off, uint32_t len) {
    fpos *p = weft__vec_grow(s->idx, &s->cap, s->n + 1, sizeof *p, 256);
    if (!p) return WEFT_ENOMEM;
    s->idx = p;
    s->idx[s->n++] = (fpos){off, segi, len};
    return 0;
}

/* Starts a new active segment whose first record will be `first`. */
static int seg_create(file_space *s, uint64_t first) {
    char path[PATH_MAX + 32];
    seg_path(path, sizeof path, s, first);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail("create", path);
    uint8_t hdr[SEG_HDR];
    weft__seg_header_put(hdr, first);
    if (pwrite(fd, hdr, SEG_HDR, 0) != SEG_HDR || fdatasync(fd)) {
        int rc = io_fail("write", path);
        close(fd);
        return rc;
    }
    int rc = fsync_dir(s->dir);
    if (!rc) rc = seg_push(s, first, SEG_HDR);
    if (rc) {
        close(fd);
        return rc;
    }
    if (s->fd >= 0) close(s->fd);
    s->fd = fd;
    s->marked = SEG_HDR;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Writes a sync mark after the segment's synced bytes (see the top). */
static int mark_write(file_space *s) {
    seg *cur = &s->segs[s->n_segs - 1];
    uint8_t hdr[REC_HDR];
    weft__seg_mark_put(hdr, cur->size);
    if (pwrite(s->fd, hdr, REC_HDR, (off_t)cur->size) != REC_HDR) {
        int rc = io_fail("write", s->dir);
        if (ftruncate(s->fd, (off_t)cur->size)) io_fail("truncate", s->dir);
        return rc;
    }
    cur->size += REC_HDR;
    s->marked = cur->size;
    return 0;
}

/* What the segment codec reads a segment through, and the replay. */
typedef struct scan_io {
    file_space *s;
    int fd;
    uint32_t segi;
    const char *path;
    relay_record_fn fn;
    void *ud;
} scan_io;

static const uint8_t *scan_view(void *ud, uint64_t off, size_t n, int *err) {
    scan_io *io = ud;
    file_store *st = io->s->st;
    if ((*err = buf_reserve(st, n))) return NULL;
    if (pread(io->fd, st->buf, n, (off_t)off) != (ssize_t)n) {
        *err = io_fail("read", io->path);
        return NULL;
    }
    return st->buf;
}

static int scan_record(void *ud, uint64_t rseq, uint64_t off, const uint8_t *rec, size_t len) {
    scan_io *io = ud;
    int rc = idx_push(io->s, io->segi, off, (uint32_t)len);
    if (!rc && io->fn) rc = io->fn(io->ud, rseq, rec, len);
    return rc;
}

/* Scans one segment, indexing and replaying its records. A torn tail (see
 * common/segment.h) truncates the file there; any other fault is an error. */
static int scan_segment(file_space *s, uint64_t first, int last, relay_record_fn fn, void *ud) {
    char path[PATH_MAX + 32];
    seg_path(path, sizeof path, s, first);
    int fd = open(path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return io_fail("open", path);
    struct stat sb;
    if (fstat(fd, &sb)) {
        close(fd);
        return io_fail("stat", path);
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    if (first !=
        s->trimmed + s->n + 1) { /* named for a relay sequence the last one does not lead to */
        close(fd);
        fprintf(stderr, "weft-relay: file storage: %s: %s\n", path,
                fsize < SEG_HDR ? "no header" : "bad header or gap");
        return WEFT_EMALFORMED;
    }
    uint32_t segi = (uint32_t)s->n_segs;
    int rc = seg_push(s, first, SEG_HDR);
    if (rc) {
        close(fd);
        return rc;
    }
    s->marked = SEG_HDR;
    scan_io io = {s, fd, segi, path, fn, ud};
    weft__seg_scan sc;
    rc = weft__seg_scan_run(&sc, fsize, s->trimmed + s->n + 1, last, scan_view, &io, scan_record,
                            &io);
    if (rc) goto out;
    if (sc.fault == WEFT__SEG_HEADER_SHORT || sc.fault == WEFT__SEG_BAD_MAGIC ||
        sc.fault == WEFT__SEG_GAP) {
        s->n_segs--; /* not a segment of this space (yet) */
        /* A segment whose header never made it: only the newest can be. */
        if (sc.torn) {
            close(fd);
            return seg_create(s, first);
        }
        fprintf(stderr, "weft-relay: file storage: %s: %s\n", path,
                sc.fault == WEFT__SEG_HEADER_SHORT ? "no header" : "bad header or gap");
        rc = WEFT_EMALFORMED;
        goto out;
    }
    s->marked = sc.marked;
    if (sc.fault && !sc.torn) {
        fprintf(stderr,
                "weft-relay: file storage: %s: %s at offset %llu in %s: refusing the "
                "space\n",
                path, weft__seg_fault_str(sc.fault), (unsigned long long)sc.end,
                last ? "data synced before (a sync mark follows)" : "a sealed segment");
        rc = WEFT_EMALFORMED;
        goto out;
    }
    if (sc.fault) {
        fprintf(stderr,
                "weft-relay: file storage: %s: %s at offset %llu: truncating %llu byte "
                "torn tail\n",
                path, weft__seg_fault_str(sc.fault), (unsigned long long)sc.end,
                (unsigned long long)(fsize - sc.end));
        if (ftruncate(fd, (off_t)sc.end) || fdatasync(fd)) {
            rc = io_fail("truncate", path);
            goto out;
        }
    }
    s->segs[segi].size = sc.end;
out:
    if (rc || !last) {
        close(fd);
    } else {
        s->fd = fd;
    }
    return rc;
}

static void space_free(file_space *s) {
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    free(s->pend);
    free(s->segs);
    free(s->idx);
    free(s);
}

/* The numbers in the names of the files of dir that parse() accepts (a
 * segment's first relay sequence, a snapshot's base), sorted by cmp. */
static int list_numbered(const char *dir, int (*parse)(uint64_t *, const char *),
                         int (*cmp)(const void *, const void *), uint64_t **out, size_t *n_out) {
    DIR *d = opendir(dir);
    if (!d) return io_fail("opendir", dir);
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t num;
        if (parse(&num, e->d_name)) continue;
        uint64_t *p = weft__vec_grow(v, &cap, n + 1, sizeof *p, 16);
        if (!p) {
            free(v);
            closedir(d);
            return WEFT_ENOMEM;
        }
        v = p;
        v[n++] = num;
    }
    closedir(d);
    if (n) qsort(v, n, sizeof *v, cmp);
    *out = v;
    *n_out = n;
    return 0;
}

static int list_segments(const char *dir, uint64_t **out, size_t *n_out) {
    return list_numbered(dir, weft__seg_name_parse, cmp_u64, out, n_out);
}

/* ---- the trim checkpoint ---- */

static int write_all(int fd, const uint8_t *p, size_t n, const char *path);

/* Reads <dir>/trim. OUT: *trimmed (0 when there is none), and when ckpt
 * is given, *ckpt (malloc'd; NULL when none) and *len. Returns 0 or a WEFT_E
 * code (one that fails its check is WEFT_EMALFORMED). */
static int trim_load(const char *dir, uint64_t *trimmed, uint8_t **ckpt, size_t *len) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/trim", dir);
    *trimmed = 0;
    if (ckpt) *ckpt = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : io_fail("open", path);
    struct stat sb;
    uint8_t *buf = NULL;
    int rc = fstat(fd, &sb) ? io_fail("stat", path) : 0;
    size_t n = rc ? 0 : (size_t)sb.st_size;
    if (!rc && n > weft__trim_size(WEFT__TRIM_MAX)) rc = WEFT_EMALFORMED;
    if (!rc && !(buf = malloc(n ? n : 1))) rc = WEFT_ENOMEM;
    if (!rc && pread(fd, buf, n, 0) != (ssize_t)n) rc = io_fail("read", path);
    close(fd);
    size_t authors;
    if (!rc && weft__trim_parse(trimmed, &authors, buf, n)) {
        fprintf(stderr,
                "weft-relay: file storage: %s: damaged trim checkpoint: refusing the space\n",
                path);
        rc = WEFT_EMALFORMED;
    }
    if (!rc && ckpt) {
        *ckpt = buf;
        *len = n;
        buf = NULL;
    }
    free(buf);
    return rc;
}

/* At open: the segments wholly at or before the trim point, left by a
 * crash between the checkpoint and their unlink, go now; the first one
 * kept must start right after it. OUT: *skip, how many of firsts went. */
static int drop_trimmed(file_space *s, const uint64_t *firsts, size_t n, size_t *skip) {
    size_t k = 0;
    while (k < n && firsts[k] <= s->trimmed)
        k++;
    if (k == n || firsts[k] != s->trimmed + 1) {
        fprintf(stderr,
                "weft-relay: file storage: %s: no segment starts after the trim point %llu\n",
                s->dir, (unsigned long long)s->trimmed);
        return WEFT_EMALFORMED;
    }
    for (size_t i = 0; i < k; i++) {
        char path[PATH_MAX + 32];
        seg_path(path, sizeof path, s, firsts[i]);
        if (unlink(path) && errno != ENOENT) return io_fail("unlink", path);
    }
    *skip = k;
    return k ? fsync_dir(s->dir) : 0;
}

static int f_trim_read(relay_store *st_, const uint8_t space[32], uint64_t *trimmed, uint8_t **ckpt,
                       size_t *len) {
    file_store *st = (file_store *)st_;
    char hex[WEFT__HEX_LEN(32)], dir[PATH_MAX + 80];
    weft__hex_encode(hex, sizeof hex, space, 32);
    snprintf(dir, sizeof dir, "%s/%s", st->root, hex);
    *len = 0;
    return trim_load(dir, trimmed, ckpt, len);
}

/* Whether the active segment can be sealed now and cut whole: it holds
 * records, all of them at or before limit and synced (no sync in flight,
 * nothing held or appended since). */
static int active_cuttable(const file_space *s, uint64_t limit) {
    uint64_t head = s->trimmed + s->n;
    return s->n_segs && head >= s->segs[s->n_segs - 1].first && limit >= head && !s->syncing &&
           !s->pend_len && !s->dirty && !s->failed;
}

/* The last record of a sealed segment at or before limit: cuts fall on
 * segment boundaries. The active segment is cut too when limit covers it
 * whole (f_trim seals it first), so that with --keep-history none a space
 * whose every record a snapshot covers keeps no segment bytes, whatever
 * --segment-bytes is. */
static uint64_t f_trim_point(relay_space_store *s_, uint64_t limit) {
    file_space *s = (file_space *)s_;
    if (active_cuttable(s, limit)) return s->trimmed + s->n;
    uint64_t point = s->trimmed;
    for (size_t i = 1; i < s->n_segs && s->segs[i].first - 1 <= limit; i++)
        point = s->segs[i].first - 1;
    return point;
}

static int f_trim(relay_space_store *s_, uint64_t upto, const uint8_t *ckpt, size_t len,
                  uint64_t *bytes) {
    file_space *s = (file_space *)s_;
    *bytes = 0;
    if (s->failed) return WEFT_EIO_STORE;
    /* A cut at the head: the active segment is sealed (a new, empty one
     * takes the next record) and goes with the others. Its bytes are
     * synced already (active_cuttable). */
    if (upto == s->trimmed + s->n && active_cuttable(s, upto)) {
        int rc = seg_create(s, upto + 1);
        if (rc) return rc;
    }
    size_t k = 0; /* segments that go: every one starting at or before upto */
    while (k + 1 < s->n_segs && s->segs[k + 1].first - 1 <= upto)
        k++;
    if (!k || s->segs[k].first != upto + 1) return WEFT_EINVAL; /* not a trim_point answer */
    char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/trim.tmp", s->dir);
    snprintf(path, sizeof path, "%s/trim", s->dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? io_fail("open", tmp) : write_all(fd, ckpt, len, tmp);
    if (!rc && fdatasync(fd)) rc = io_fail("fdatasync", tmp);
    if (fd >= 0) close(fd);
    if (!rc && s->st->trim_delay_ms) {
        /* Test hook: the checkpoint is whole under its temporary name. */
        struct timespec ts = {s->st->trim_delay_ms / 1000,
                              (long)(s->st->trim_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!rc && rename(tmp, path)) rc = io_fail("rename", tmp);
    if (!rc) rc = fsync_dir(s->dir);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    /* From here the prefix is gone, whatever happens to its files. */
    size_t drop = (size_t)(upto - s->trimmed);
    for (size_t i = 0; i < drop; i++)
        *bytes += s->idx[i].len;
    memmove(s->idx, s->idx + drop, (s->n - drop) * sizeof *s->idx);
    s->n -= drop;
    for (size_t i = 0; i < s->n; i++)
        s->idx[i].seg -= (uint32_t)k;
    s->trimmed = upto;
    for (size_t i = 0; i < k; i++) {
        seg_path(path, sizeof path, s, s->segs[i].first);
        if (unlink(path) && errno != ENOENT) io_fail("unlink", path); /* open removes it */
        if (s->st->trim_delay_ms && i == 0) {
            /* Test hook: the checkpoint is in place, the segments not all gone. */
            struct timespec ts = {s->st->trim_delay_ms / 1000,
                                  (long)(s->st->trim_delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    memmove(s->segs, s->segs + k, (s->n_segs - k) * sizeof *s->segs);
    s->n_segs -= k;
    fsync_dir(s->dir); /* lost, the open after a crash unlinks them again */
    return 0;
}

static int f_open(relay_store *st_, const uint8_t space[32], int create, relay_space_store **out,
                  relay_record_fn fn, void *ud) {
    file_store *st = (file_store *)st_;
    file_space *s = calloc(1, sizeof *s);
    if (!s) return WEFT_ENOMEM;
    s->base.store = st_;
    s->st = st;
    s->fd = -1;
    char *hex = s->hex;
    weft__hex_encode(hex, sizeof s->hex, space, 32);
    for (size_t i = 0; i < st->n_poisoned; i++)
        if (strcmp(st->poisoned[i], hex) == 0) {
            fprintf(stderr,
                    "weft-relay: file storage: space %s: refused until a restart (its unsynced "
                    "tail could not be dropped after a failed fdatasync)\n",
                    hex);
            space_free(s);
            return WEFT_EIO_STORE;
        }
    if ((size_t)snprintf(s->dir, sizeof s->dir, "%s/%s", st->root, hex) >= sizeof s->dir) {
        space_free(s); /* cannot happen: relay_store_file_new checks the root's length */
        return WEFT_EINVAL;
    }
    int rc = 0;
    struct stat sb;
    if (stat(s->dir, &sb)) {
        if (!create) {
            space_free(s);
            return WEFT_ENOTFOUND;
        }
        if (mkdir(s->dir, 0755) && errno != EEXIST) {
            rc = io_fail("mkdir", s->dir);
        } else {
            rc = fsync_dir(st->root);
        }
        if (rc) {
            space_free(s);
            return rc;
        }
    }
    /* A snapshot upload the process did not finish: never renamed into
     * place, so never acknowledged. */
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/snap.tmp", s->dir);
    if (unlink(tmp) && errno != ENOENT) io_fail("unlink", tmp);
    snprintf(tmp, sizeof tmp, "%s/trim.tmp", s->dir);
    if (unlink(tmp) && errno != ENOENT) io_fail("unlink", tmp);
    uint64_t *firsts = NULL;
    size_t n_firsts = 0, skip = 0;
    rc = trim_load(s->dir, &s->trimmed, NULL, NULL);
    if (!rc) rc = list_segments(s->dir, &firsts, &n_firsts);
    if (!rc && s->trimmed) rc = drop_trimmed(s, firsts, n_firsts, &skip);
    for (size_t i = skip; !rc && i < n_firsts; i++)
        rc = scan_segment(s, firsts[i], i + 1 == n_firsts, fn, ud);
    free(firsts);
    if (!rc && s->fd < 0) rc = seg_create(s, s->trimmed + s->n + 1);
    /* What the scan kept is what is served from now on: make it durable
     * and say so, so later damage in it is never mistaken for a torn tail. */
    if (!rc && s->segs[s->n_segs - 1].size > s->marked) {
        if (fdatasync(s->fd))
            rc = io_fail("fdatasync", s->dir);
        else
            rc = mark_write(s);
    }
    if (rc) {
        space_free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}

static int space_fail(file_space *s, int rc);

static void mark_dirty(file_space *s) {
    if (s->dirty) return;
    s->dirty = 1;
    s->dirty_next = s->st->dirty;
    s->st->dirty = s;
}

static void unmark_dirty(file_space *s) {
    if (!s->dirty) return;
    file_space **pp = &s->st->dirty;
    while (*pp != s)
        pp = &(*pp)->dirty_next;
    *pp = s->dirty_next;
    s->dirty = 0;
}

/* Holds a record appended while a sync runs (see file_space). */
static int pend_add(file_space *s, seg *cur, const uint8_t *hdr, const uint8_t *rec, size_t len) {
    uint8_t *p = weft__vec_grow(s->pend, &s->pend_cap, s->pend_len + REC_HDR + len, 1, 4096);
    if (!p) return WEFT_ENOMEM;
    s->pend = p;
    uint64_t size = cur->size;
    if (!s->pend_len) {
        size += REC_HDR; /* the mark's slot */
        s->pend_off = size;
        s->pend_first = s->trimmed + s->n + 1;
    }
    int rc = idx_push(s, (uint32_t)(s->n_segs - 1), size, (uint32_t)len);
    if (rc) return rc;
    memcpy(p + s->pend_len, hdr, REC_HDR);
    memcpy(p + s->pend_len + REC_HDR, rec, len);
    s->pend_len += REC_HDR + len;
    cur->size = size + REC_HDR + len;
    mark_dirty(s);
    return 0;
}

static int f_append(relay_space_store *s_, const uint8_t *const *recs, const size_t *lens, size_t n,
                    uint64_t *first) {
    file_space *s = (file_space *)s_;
    *first = s->trimmed + s->n + 1;
    if (s->failed) return WEFT_EIO_STORE;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > MAX_REC) return WEFT_EINVAL;
        seg *cur = &s->segs[s->n_segs - 1];
        /* Seal the active segment: synced now, so only the new one can ever
         * have an unsynced tail. Not while a sync of it is in flight (its
         * mark goes into this segment): it grows a little past the size. */
        if (cur->size > SEG_HDR && cur->size + REC_HDR + lens[i] > s->st->seg_bytes &&
            !s->syncing) {
            if (fdatasync(s->fd)) return space_fail(s, io_fail("fdatasync", s->dir));
            int rc = seg_create(s, s->trimmed + s->n + 1);
            if (rc) return rc;
            cur = &s->segs[s->n_segs - 1];
        }
        uint64_t rseq = s->trimmed + s->n + 1;
        uint8_t hdr[REC_HDR];
        weft__seg_record_put(hdr, rseq, recs[i], lens[i]);
        if (s->syncing) { /* held until the sync is done (sync_end) */
            int rc = pend_add(s, cur, hdr, recs[i], lens[i]);
            if (rc) return rc;
            continue;
        }
        struct iovec iov[2] = {{hdr, REC_HDR}, {(void *)recs[i], lens[i]}};
        ssize_t w = pwritev(s->fd, iov, 2, (off_t)cur->size);
        if (w != (ssize_t)(REC_HDR + lens[i])) {
            int rc = io_fail("write", s->dir);
            /* Take back a partial write so the file stays well formed. */
            if (ftruncate(s->fd, (off_t)cur->size)) io_fail("truncate", s->dir);
            return rc;
        }
        int rc = idx_push(s, (uint32_t)(s->n_segs - 1), cur->size, (uint32_t)lens[i]);
        if (rc) return rc;
        cur->size += REC_HDR + lens[i];
        mark_dirty(s);
    }
    return 0;
}

static int f_read(relay_space_store *s_, uint64_t after, size_t max_bytes, relay_record_fn fn,
                  void *ud) {
    file_space *s = (file_space *)s_;
    file_store *st = s->st;
    size_t bytes = 0;
    const uint64_t t = s->trimmed;
    uint64_t r = after > t ? after - t : 0; /* indexed records r.. remain */
    while (r < s->n && bytes < max_bytes) {
        if (s->pend_len && t + r + 1 >= s->pend_first) { /* held, not written yet */
            const fpos *p = &s->idx[r];
            const uint8_t *h = s->pend + (p->off - s->pend_off);
            if (weft__seg_record_check(h, REC_HDR + (size_t)p->len, t + r + 1, p->len))
                return WEFT_EMALFORMED; /* cannot happen: encoded here */
            int rc = fn(ud, t + r + 1, h + REC_HDR, p->len);
            if (rc) return rc;
            bytes += p->len;
            r++;
            continue;
        }
        /* A run of records contiguous in one segment, read with one pread. */
        const fpos *p0 = &s->idx[r];
        uint64_t end = r + 1;
        size_t span = REC_HDR + p0->len;
        while (end < s->n && s->idx[end].seg == p0->seg && s->idx[end].off == p0->off + span &&
               bytes + span < max_bytes) {
            span += REC_HDR + s->idx[end].len;
            end++;
        }
        int rc = buf_reserve(st, span);
        if (rc) return rc;
        int fd = s->fd, own = 0;
        char path[PATH_MAX + 32];
        seg_path(path, sizeof path, s, s->segs[p0->seg].first);
        if (p0->seg != s->n_segs - 1) { /* sealed segments are opened per read */
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) return io_fail("open", path);
            own = 1;
        }
        ssize_t got = pread(fd, st->buf, span, (off_t)p0->off);
        if (own) close(fd);
        if (got != (ssize_t)span) return io_fail("read", path);
        size_t o = 0;
        for (uint64_t k = r; k < end; k++) {
            const uint8_t *h = st->buf + o;
            uint32_t len = s->idx[k].len;
            if (weft__seg_record_check(h, REC_HDR + (size_t)len, t + k + 1, len)) {
                fprintf(stderr, "weft-relay: file storage: %s: record %llu fails its CRC\n", path,
                        (unsigned long long)(t + k + 1));
                return WEFT_EMALFORMED;
            }
            rc = fn(ud, t + k + 1, h + REC_HDR, len);
            if (rc) return rc;
            o += REC_HDR + len;
            bytes += len;
        }
        r = end;
    }
    return 0;
}

static uint64_t f_head(const relay_space_store *s) {
    const file_space *f = (const file_space *)s;
    return f->trimmed + f->n;
}

/* After a failed fdatasync: the space takes nothing more, and its active
 * segment is cut back to its last sync mark (everything before it was
 * synced by a good fdatasync; what came after may be gone from the disk
 * while the page cache still shows it, and no later fdatasync would write
 * it again), so that a reopen serves exactly what the disk holds. When
 * even that fails, the space is refused until the process restarts.
 * Returns rc. */
static int space_fail(file_space *s, int rc) {
    if (s->failed) return rc;
    s->failed = 1;
    unmark_dirty(s);
    fprintf(stderr,
            "weft-relay: file storage: %s: fdatasync failed: dropping the unsynced tail, the "
            "space reopens from the disk\n",
            s->dir);
    if (s->fd >= 0 && (ftruncate(s->fd, (off_t)s->marked) || fdatasync(s->fd))) {
        io_fail("truncate", s->dir);
        file_store *st = s->st;
        char(*p)[WEFT__HEX_LEN(32)] =
            realloc(st->poisoned, (st->n_poisoned + 1) * sizeof *st->poisoned);
        if (p) {
            st->poisoned = p;
            memcpy(p[st->n_poisoned++], s->hex, sizeof s->hex);
        }
    }
    return rc;
}

static int f_sync_begin(relay_space_store *s_, relay_sync_job *job) {
    file_space *s = (file_space *)s_;
    file_store *st = s->st;
    if (s->failed) return WEFT_EIO_STORE;
    if (!s->dirty || s->syncing) return 1;
    unmark_dirty(s);
    s->syncing = 1;
    *job = (relay_sync_job){.s = s_,
                            .upto = s->trimmed + s->n,
                            .fd = s->fd,
                            .end = s->segs[s->n_segs - 1].size,
                            .marked = s->marked};
    if (st->fail_at && ++st->syncs == st->fail_at) job->fail = 1;
    if (st->delay_ms && strcmp(st->slow_space, s->hex) == 0) job->delay_ms = st->delay_ms;
    return 0;
}

static void f_sync_run(relay_sync_job *job) {
    if (job->delay_ms) {
        struct timespec ts = {job->delay_ms / 1000, (long)(job->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (job->fail) {
        /* The test hook: as Linux after a writeback error, the bytes
         * written since the last good sync are gone from the disk. */
        if (ftruncate(job->fd, (off_t)job->marked)) (void)0;
        errno = EIO;
    } else if (!fdatasync(job->fd)) {
        job->rc = 0;
        return;
    }
    job->rc = WEFT_EIO_STORE;
}

static int f_sync_end(relay_space_store *s_, relay_sync_job *job) {
    file_space *s = (file_space *)s_;
    s->syncing = 0;
    if (job->rc) {
        errno = EIO;
        return space_fail(s, io_fail("fdatasync", s->dir));
    }
    if (s->failed) return WEFT_EIO_STORE;
    if (!s->pend_len) {
        /* A mark after the synced bytes (one that fails, logged, only says
         * less). */
        if (s->segs[s->n_segs - 1].size == job->end) mark_write(s);
        return 0;
    }
    /* The mark into its slot, then what was held meanwhile after it. A
     * failed write here leaves a hole before later records: the space
     * fails rather than let a scan take it for damage. */
    uint8_t hdr[REC_HDR];
    weft__seg_mark_put(hdr, job->end);
    int ok = pwrite(s->fd, hdr, REC_HDR, (off_t)job->end) == REC_HDR &&
             pwrite(s->fd, s->pend, s->pend_len, (off_t)s->pend_off) == (ssize_t)s->pend_len;
    if (!ok) return space_fail(s, io_fail("write", s->dir));
    s->marked = job->end + REC_HDR;
    s->pend_len = 0;
    return 0;
}

static int f_flush(relay_store *st_) {
    file_store *st = (file_store *)st_;
    while (st->dirty) {
        relay_sync_job job;
        relay_space_store *s = &st->dirty->base;
        int rc = f_sync_begin(s, &job);
        if (rc < 0) return rc;
        if (rc) continue;
        f_sync_run(&job);
        rc = f_sync_end(s, &job);
        if (rc) return rc;
    }
    return 0;
}

/* ---- snapshots ---- */

static void snap_path(char *dst, size_t cap, const file_space *s, uint64_t base) {
    char name[WEFT__SNAP_NAME_CAP];
    weft__snap_name(name, sizeof name, base);
    snprintf(dst, cap, "%s/%s", s->dir, name);
}

static int cmp_u64_desc(const void *a, const void *b) {
    return -cmp_u64(a, b);
}

/* The bases of the stored snapshots, newest first. */
static int list_snapshots(const char *dir, uint64_t **out, size_t *n_out) {
    return list_numbered(dir, weft__snap_name_parse, cmp_u64_desc, out, n_out);
}

static int write_all(int fd, const uint8_t *p, size_t n, const char *path) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return io_fail("write", path);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int f_snapshot_put(relay_space_store *s_, uint64_t base, const uint8_t *rec, size_t len) {
    file_space *s = (file_space *)s_;
    if (s->failed) return WEFT_EIO_STORE;
    uint64_t *bases = NULL;
    size_t n = 0;
    int rc = list_snapshots(s->dir, &bases, &n);
    if (rc) return rc;
    if (n && base < bases[0]) {
        free(bases);
        return WEFT_ESTATE;
    }
    char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/snap.tmp", s->dir);
    snap_path(path, sizeof path, s, base);
    uint8_t hdr[WEFT__SNAP_HDR];
    weft__snap_header(hdr, base, rec, len);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) rc = io_fail("open", tmp);
    size_t half = len / 2;
    if (!rc) rc = write_all(fd, hdr, sizeof hdr, tmp);
    if (!rc) rc = write_all(fd, rec, half, tmp);
    if (!rc && s->st->snap_delay_ms) {
        /* Test hook: half a snapshot is on disk under its temporary name. */
        struct timespec ts = {s->st->snap_delay_ms / 1000,
                              (long)(s->st->snap_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!rc) rc = write_all(fd, rec + half, len - half, tmp);
    if (!rc && fdatasync(fd)) rc = io_fail("fdatasync", tmp);
    if (fd >= 0) close(fd);
    if (!rc && rename(tmp, path)) rc = io_fail("rename", tmp);
    if (!rc) rc = fsync_dir(s->dir);
    if (rc) {
        unlink(tmp);
        free(bases);
        return rc;
    }
    /* Only now may older ones go: the new one is durable. A crash before
     * the unlinks leaves one too many, which the next upload removes. */
    for (size_t i = 0, kept = 1; i < n; i++) {
        if (bases[i] == base) continue;
        if (kept++ < STORAGE_SNAPSHOTS_KEPT) continue;
        snap_path(path, sizeof path, s, bases[i]);
        if (unlink(path) && errno != ENOENT) io_fail("unlink", path);
    }
    free(bases);
    return 0;
}

static int f_snapshot_read(relay_space_store *s_, relay_record_fn fn, void *ud, size_t *damaged) {
    file_space *s = (file_space *)s_;
    uint64_t *bases = NULL;
    size_t n = 0;
    int rc = list_snapshots(s->dir, &bases, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        char path[PATH_MAX + 32];
        snap_path(path, sizeof path, s, bases[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue; /* pruned meanwhile */
        struct stat sb;
        uint8_t *buf = NULL;
        size_t got = 0;
        if (fstat(fd, &sb) == 0 && sb.st_size >= 0 &&
            (uint64_t)sb.st_size <= WEFT__SNAP_HDR + (uint64_t)UINT32_MAX)
            buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
        while (buf && got < (size_t)sb.st_size) {
            ssize_t r = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        close(fd);
        uint64_t base;
        const uint8_t *rec;
        size_t len;
        if (!buf || got != (size_t)sb.st_size || weft__snap_parse(&base, &rec, &len, buf, got) ||
            base != bases[i]) {
            if (!buf) {
                rc = WEFT_ENOMEM;
            } else {
                fprintf(stderr, "weft-relay: file storage: %s: damaged snapshot, skipped\n", path);
                (*damaged)++;
            }
            free(buf);
            continue;
        }
        rc = fn(ud, base, rec, len);
        free(buf);
        if (rc) break;
    }
    free(bases);
    return rc;
}

static int f_delete(relay_space_store *s_) {
    file_space *s = (file_space *)s_;
    unmark_dirty(s);
    int rc = 0;
    for (size_t i = 0; i < s->n_segs; i++) {
        char path[PATH_MAX + 32];
        seg_path(path, sizeof path, s, s->segs[i].first);
        if (unlink(path) && errno != ENOENT) rc = io_fail("unlink", path);
    }
    uint64_t *snaps = NULL;
    size_t n_snaps = 0;
    if (!rc) rc = list_snapshots(s->dir, &snaps, &n_snaps);
    for (size_t i = 0; !rc && i < n_snaps; i++) {
        char path[PATH_MAX + 32];
        snap_path(path, sizeof path, s, snaps[i]);
        if (unlink(path) && errno != ENOENT) rc = io_fail("unlink", path);
    }
    free(snaps);
    char trim[PATH_MAX + 32];
    snprintf(trim, sizeof trim, "%s/trim", s->dir);
    if (!rc && unlink(trim) && errno != ENOENT) rc = io_fail("unlink", trim);
    if (!rc && rmdir(s->dir)) rc = io_fail("rmdir", s->dir);
    if (!rc) rc = fsync_dir(s->st->root);
    space_free(s);
    return rc;
}

static void f_close_space(relay_space_store *s_) {
    file_space *s = (file_space *)s_;
    if (!s) return;
    if (s->dirty && !s->failed && fdatasync(s->fd)) space_fail(s, io_fail("fdatasync", s->dir));
    unmark_dirty(s);
    space_free(s);
}

static void f_close(relay_store *st_) {
    file_store *st = (file_store *)st_;
    if (!st) return;
    free(st->buf);
    free(st->poisoned);
    free(st);
}

static const relay_store_ops file_ops = {
    .name = "file",
    .open_space = f_open,
    .append = f_append,
    .read = f_read,
    .head = f_head,
    .flush = f_flush,
    .sync_begin = f_sync_begin,
    .sync_run = f_sync_run,
    .sync_end = f_sync_end,
    .delete_space = f_delete,
    .snapshot_put = f_snapshot_put,
    .snapshot_read = f_snapshot_read,
    .trim_read = f_trim_read,
    .trim_point = f_trim_point,
    .trim = f_trim,
    .close_space = f_close_space,
    .close = f_close,
};

int relay_store_file_new(relay_store **out, const char *root, size_t segment_bytes) {
    if (strlen(root) + 80 >= PATH_MAX) return WEFT_EINVAL;
    if (mkdir(root, 0755) && errno != EEXIST) return io_fail("mkdir", root);
    file_store *st = calloc(1, sizeof *st);
    if (!st) return WEFT_ENOMEM;
    st->base.ops = &file_ops;
    snprintf(st->root, sizeof st->root, "%s", root);
    st->seg_bytes = segment_bytes ? segment_bytes : SEG_DEFAULT;
    const char *v = getenv("WEFT_RELAY_TEST_FSYNC_FAIL");
    if (v) st->fail_at = strtoull(v, NULL, 10);
    v = getenv("WEFT_RELAY_TEST_FSYNC_DELAY_MS");
    if (v) st->delay_ms = (unsigned)strtoul(v, NULL, 10);
    v = getenv("WEFT_RELAY_TEST_SNAPSHOT_DELAY_MS");
    if (v) st->snap_delay_ms = (unsigned)strtoul(v, NULL, 10);
    v = getenv("WEFT_RELAY_TEST_TRIM_DELAY_MS");
    if (v) st->trim_delay_ms = (unsigned)strtoul(v, NULL, 10);
    v = getenv("WEFT_RELAY_TEST_SLOW_SPACE");
    if (v) snprintf(st->slow_space, sizeof st->slow_space, "%s", v);
    *out = &st->base;
    return 0;
}
