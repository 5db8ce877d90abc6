/*
 * The blob store (blobs.h): chunk files under <dir>/<space>/<blob>/, each
 * written to a temporary name, fsync'd and renamed into place; a lease file
 * per blob whose mtime the members' replicas renew; the HMAC secret of
 * signed URLs in <dir>/.secret.
 */
#include "blobs.h"
#include "hex.h"

#include "weft/auth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX ".tmp."

struct blob_store {
    char *dir;
    uint8_t secret[crypto_auth_hmacsha256_KEYBYTES];
    uint64_t tmp_seq; /* makes temporary names unique within the process */
};

/* ---- paths ---- */

static void space_dir(const blob_store *bs, const uint8_t space[32], char *out, size_t cap) {
    char sh[65];
    weft__hex_encode(sh, sizeof sh, space, 32);
    snprintf(out, cap, "%s/%s", bs->dir, sh);
}

static void blob_dir(const blob_store *bs, const uint8_t space[32], const uint8_t blob[16],
                     char *out, size_t cap) {
    char sh[65], bh[33];
    weft__hex_encode(sh, sizeof sh, space, 32);
    weft__hex_encode(bh, sizeof bh, blob, BLOB_ID_BYTES);
    snprintf(out, cap, "%s/%s/%s", bs->dir, sh, bh);
}

