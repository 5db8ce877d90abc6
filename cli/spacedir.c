/*
 * Replica directories (see spacedir.h). space.json is written once, through
 * a temporary file and rename, so a crash never leaves half a key file; the
 * change file is append-only with an fsync per append, so a change the CLI
 * reports as written survives a crash.
 */
#define _POSIX_C_SOURCE 200809L
#include "spacedir.h"

#include "json.h"
#include "vec.h"

#include "weft/sodium.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SPACE_FORMAT "weft-space-v1"

static void wipe(void *p, size_t n) {
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

static int errf(char *err, size_t cap, const char *fmt, const char *a, const char *b) {
    snprintf(err, cap, fmt, a, b);
    return -1;
}

int read_file(const char *path, uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *p = malloc(cap);
    while (p) {
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        uint8_t *g = weft__vec_grow(p, &cap, cap + 1, 1, 0);
        if (!g) {
            free(p);
            p = NULL;
            break;
        }
        p = g;
    }
    int bad = ferror(f) || !p;
    fclose(f);
    if (bad) {
        free(p);
        errno = errno ? errno : ENOMEM;
        return -1;
    }
    *data = p;
    *len = n;
    return 0;
}

int path_join(char *dst, size_t cap, const char *dir, const char *name) {
    int n = snprintf(dst, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static void put_b64(FILE *f, const char *name, const uint8_t *b, size_t n, int last) {
    char s[2048];
    size_t l = 0;
    weft_base64url_encode(s, sizeof s, &l, b, n);
    fprintf(f, "  \"%s\": \"%.*s\"%s\n", name, (int)l, s, last ? "" : ",");
}

static int write_space_json(const spacedir *sd, char *err, size_t cap) {
    char path[1100], tmp[1100];
    if (path_join(path, sizeof path, sd->path, "space.json") ||
        path_join(tmp, sizeof tmp, sd->path, "space.json.tmp"))
        return errf(err, cap, "path too long: %s%s", sd->path, "");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) return errf(err, cap, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "{\n  \"format\": \"%s\",\n", SPACE_FORMAT);
    put_b64(f, "space", sd->space, 32, 0);
    put_b64(f, "content_key", sd->content_key, 32, 0);
    put_b64(f, "author_public", sd->author_pk, 32, 0);
    put_b64(f, "author_secret", sd->author_sk, 64, 0);
    if (sd->has_owner) put_b64(f, "owner_secret", sd->owner_sk, 64, 0);
    if (sd->n_old_keys) put_b64(f, "old_keys", sd->old_keys[0], 32 * sd->n_old_keys, 0);
    if (sd->has_restored_from) put_b64(f, "restored_from", sd->restored_from, 32, 0);
    if (sd->key_epoch) fprintf(f, "  \"key_epoch\": %llu,\n", (unsigned long long)sd->key_epoch);
    fputs("  \"relay\": ", f);
    json_print_string(f, sd->relay, strlen(sd->relay));
    fputs(",\n", f);
    put_b64(f, "token", sd->token, sd->token_len, 1);
    fputs("}\n", f);
    int bad = fflush(f) || fsync(fileno(f));
    bad |= fclose(f);
    if (bad || rename(tmp, path))
        return errf(err, cap, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int get_b64(const uint8_t *map, size_t len, const char *key, uint8_t *dst, size_t cap,
                   size_t *out, int required) {
    const uint8_t *v;
    size_t vl, n;
    weft_value s;
    if (json_map_get(map, len, key, &v, &vl)) return required ? -1 : 1;
    if (weft_value_read(&s, NULL, v, vl) || s.type != WEFT_TYPE_STRING) return -1;
    if (weft_base64url_decode(dst, cap, &n, (const char *)s.ptr, s.len)) return -1;
    if (out)
        *out = n;
    else if (n != cap)
        return -1;
    return 0;
}

static int setup_crypto(spacedir *sd, char *err, size_t cap) {
    if (weft_sodium_backend(&sd->be))
        return errf(err, cap, "%s%s", "libsodium failed to start", "");
    if (weft_suite_v1_init(&sd->crypto, &sd->suite, &sd->be, sd->content_key, sd->author_sk))
        return errf(err, cap, "%s%s", "cannot set up encryption", "");
    for (size_t i = 0; i < sd->n_old_keys; i++)
        if (weft_suite_v1_add_key(&sd->suite, sd->old_keys[i]))
            return errf(err, cap, "%s%s", "too many key epochs", "");
    uint8_t hash_key[16]; /* keys the replica's tables against chosen collisions */
    if (sd->be.random(sd->be.ctx, hash_key, sizeof hash_key))
        return errf(err, cap, "%s%s", "no randomness", "");
    weft_replica_config cfg = {.space = sd->space,
                               .author = sd->author_pk,
                               .crypto = &sd->crypto,
                               .keep_records = 1,
                               .hash_key = hash_key};
    if (weft_replica_new(&sd->replica, &cfg)) return errf(err, cap, "%s%s", "out of memory", "");
    if (weft_members_new(&sd->members, sd->space, NULL))
        return errf(err, cap, "%s%s", "out of memory", "");
    return 0;
}

/* The content keys from the key epochs this replica's key opens, oldest
 * epoch first: each epoch's key seals from then on, and the key before it
 * (sealed under it) still opens. An epoch sealed without this key (after
 * this replica's removal) gives nothing: what came after stays closed. */
static int derive_keys(spacedir *sd) {
    size_t n = weft_members_records(sd->members);
    uint64_t done = 0;
    for (;;) {
        /* The next counting epoch above `done`, smallest number first. */
        const uint8_t *best = NULL;
        size_t best_len = 0;
        uint64_t best_epoch = 0;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *rec;
            size_t len;
            int st;
            weft_member_record r;
            if (weft_members_record(sd->members, i, &rec, &len, &st) || st ||
                weft_member_record_decode(&r, rec, len) || r.kind != WEFT_RECORD_EPOCH ||
                r.epoch <= done || (best && r.epoch >= best_epoch))
                continue;
            best = rec;
            best_len = len;
            best_epoch = r.epoch;
        }
        if (!best) return 0;
        done = best_epoch;
        uint8_t key[32], prev[32];
        if (weft_epoch_open(&sd->be, best, best_len, sd->author_sk, key)) continue;
        int rc = weft_epoch_prev_key(&sd->be, best, best_len, key, prev);
        if (!rc) rc = weft_suite_v1_add_key(&sd->suite, prev);
        if (!rc) rc = weft_suite_v1_rekey(&sd->suite, key);
        if (!rc && best_epoch > sd->key_epoch) sd->key_epoch = best_epoch;
        wipe(key, sizeof key);
        wipe(prev, sizeof prev);
        if (rc) return rc;
    }
}

static int load_members(spacedir *sd, char *err, size_t err_cap) {
    char file[1100];
    if (path_join(file, sizeof file, sd->path, "members.weft"))
        return errf(err, err_cap, "path too long: %s%s", sd->path, "");
    uint8_t *recs;
    size_t len;
    if (read_file(file, &recs, &len)) {
        if (errno == ENOENT) return 0;
        return errf(err, err_cap, "cannot read %s: %s", file, strerror(errno));
    }
    /* Records were checked before they were kept; one that does not
     * decode ends the file (a torn append). */
    for (size_t off = 0; off < len;) {
        weft_member_record r;
        size_t rl;
        if (weft_member_record_decode_prefix(&r, recs + off, len - off, &rl)) break;
        int rc = weft_members_add(sd->members, &sd->be, recs + off, rl, NULL);
        if (rc == WEFT_ENOMEM) {
            free(recs);
            return errf(err, err_cap, "%s%s", "out of memory", "");
        }
        off += rl;
    }
    free(recs);
    if (derive_keys(sd)) return errf(err, err_cap, "%s%s", "too many key epochs", "");
    return 0;
}

int spacedir_take_members(spacedir *sd, const uint8_t *recs, size_t len, int admit, size_t *added,
                          char *err, size_t err_cap) {
    if (added) *added = 0;
    char file[1100];
    if (path_join(file, sizeof file, sd->path, "members.weft"))
        return errf(err, err_cap, "path too long: %s%s", sd->path, "");
    int fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) return errf(err, err_cap, "cannot open %s: %s", file, strerror(errno));
    int out = 0;
    for (size_t off = 0; off < len && !out;) {
        weft_member_record r;
        size_t rl;
        int rc = weft_member_record_decode_prefix(&r, recs + off, len - off, &rl);
        if (rc) {
            out = rc;
            break;
        }
        uint8_t hash[32];
        weft_blake2b(hash, 32, recs + off, rl);
        int held = weft_members_status(sd->members, hash) != WEFT_ENOTFOUND;
        if (!held) {
            rc = admit ? weft_members_admit(sd->members, &sd->be, recs + off, rl)
                       : weft_members_add(sd->members, &sd->be, recs + off, rl, NULL);
            if (rc) {
                out = rc;
                break;
            }
            if (write(fd, recs + off, rl) != (ssize_t)rl) {
                errf(err, err_cap, "cannot write %s: %s", file, strerror(errno));
                out = 1;
                break;
            }
            if (added) (*added)++;
        }
        off += rl;
    }
    if (fsync(fd) && !out) {
        errf(err, err_cap, "cannot write %s: %s", file, strerror(errno));
        out = 1;
    }
    close(fd);
    if (!out && derive_keys(sd)) {
        errf(err, err_cap, "%s%s", "too many key epochs", "");
        out = 1;
    }
    return out;
}

/* Whether this replica signed the record (issuer after version, kind and
 * space). */
static int signed_here(const spacedir *sd, const uint8_t *rec) {
    const uint8_t *issuer = rec + 2 + 32;
    return !memcmp(issuer, sd->author_pk, 32) ||
           (sd->has_owner && !memcmp(issuer, sd->space, 32)) ||
           (sd->has_restored_from && !memcmp(issuer, sd->restored_from, 32));
}

/* The order a relay can admit records in: who may sign a record depends
 * on records of earlier ranks (owner grants make admins, invites come
 * before their claims, epochs need their members' grants and removals). */
static int push_rank(const spacedir *sd, const uint8_t *rec, size_t len) {
    weft_member_record r;
    if (weft_member_record_decode(&r, rec, len)) return 5;
    if (r.kind == WEFT_RECORD_GRANT)
        return !memcmp(r.issuer, sd->space, 32) ? 0 : (r.flags & WEFT_GRANT_INVITE) ? 1 : 2;
    return r.kind == WEFT_RECORD_REVOKE ? 3 : 4;
}

int spacedir_member_records(const spacedir *sd, int own, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    size_t n = weft_members_records(sd->members), total = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *rec;
        size_t rl;
        weft_members_record(sd->members, i, &rec, &rl, NULL);
        if (!own || signed_here(sd, rec)) total += rl;
    }
    if (!total) return 0;
    uint8_t *p = malloc(total);
    if (!p) return WEFT_ENOMEM;
    size_t o = 0;
    for (int rank = 0; rank <= 5; rank++) {
        /* Epochs also by number: each names the previous key. */
        uint64_t from = 0;
        for (;;) {
            uint64_t next = UINT64_MAX;
            for (size_t i = 0; i < n; i++) {
                const uint8_t *rec;
                size_t rl;
                weft_members_record(sd->members, i, &rec, &rl, NULL);
                if ((own && !signed_here(sd, rec)) || push_rank(sd, rec, rl) != rank) continue;
                weft_member_record r;
                uint64_t e = rank == 4 && !weft_member_record_decode(&r, rec, rl) ? r.epoch : 0;
                if (e == from) {
                    memcpy(p + o, rec, rl);
                    o += rl;
                } else if (e > from && e < next) {
                    next = e;
                }
            }
            if (next == UINT64_MAX) break;
            from = next;
        }
    }
    *out = p;
    *len = o;
    return 0;
}

int spacedir_create(spacedir *sd, const char *path, const uint8_t *space,
                    const uint8_t *content_key, const uint8_t *owner_sk, const uint8_t *token,
                    size_t token_len, const char *relay, char *err, size_t err_cap) {
    memset(sd, 0, sizeof *sd);
    if (strlen(path) >= sizeof sd->path - 32)
        return errf(err, err_cap, "path too long: %s%s", path, "");
    if (relay && strlen(relay) >= sizeof sd->relay)
        return errf(err, err_cap, "relay URL too long: %.100s%s", relay, "...");
    snprintf(sd->path, sizeof sd->path, "%s", path); /* fits: checked above */
    snprintf(sd->relay, sizeof sd->relay, "%s", relay ? relay : "");
    if (mkdir(path, 0700) && errno != EEXIST)
        return errf(err, err_cap, "cannot create %s: %s", path, strerror(errno));
    char file[1100];
    if (path_join(file, sizeof file, path, "space.json"))
        return errf(err, err_cap, "path too long: %s%s", path, "");
    if (access(file, F_OK) == 0)
        return errf(err, err_cap, "%s already holds a space (%s)", path, file);
    if (weft_sodium_backend(&sd->be)) return errf(err, err_cap, "%s%s", "libsodium failed", "");
    memcpy(sd->space, space, 32);
    memcpy(sd->content_key, content_key, 32);
    if (owner_sk) {
        memcpy(sd->owner_sk, owner_sk, 64);
        sd->has_owner = 1;
    }
    if (token_len > sizeof sd->token) return errf(err, err_cap, "%s%s", "token too long", "");
    if (token_len) memcpy(sd->token, token, token_len); /* token may be NULL when empty */
    sd->token_len = token_len;
    if (weft_keypair_generate(&sd->be, sd->author_pk, sd->author_sk))
        return errf(err, err_cap, "%s%s", "key generation failed", "");
    return 0; /* the caller may still fill the token, then calls spacedir_save */
}

int spacedir_save(spacedir *sd, char *err, size_t err_cap) {
    if (write_space_json(sd, err, err_cap)) return -1;
    char file[1100];
    if (path_join(file, sizeof file, sd->path, "changes.weft"))
        return errf(err, err_cap, "path too long: %s%s", sd->path, "");
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    if (fd < 0) return errf(err, err_cap, "cannot create %s: %s", file, strerror(errno));
    close(fd);
    return setup_crypto(sd, err, err_cap);
}

static int open_dir(spacedir *sd, const char *path, char *err, size_t err_cap);
static int counting_changes(const spacedir *sd, const uint8_t *recs, size_t len, uint8_t **out,
                            size_t *out_len, size_t *dropped);

int spacedir_open(spacedir *sd, const char *path, char *err, size_t err_cap) {
    /* A directory that fails to open after its replica was made (a replay
     * or snapshot that does not load) frees it here: callers close only
     * what opened. */
    int rc = open_dir(sd, path, err, err_cap);
    if (rc && sd->replica) spacedir_close(sd);
    return rc;
}

static int open_dir(spacedir *sd, const char *path, char *err, size_t err_cap) {
    memset(sd, 0, sizeof *sd);
    if (strlen(path) >= sizeof sd->path - 32)
        return errf(err, err_cap, "path too long: %s%s", path, "");
    snprintf(sd->path, sizeof sd->path, "%s", path);
    char file[1100];
    if (path_join(file, sizeof file, path, "space.json"))
        return errf(err, err_cap, "path too long: %s%s", path, "");
    uint8_t *text;
    size_t len;
    if (read_file(file, &text, &len))
        return errf(err, err_cap,
                    "no replica at %s (%s); make one with `weft space create` or "
                    "`weft join`",
                    path, strerror(errno));
    jbuf v = {0};
    char jerr[128];
    int rc = json_to_value(&v, (const char *)text, len, jerr, sizeof jerr);
    free(text);
    if (rc) {
        jbuf_free(&v);
        return errf(err, err_cap, "%s is corrupt: %s", file, jerr);
    }
    const uint8_t *fv;
    size_t fl;
    weft_value fmt;
    rc = json_map_get(v.p, v.len, "format", &fv, &fl) || weft_value_read(&fmt, NULL, fv, fl) ||
         fmt.type != WEFT_TYPE_STRING || fmt.len != strlen(SPACE_FORMAT) ||
         memcmp(fmt.ptr, SPACE_FORMAT, fmt.len) != 0;
    rc = rc || get_b64(v.p, v.len, "space", sd->space, 32, NULL, 1);
    rc = rc || get_b64(v.p, v.len, "content_key", sd->content_key, 32, NULL, 1);
    rc = rc || get_b64(v.p, v.len, "author_public", sd->author_pk, 32, NULL, 1);
    rc = rc || get_b64(v.p, v.len, "author_secret", sd->author_sk, 64, NULL, 1);
    rc = rc || get_b64(v.p, v.len, "token", sd->token, sizeof sd->token, &sd->token_len, 1);
    if (!rc) {
        int o = get_b64(v.p, v.len, "owner_secret", sd->owner_sk, 64, NULL, 0);
        rc = o < 0;
        sd->has_owner = o == 0;
    }
    if (!rc) {
        size_t n = 0;
        int o = get_b64(v.p, v.len, "old_keys", sd->old_keys[0], sizeof sd->old_keys, &n, 0);
        rc = o < 0 || n % 32;
        sd->n_old_keys = o ? 0 : n / 32;
    }
    if (!rc) {
        int o = get_b64(v.p, v.len, "restored_from", sd->restored_from, 32, NULL, 0);
        rc = o < 0;
        sd->has_restored_from = o == 0;
    }
    if (!rc && !json_map_get(v.p, v.len, "key_epoch", &fv, &fl)) {
        weft_value e;
        rc = weft_value_read(&e, NULL, fv, fl) || e.type != WEFT_TYPE_INT || e.i < 0;
        sd->key_epoch = rc ? 0 : (uint64_t)e.i;
    }
    if (!rc && !json_map_get(v.p, v.len, "relay", &fv, &fl)) {
        weft_value r;
        if (!weft_value_read(&r, NULL, fv, fl) && r.type == WEFT_TYPE_STRING &&
            r.len < sizeof sd->relay) {
            memcpy(sd->relay, r.ptr, r.len);
            sd->relay[r.len] = 0;
        }
    }
    jbuf_free(&v);
    if (rc) return errf(err, err_cap, "%s is corrupt or from another version (%s)", file, "");
    if (setup_crypto(sd, err, err_cap)) return -1;
    /* Membership first: its key epochs give the keys the changes open with. */
    if (load_members(sd, err, err_cap)) return -1;

    if (path_join(file, sizeof file, path, "changes.weft"))
        return errf(err, err_cap, "path too long: %s%s", path, "");
    uint8_t *recs;
    if (read_file(file, &recs, &len)) {
        if (errno != ENOENT) return errf(err, err_cap, "cannot read %s: %s", file, strerror(errno));
        recs = NULL;
        len = 0;
    }
    /* Whole records first; what follows the last whole one is a torn tail
     * unless it decodes as something else entirely. */
    int framing;
    size_t off = whole_records(recs, len, &framing);
    if (framing) {
        free(recs);
        char where[64];
        snprintf(where, sizeof where, "%zu", off);
        return errf(err, err_cap, "%s is corrupt at byte %s (run `weft log verify`)", file, where);
    }
    sd->good_bytes = off;
    sd->torn_bytes = len - off;
    char snap[1100];
    uint8_t *srec;
    size_t slen;
    if (path_join(snap, sizeof snap, path, "snapshot.weft")) {
        free(recs);
        return errf(err, err_cap, "path too long: %s%s", path, "");
    }
    if (read_file(snap, &srec, &slen) == 0) {
        /* The state the changes after it build on: checked again (the
         * signature, the content key, the vector inside) on every open. */
        rc = weft_replica_load_sealed_snapshot(sd->replica, srec, slen);
        free(srec);
        if (rc) {
            free(recs);
            return errf(err, err_cap, "cannot load %s: %s", snap, weft_strerror(rc));
        }
        sd->has_snapshot = 1;
    } else if (errno != ENOENT) {
        free(recs);
        return errf(err, err_cap, "cannot read %s: %s", snap, strerror(errno));
    }
    /* A change kept before its author's removal arrived counts no more. */
    uint8_t *kept;
    size_t kept_len, dropped;
    if (counting_changes(sd, recs, off, &kept, &kept_len, &dropped)) {
        free(recs);
        return errf(err, err_cap, "%s%s", "out of memory", "");
    }
    weft_apply_result res;
    rc = kept ? (kept_len ? weft_replica_apply(sd->replica, kept, kept_len, &res) : 0)
              : (off ? weft_replica_apply(sd->replica, recs, off, &res) : 0);
    free(kept);
    free(recs);
    if (rc)
        return errf(err, err_cap, "cannot replay %s: %s (run `weft log verify`)", file,
                    weft_strerror(rc));
    return 0;
}

size_t whole_records(const uint8_t *recs, size_t len, int *framing) {
    size_t off = 0;
    *framing = 0;
    while (off < len) {
        weft_change c;
        int rc = weft_change_decode(&c, recs + off, len - off);
        if (rc == WEFT_ETRUNCATED) break;
        if (rc) {
            *framing = rc;
            break;
        }
        off += c.total_len;
    }
    return off;
}

/* The changes of recs that count: a removed author's past its
 * revocation's last_seq do not, here as on every replica (SECURITY.md
 * "Members"). OUT: *out (malloc'd) and *out_len, or *out NULL when every
 * record counts. *dropped counts the others. Returns 0 or WEFT_ENOMEM. */
static int counting_changes(const spacedir *sd, const uint8_t *recs, size_t len, uint8_t **out,
                            size_t *out_len, size_t *dropped) {
    *out = NULL;
    *out_len = 0;
    *dropped = 0;
    uint8_t *keep = NULL;
    size_t kl = 0;
    for (size_t off = 0; off < len;) {
        weft_change c;
        if (weft_change_decode(&c, recs + off, len - off)) break; /* apply reports it */
        int counts = weft_members_change_counts(sd->members, c.author, c.seq) == 0;
        if (!counts && !keep) {
            keep = malloc(len);
            if (!keep) return WEFT_ENOMEM;
            memcpy(keep, recs, off);
            kl = off;
        }
        if (counts && keep) {
            memcpy(keep + kl, recs + off, c.total_len);
            kl += c.total_len;
        }
        *dropped += !counts;
        off += c.total_len;
    }
    *out = keep;
    *out_len = kl;
    return 0;
}

int spacedir_take(spacedir *sd, const uint8_t *recs, size_t len, weft_apply_result *res, char *err,
                  size_t err_cap) {
    uint8_t *kept;
    size_t kept_len, dropped;
    if (counting_changes(sd, recs, len, &kept, &kept_len, &dropped)) return WEFT_ENOMEM;
    if (kept) {
        recs = kept;
        len = kept_len;
    }
    /* The vector before, so the diff after is exactly what this call added. */
    const uint8_t *vv, *added;
    size_t vl, al;
    int rc = weft_replica_vv(sd->replica, &vv, &vl);
    uint8_t *before = rc ? NULL : malloc(vl + 1);
    if (!rc && !before) rc = WEFT_ENOMEM;
    if (!rc) {
        memcpy(before, vv, vl);
        rc = weft_replica_apply(sd->replica, recs, len, res);
    }
    if (!rc) rc = weft_replica_diff(sd->replica, before, vl, &added, &al);
    free(before);
    free(kept);
    if (rc) return rc;
    res->rejected += (uint32_t)dropped;
    return al && spacedir_append(sd, added, al, err, err_cap) ? 1 : 0;
}

int spacedir_append(spacedir *sd, const uint8_t *recs, size_t len, char *err, size_t err_cap) {
    char file[1100];
    if (path_join(file, sizeof file, sd->path, "changes.weft"))
        return errf(err, err_cap, "path too long: %s%s", sd->path, "");
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    if (fd < 0) return errf(err, err_cap, "cannot open %s: %s", file, strerror(errno));
    /* Cut a torn tail before appending, or the new record would be lost
     * behind it. */
    int bad = sd->torn_bytes && ftruncate(fd, (off_t)sd->good_bytes);
    bad = bad || lseek(fd, (off_t)sd->good_bytes, SEEK_SET) < 0;
    size_t done = 0;
    while (!bad && done < len) {
        ssize_t w = write(fd, recs + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            bad = 1;
        else
            done += (size_t)w;
    }
    bad = bad || fsync(fd);
    int saved = errno;
    close(fd);
    if (bad) return errf(err, err_cap, "cannot write %s: %s", file, strerror(saved));
    sd->good_bytes += len;
    sd->torn_bytes = 0;
    return 0;
}

int spacedir_commit(spacedir *sd, char *err, size_t err_cap) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    const uint8_t *rec;
    size_t len;
    int rc = weft_replica_commit(sd->replica, now_ms, &rec, &len);
    if (rc) return errf(err, err_cap, "commit failed: %s%s", weft_strerror(rc), "");
    return spacedir_append(sd, rec, len, err, err_cap);
}

int spacedir_start_from_snapshot(spacedir *sd, const uint8_t *rec, size_t len, char *err,
                                 size_t err_cap) {
    char file[1100], tmp[1110];
    if (path_join(file, sizeof file, sd->path, "snapshot.weft") ||
        path_join(tmp, sizeof tmp, sd->path, "snapshot.weft.tmp"))
        return errf(err, err_cap, "path too long: %s%s", sd->path, "");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return errf(err, err_cap, "cannot create %s: %s", tmp, strerror(errno));
    size_t done = 0;
    int bad = 0;
    while (!bad && done < len) {
        ssize_t w = write(fd, rec + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            bad = 1;
        else
            done += (size_t)w;
    }
    bad = bad || fsync(fd);
    close(fd);
    /* On disk before it is loaded: changes pulled next are appended to
     * changes.weft, and replay needs the state they build on. */
    if (bad || rename(tmp, file)) {
        unlink(tmp);
        return errf(err, err_cap, "cannot write %s: %s", file, strerror(errno));
    }
    int fdd = open(sd->path, O_RDONLY);
    if (fdd >= 0) {
        fsync(fdd);
        close(fdd);
    }
    int rc = weft_replica_load_sealed_snapshot(sd->replica, rec, len);
    if (rc) {
        unlink(file);
        return errf(err, err_cap, "the relay's snapshot does not load: %s%s", weft_strerror(rc),
                    "");
    }
    sd->has_snapshot = 1;
    return 0;
}

int spacedir_snapshot_vv(const char *dir, uint8_t **data, const uint8_t **vv, size_t *vv_len) {
    char file[1100];
    size_t len;
    *data = NULL;
    if (path_join(file, sizeof file, dir, "snapshot.weft") || read_file(file, data, &len)) return 0;
    weft_snapshot_header h;
    if (weft_snapshot_header_decode(&h, *data, len)) {
        free(*data);
        *data = NULL;
        return -1;
    }
    *vv = h.vv;
    *vv_len = h.vv_len;
    return 1;
}

void spacedir_close(spacedir *sd) {
    weft_replica_free(sd->replica);
    weft_members_free(sd->members);
    weft_suite_v1_wipe(&sd->suite);
    /* The key material lives in *sd: wipe it too. */
    volatile uint8_t *p = (volatile uint8_t *)sd;
    for (size_t i = 0; i < sizeof *sd; i++)
        p[i] = 0;
}

/* A grant record held here, decoded, when it is one (kind 5). */
static int held_grant(const spacedir *sd, size_t i, const uint8_t **rec, size_t *len,
                      weft_member_record *g) {
    weft_members_record(sd->members, i, rec, len, NULL);
    return !weft_member_record_decode(g, *rec, *len) && g->kind == WEFT_RECORD_GRANT;
}

int spacedir_grant_chain(const spacedir *sd, uint8_t rights, uint8_t *dst, size_t *len) {
    *len = 0;
    size_t n = weft_members_records(sd->members);
    uint64_t now = (uint64_t)time(NULL), best_until = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *g_rec;
        size_t g_len;
        weft_member_record g;
        if (!held_grant(sd, i, &g_rec, &g_len, &g) || g.flags ||
            memcmp(g.member, sd->author_pk, 32) != 0)
            continue;
        /* The owner's grant itself, or each owner invite its issuer is. */
        int direct = !memcmp(g.issuer, sd->space, 32);
        for (size_t j = 0; j < (direct ? 1 : n); j++) {
            uint8_t chain[WEFT_GRANT_CHAIN_MAX_BYTES];
            size_t cl = 0;
            if (!direct) {
                const uint8_t *i_rec;
                size_t i_len;
                weft_member_record inv;
                if (!held_grant(sd, j, &i_rec, &i_len, &inv) || inv.flags != WEFT_GRANT_INVITE ||
                    memcmp(inv.issuer, sd->space, 32) || memcmp(inv.member, g.issuer, 32))
                    continue;
                memcpy(chain, i_rec, i_len);
                cl = i_len;
            }
            memcpy(chain + cl, g_rec, g_len);
            cl += g_len;
            uint8_t got = 0;
            uint64_t until = g.until ? g.until : UINT64_MAX;
            if (weft_grant_chain_verify(&sd->be, chain, cl, sd->space, sd->author_pk, now, &got) ||
                got < rights || until <= best_until)
                continue;
            memcpy(dst, chain, cl);
            *len = cl;
            best_until = until;
        }
    }
    return *len ? 0 : WEFT_ENOTFOUND;
}