static int fsync_path(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int mkdir_p1(const char *path) {
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* ---- open, close ---- */

/* Reads the URL secret, or creates it (O_EXCL: of relays starting together
 * on a shared directory one writes it, the others read it). */
static int load_secret(blob_store *bs) {
    char path[4096];
    snprintf(path, sizeof path, "%s/.secret", bs->dir);
    for (int tries = 0; tries < 50; tries++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, bs->secret, sizeof bs->secret);
            close(fd);
            if (n == (ssize_t)sizeof bs->secret) return 0;
            /* Being written by another relay: wait for its rename. */
        } else {
            uint8_t key[sizeof bs->secret];
            randombytes_buf(key, sizeof key);
            char tmp[4200];
            snprintf(tmp, sizeof tmp, "%s/" TMP_PREFIX "secret.%ld", bs->dir, (long)getpid());
            int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (w < 0) return -1;
            int ok = write(w, key, sizeof key) == (ssize_t)sizeof key && fsync(w) == 0;
            close(w);
            /* link() fails if another relay put its secret there first. */
            if (ok && link(tmp, path) == 0) {
                unlink(tmp);
                fsync_path(bs->dir, O_RDONLY | O_DIRECTORY);
                memcpy(bs->secret, key, sizeof key);
                sodium_memzero(key, sizeof key);
                return 0;
            }
            unlink(tmp);
            sodium_memzero(key, sizeof key);
            if (!ok || errno != EEXIST) return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    errno = EIO;
    return -1;
}

int blobs_open(blob_store **out, const char *dir) {
    *out = NULL;
    blob_store *bs = calloc(1, sizeof *bs);
    if (!bs || !(bs->dir = strdup(dir))) {
        free(bs);
        errno = ENOMEM;
        return -1;
    }
    if (mkdir_p1(dir) || load_secret(bs)) {
        int e = errno;
        blobs_close(bs);
        errno = e;
        return -1;
    }
    *out = bs;
    return 0;
}

void blobs_close(blob_store *bs) {
    if (!bs) return;
    sodium_memzero(bs->secret, sizeof bs->secret);
    free(bs->dir);
    free(bs);
}

/* ---- chunks ---- */

static void touch_lease(const char *bdir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/lease", bdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    futimens(fd, NULL); /* now */
    close(fd);
}

uint64_t blobs_chunk_size(blob_store *bs, const uint8_t space[32],
                          const uint8_t blob[BLOB_ID_BYTES], uint32_t idx) {
    char bdir[4096], path[4200];
    blob_dir(bs, space, blob, bdir, sizeof bdir);
    snprintf(path, sizeof path, "%s/c%u", bdir, idx);
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

int blobs_put_chunk(blob_store *bs, const uint8_t space[32], const uint8_t blob[BLOB_ID_BYTES],
                    uint32_t idx, const uint8_t *data, size_t len, int64_t *delta) {
    *delta = 0;
    char sdir[4096], bdir[4096], path[4200], tmp[4200];
    space_dir(bs, space, sdir, sizeof sdir);
    blob_dir(bs, space, blob, bdir, sizeof bdir);
    if (mkdir_p1(sdir) || mkdir_p1(bdir)) return -1;
    uint64_t old = blobs_chunk_size(bs, space, blob, idx);
    snprintf(path, sizeof path, "%s/c%u", bdir, idx);
    snprintf(tmp, sizeof tmp, "%s/" TMP_PREFIX "%ld.%llu", bdir, (long)getpid(),
             (unsigned long long)++bs->tmp_seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    int ok = off == len && fsync(fd) == 0;
    if (close(fd)) ok = 0;
    /* Renamed only once whole and durable; the directory is synced so the
     * new name survives a crash too. */
    if (!ok || rename(tmp, path) || fsync_path(bdir, O_RDONLY | O_DIRECTORY)) {
        unlink(tmp);
        return -1;
    }
    fsync_path(sdir, O_RDONLY | O_DIRECTORY);
    touch_lease(bdir);
    *delta = (int64_t)len - (int64_t)old;
    return 0;
}

/* Chunk index of a file name "c<decimal>", or -1. */
static int64_t chunk_index(const char *name) {
    uint32_t i;
    if (name[0] != 'c' || weft__blob_chunk_parse(&i, name + 1, strlen(name + 1))) return -1;
    return i;
}

size_t blobs_list(blob_store *bs, const uint8_t space[32], const uint8_t blob[BLOB_ID_BYTES],
                  void (*fn)(void *ud, uint32_t idx, uint64_t size), void *ud) {
    char bdir[4096], path[4400];
    blob_dir(bs, space, blob, bdir, sizeof bdir);
    DIR *d = opendir(bdir);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t i = chunk_index(e->d_name);
        if (i < 0) continue;
        snprintf(path, sizeof path, "%s/%s", bdir, e->d_name);
        struct stat sb;
        if (stat(path, &sb)) continue;
        n++;
        if (fn) fn(ud, (uint32_t)i, (uint64_t)sb.st_size);
    }
    closedir(d);
    return n;
}

int blobs_renew(blob_store *bs, const uint8_t space[32], const uint8_t blob[BLOB_ID_BYTES]) {
    char bdir[4096];
    blob_dir(bs, space, blob, bdir, sizeof bdir);
    struct stat sb;
    if (stat(bdir, &sb) || !S_ISDIR(sb.st_mode)) return -1;
    touch_lease(bdir);
    return 0;
}

/* Bytes of the chunks in one blob directory. */
static uint64_t dir_chunk_bytes(const char *bdir) {
    DIR *d = opendir(bdir);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d))) {
        if (chunk_index(e->d_name) < 0) continue;
        snprintf(path, sizeof path, "%s/%s", bdir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0) total += (uint64_t)sb.st_size;
    }
    closedir(d);
    return total;
}

uint64_t blobs_space_bytes(blob_store *bs, const uint8_t space[32]) {
    char sdir[4096], bdir[4400];
    space_dir(bs, space, sdir, sizeof sdir);
    DIR *d = opendir(sdir);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(bdir, sizeof bdir, "%s/%s", sdir, e->d_name);
        total += dir_chunk_bytes(bdir);
    }
    closedir(d);
    return total;
}

/* Removes a blob directory and what is in it (one level: chunks, lease,
 * temporary files). */
static void remove_blob_dir(const char *bdir) {
    DIR *d = opendir(bdir);
    if (d) {
        struct dirent *e;
        char path[4400];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", bdir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(bdir);
}

void blobs_delete_space(blob_store *bs, const uint8_t space[32]) {
    char sdir[4096], bdir[4400];
    space_dir(bs, space, sdir, sizeof sdir);
    DIR *d = opendir(sdir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(bdir, sizeof bdir, "%s/%s", sdir, e->d_name);
        remove_blob_dir(bdir);
    }
    closedir(d);
    rmdir(sdir);
}

int blobs_read_chunk(blob_store *bs, const uint8_t space[32], const uint8_t blob[BLOB_ID_BYTES],
                     uint32_t idx, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    char bdir[4096], path[4200];
    blob_dir(bs, space, blob, bdir, sizeof bdir);
    snprintf(path, sizeof path, "%s/c%u", bdir, idx);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat sb;
    uint8_t *p = NULL;
    size_t n = 0;
    if (fstat(fd, &sb) == 0 && (p = malloc((size_t)sb.st_size + 1))) {
        while (n < (size_t)sb.st_size) {
            ssize_t k = read(fd, p + n, (size_t)sb.st_size - n);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            n += (size_t)k;
        }
    }
    close(fd);
    if (!p || n != (size_t)sb.st_size) {
        free(p);
        return -1;
    }
    *data = p;
    *len = n;
    return 0;
}

/* ---- signed URLs ---- */

static void url_mac(const blob_store *bs, const uint8_t space[32],
                    const uint8_t blob[BLOB_ID_BYTES], uint64_t exp,
                    uint8_t mac[crypto_auth_hmacsha256_BYTES]) {
    uint8_t msg[32 + BLOB_ID_BYTES + 8];
    memcpy(msg, space, 32);
    memcpy(msg + 32, blob, BLOB_ID_BYTES);
    for (int i = 0; i < 8; i++)
        msg[32 + BLOB_ID_BYTES + i] = (uint8_t)(exp >> (8 * i));
    crypto_auth_hmacsha256(mac, msg, sizeof msg, bs->secret);
}

void blobs_url_sign(const blob_store *bs, const uint8_t space[32],
                    const uint8_t blob[BLOB_ID_BYTES], uint64_t exp, char sig[BLOB_SIG_CHARS + 1]) {
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    url_mac(bs, space, blob, exp, mac);
    size_t n = 0;
    weft_base64url_encode(sig, BLOB_SIG_CHARS + 1, &n, mac, sizeof mac);
    sig[n] = 0;
}

int blobs_url_verify(const blob_store *bs, const uint8_t space[32],
                     const uint8_t blob[BLOB_ID_BYTES], uint64_t exp, const char *sig) {
    uint8_t mac[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES + 2];
    size_t n = 0;
    if (strlen(sig) != BLOB_SIG_CHARS ||
        weft_base64url_decode(got, sizeof got, &n, sig, BLOB_SIG_CHARS) || n != sizeof mac)
        return -1;
    url_mac(bs, space, blob, exp, mac);
    return sodium_memcmp(mac, got, sizeof mac) == 0 ? 0 : -1;
}

/* ---- deletion without reading ---- */

size_t blobs_sweep(blob_store *bs, uint64_t now_s, uint64_t grace_s, size_t max_blobs,
                   void (*fn)(void *ud, const uint8_t space[32], uint64_t bytes), void *ud) {
    DIR *top = opendir(bs->dir);
    if (!top) return 0;
    size_t deleted = 0;
    struct dirent *se;
    char sdir[4400], bdir[4700], path[5000];
    while (deleted < max_blobs && (se = readdir(top))) {
        uint8_t space[32];
        if (strlen(se->d_name) != 64 || weft__hex_decode(space, 32, NULL, se->d_name, 64)) continue;
        snprintf(sdir, sizeof sdir, "%s/%s", bs->dir, se->d_name);
        DIR *sd = opendir(sdir);
        if (!sd) continue;
        struct dirent *be;
        while (deleted < max_blobs && (be = readdir(sd))) {
            uint8_t blob[BLOB_ID_BYTES];
            if (weft__blob_id_parse(blob, be->d_name, strlen(be->d_name))) continue;
            snprintf(bdir, sizeof bdir, "%s/%s", sdir, be->d_name);
            snprintf(path, sizeof path, "%s/lease", bdir);
            struct stat sb;
            /* No lease file: a blob whose first chunk is being written (the
             * lease follows its rename); its directory's mtime stands in. */
            if (stat(path, &sb) && stat(bdir, &sb)) continue;
            if ((uint64_t)sb.st_mtime + grace_s > now_s) continue;
            uint64_t bytes = dir_chunk_bytes(bdir);
            remove_blob_dir(bdir);
            deleted++;
            if (fn) fn(ud, space, bytes);
        }
        closedir(sd);
    }
    closedir(top);
    return deleted;
}
