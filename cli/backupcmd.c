/*
 * `weft backup` and `weft restore` (see backupcmd.h). The sealing, the
 * format and its checks are the core's (weft/backup.h); this file reads
 * and writes the replica directory and the text form, and hands the
 * restored key its rights as weftdb's backup.js does.
 */
#define _POSIX_C_SOURCE 200809L
#include "backupcmd.h"
#include "spacedir.h"
#include "sync.h"

#include "weft/sodium.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_INPUT = 3 };

#define PREFIX     "weft-backup-1:"
#define PREFIX_LEN (sizeof PREFIX - 1)
#define MAX_PW     1024

static void wipe(void *p, size_t n) {
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "weft: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return EXIT_INPUT;
}

static int refused(const char *what, int rc) {
    fprintf(stderr, "weft: %s: %s (%s)\n", what, weft_strerror(rc), weft_err_name(rc));
    return EXIT_INPUT;
}

static const char *option(int argc, char **argv, const char *name) {
    for (int i = 2; i < argc - 1; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

static int positionals(int argc, char **argv, char **pos, int max) {
    int n = 0;
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            i++;
            continue;
        }
        if (n < max) pos[n] = argv[i];
        n++;
    }
    return n;
}

/* The first line of f, without its line end. Returns its length or -1. */
static long first_line(FILE *f, char *pw) {
    if (!fgets(pw, MAX_PW, f)) return -1;
    size_t n = strcspn(pw, "\r\n");
    pw[n] = 0;
    return (long)n;
}

/* The passphrase (see backupcmd.h). OUT: pw (MAX_PW bytes). */
static long read_passphrase(int argc, char **argv, char *pw) {
    const char *file = option(argc, argv, "--passphrase-file");
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f) return -1;
        long n = first_line(f, pw);
        fclose(f);
        return n;
    }
    const char *env = getenv("WEFT_PASSPHRASE");
    if (env) {
        size_t n = strlen(env);
        if (n >= MAX_PW) return -1;
        memcpy(pw, env, n + 1);
        return (long)n;
    }
    if (isatty(0)) fprintf(stderr, "passphrase: ");
    return first_line(stdin, pw);
}

static uint64_t now_s(void) {
    return (uint64_t)time(NULL);
}

int cmd_backup(int argc, char **argv) {
    char *pos[2];
    if (positionals(argc, argv, pos, 2) != 1) {
        fprintf(stderr, "weft: usage: backup DIR [--out FILE] [--passphrase-file FILE]\n");
        return EXIT_USAGE;
    }
    char pw[MAX_PW], err[512];
    long pwlen = read_passphrase(argc, argv, pw);
    if (pwlen < 0) return fail("no passphrase (--passphrase-file, WEFT_PASSPHRASE or stdin)", NULL);
    spacedir sd;
    if (spacedir_open(&sd, pos[0], err, sizeof err)) {
        wipe(pw, sizeof pw);
        return fail(err, NULL);
    }
    /* Every key held, oldest first; the one that seals last. */
    uint8_t keys[WEFT_BACKUP_MAX_KEYS][32];
    size_t n_keys = sd.suite.n_old;
    memcpy(keys, sd.suite.old_keys, 32 * n_keys);
    memcpy(keys[n_keys++], sd.suite.content_key, 32);
    uint8_t *recs = NULL;
    size_t recs_len = 0;
    int rc = spacedir_member_records(&sd, 0, &recs, &recs_len);
    weft_backup b = {.has_owner = sd.has_owner,
                     .key_epoch = sd.key_epoch,
                     .keys = keys[0],
                     .n_keys = n_keys,
                     .token = sd.token,
                     .token_len = sd.token_len,
                     .records = recs,
                     .records_len = recs_len,
                     .relay = sd.relay,
                     .relay_len = strlen(sd.relay)};
    memcpy(b.space, sd.space, 32);
    memcpy(b.author_sk, sd.author_sk, 64);
    if (sd.has_owner) memcpy(b.owner_sk, sd.owner_sk, 64);
    size_t cap = weft_backup_bound(&b), len = 0;
    uint8_t *blob = rc ? NULL : malloc(cap ? cap : 1);
    char *text = blob ? malloc(PREFIX_LEN + weft_base64url_len(cap) + 2) : NULL;
    if (!rc)
        rc = !text ? WEFT_ENOMEM : weft_backup_seal(&sd.be, blob, cap, &len, &b, pw, (size_t)pwlen);
    wipe(pw, sizeof pw);
    wipe(&b, sizeof b);
    wipe(keys, sizeof keys);
    free(recs);
    spacedir_close(&sd);
    int out = EXIT_OK;
    if (rc) {
        out = rc == WEFT_EINVAL ? fail("the passphrase must be at least 8 bytes", NULL)
                                : refused("cannot make the backup", rc);
    } else {
        size_t tl = 0;
        memcpy(text, PREFIX, PREFIX_LEN);
        weft_base64url_encode(text + PREFIX_LEN, weft_base64url_len(cap) + 1, &tl, blob, len);
        tl += PREFIX_LEN;
        text[tl++] = '\n';
        const char *path = option(argc, argv, "--out");
        int fd = path ? open(path, O_WRONLY | O_CREAT | O_EXCL, 0600) : 1;
        if (fd < 0) {
            out = fail(path, strerror(errno));
        } else {
            int bad = write(fd, text, tl) != (ssize_t)tl || (path && fsync(fd));
            if (path) bad |= close(fd);
            if (bad) out = fail("cannot write the backup", strerror(errno));
        }
    }
    free(blob);
    free(text);
    return out;
}

/* The backup in file: its text form (decoded) or its bytes. OUT: *blob. */
static int read_backup(const char *file, uint8_t **blob, size_t *len) {
    uint8_t *data;
    size_t n;
    if (read_file(file, &data, &n)) return -1;
    if (n >= PREFIX_LEN && !memcmp(data, PREFIX, PREFIX_LEN)) {
        size_t end = n;
        while (end > PREFIX_LEN &&
               (data[end - 1] == '\n' || data[end - 1] == '\r' || data[end - 1] == ' '))
            end--;
        uint8_t *bin = malloc(end);
        if (!bin || weft_base64url_decode(bin, end, &n, (const char *)data + PREFIX_LEN,
                                          end - PREFIX_LEN)) {
            free(bin);
            free(data);
            errno = EINVAL;
            return -1;
        }
        free(data);
        data = bin;
    }
    *blob = data;
    *len = n;
    return 0;
}

/* Whether the backed-up key was admitted by its grants: no owner secret,
 * and no token (weftdb) or its claim in the token's place (the CLI). */
static int backup_by_grant(const weft_backup *b) {
    return !b->has_owner &&
           (!b->token_len || (b->token_len >= 2 && b->token[1] == WEFT_RECORD_GRANT));
}

/* A member admitted by grant (SECURITY.md "Key backup"): the new key is
 * admitted by grants of its own, so it names itself in the token's place
 * ("Authorization: Grant" with a bare key). The backed-up key must hold a
 * counting grant in the records (else WEFT_EREVOKED, WEFT_EEXPIRED or
 * WEFT_ENOTMEMBER); an admin hands the new key write to its own end at
 * once, and an admin device completes the person's rights when it sees the
 * link. OUT: grant, *grant_len. */
static int hand_on_grant(spacedir *sd, const weft_backup *b, uint8_t *grant, size_t *grant_len) {
    const uint8_t *previous = b->author_sk + 32;
    weft_members *m;
    if (weft_members_new(&m, sd->space, NULL)) return WEFT_ENOMEM;
    for (size_t off = 0; off < b->records_len;) {
        weft_member_record r;
        size_t rl;
        if (weft_member_record_decode_prefix(&r, b->records + off, b->records_len - off, &rl))
            break;
        (void)weft_members_add(m, &sd->be, b->records + off, rl, NULL);
        off += rl;
    }
    /* The CLI's claim, where a token goes: the member's own grant, which
     * the records may not hold yet (it reaches a replica with a later sync). */
    if (b->token_len) (void)weft_members_add(m, &sd->be, b->token, b->token_len, NULL);
    uint8_t rights = 0;
    uint64_t until = 0;
    int rc = weft_members_rights(m, previous, now_s(), &rights, &until);
    weft_members_free(m);
    if (!rc && !rights) rc = WEFT_ENOTMEMBER;
    if (!rc && rights == WEFT_RIGHT_ADMIN)
        rc = weft_grant_sign(&sd->be, grant, WEFT_GRANT_MAX_BYTES, grant_len, sd->space,
                             b->author_sk, sd->author_pk, WEFT_RIGHT_WRITE, 0, until,
                             now_s() * 1000);
    if (rc) return rc;
    memcpy(sd->token, sd->author_pk, 32);
    sd->token_len = 32;
    return 0;
}

/* Hands the backed-up rights to the new key of sd (SECURITY.md "Key
 * backup"). OUT: grant, *grant_len (0: none to keep). */
static int hand_on_rights(spacedir *sd, const weft_backup *b, uint8_t *grant, size_t *grant_len) {
    *grant_len = 0;
    const uint8_t *previous = b->author_sk + 32;
    if (backup_by_grant(b)) return hand_on_grant(sd, b, grant, grant_len);
    if (b->has_owner) {
        int rc = weft_token_issue(&sd->be, sd->token, sizeof sd->token, &sd->token_len, sd->space,
                                  b->owner_sk, NULL, 0, sd->author_pk, WEFT_RIGHT_ADMIN, 0, 0);
        if (!rc && b->records_len)
            rc =
                weft_grant_sign(&sd->be, grant, WEFT_GRANT_MAX_BYTES, grant_len, sd->space,
                                b->owner_sk, sd->author_pk, WEFT_RIGHT_ADMIN, 0, 0, now_s() * 1000);
        return rc;
    }
    if (!b->token_len) return WEFT_ERIGHTS;
    weft_token t;
    int rc = weft_token_verify(&sd->be, b->token, b->token_len, sd->space, now_s(), &t);
    if (rc || t.any_grantee) return rc; /* an any-holder token admits any key */
    if (memcmp(t.grantee, previous, 32) || t.rights != WEFT_RIGHT_ADMIN || t.delegated)
        return WEFT_ERIGHTS;
    uint8_t parent[WEFT_TOKEN_MAX_BYTES];
    memcpy(parent, b->token, b->token_len);
    uint64_t nb = now_s() > 300 ? now_s() - 300 : 0;
    return weft_token_issue(&sd->be, sd->token, sizeof sd->token, &sd->token_len, sd->space,
                            b->author_sk, parent, b->token_len, sd->author_pk, WEFT_RIGHT_ADMIN, nb,
                            t.expires);
}

/* The new key is a device of the backed-up key's person when that key may
 * link (the owner, or a member the records grant something): the backup
 * holds both secrets, so both halves are signed here (SECURITY.md "One
 * person, several devices"). Returns 0 or -1 with err. */
static int link_restored(spacedir *sd, const weft_backup *b, char *err, size_t err_cap) {
    const uint8_t *previous = b->author_sk + 32;
    uint8_t r = 0;
    int rc = weft_members_rights(sd->members, previous, now_s(), &r, NULL);
    int may = !memcmp(previous, sd->space, 32) || (!rc && r) || rc == WEFT_EEXPIRED;
    if (!may) return 0;
    uint8_t sig[64], rec[WEFT_LINK_MAX_BYTES];
    size_t len;
    uint64_t wall = now_s() * 1000;
    rc = weft_link_sign_device(&sd->be, sig, sd->space, previous, sd->author_sk, wall);
    if (!rc)
        rc = weft_link_sign(&sd->be, rec, sizeof rec, &len, sd->space, b->author_sk, sd->author_pk,
                            wall, sig);
    if (!rc) {
        rc = spacedir_take_members(sd, rec, len, 1, NULL, err, err_cap);
        if (rc < 0) snprintf(err, err_cap, "the device link was refused: %s", weft_strerror(rc));
        return rc ? -1 : 0;
    }
    snprintf(err, err_cap, "cannot link the restored key: %s", weft_strerror(rc));
    return -1;
}

/* The new key of a member admitted by grant holds no grant yet, so the
 * relay would refuse it: the backed-up key sends the records it signed for
 * it (the link, and an admin's grant), as weftdb's courier does. Returns
 * 0, 1 (unreachable) or 3 (refused), with err. */
static int deliver_restored(spacedir *sd, const weft_backup *b, char *err, size_t err_cap) {
    uint8_t *recs = NULL;
    size_t len = 0;
    if (spacedir_member_records(sd, 1, &recs, &len)) {
        snprintf(err, err_cap, "out of memory");
        return 1;
    }
    int rc = len ? sync_deliver_as(sd, b->author_sk, recs, len, err, err_cap) : 0;
    free(recs);
    return rc;
}

/* Removes what a refused restore made in dir (then dir itself). */
static void remove_restored(const char *dir) {
    static const char *const made[] = {"space.json", "changes.weft", "members.weft"};
    char p[1100];
    for (size_t i = 0; i < sizeof made / sizeof *made; i++)
        if (!path_join(p, sizeof p, dir, made[i])) unlink(p);
    rmdir(dir);
}

int cmd_restore(int argc, char **argv) {
    char *pos[2];
    if (positionals(argc, argv, pos, 2) != 2) {
        fprintf(stderr, "weft: usage: restore FILE DIR [--relay URL] [--passphrase-file FILE]\n");
        return EXIT_USAGE;
    }
    uint8_t *blob;
    size_t len;
    if (read_backup(pos[0], &blob, &len)) return fail(pos[0], "cannot read it as a key backup");
    char pw[MAX_PW], err[512];
    long pwlen = read_passphrase(argc, argv, pw);
    if (pwlen < 0) {
        free(blob);
        return fail("no passphrase (--passphrase-file, WEFT_PASSPHRASE or stdin)", NULL);
    }
    weft_crypto_backend be;
    weft_backup b;
    uint8_t *payload = malloc(len ? len : 1);
    int rc = !payload ? WEFT_ENOMEM : weft_sodium_backend(&be) ? WEFT_EUNAVAILABLE : 0;
    if (!rc) rc = weft_backup_open(&be, payload, len, &b, blob, len, pw, (size_t)pwlen);
    wipe(pw, sizeof pw);
    free(blob);
    if (rc) {
        free(payload);
        return refused("cannot open the backup", rc);
    }
    char relay[WEFT_BACKUP_MAX_RELAY + 3];
    const char *want = option(argc, argv, "--relay");
    if (!want) {
        /* weftdb keeps its relay as ws(s)://, the CLI as http(s)://. */
        int ws = b.relay_len >= 2 && !memcmp(b.relay, "ws", 2);
        snprintf(relay, sizeof relay, "%s%.*s", ws ? "http" : "", (int)(b.relay_len - 2 * ws),
                 b.relay + 2 * ws);
        want = relay;
    }
    spacedir sd;
    int out = EXIT_OK;
    uint8_t grant[WEFT_GRANT_MAX_BYTES];
    size_t grant_len = 0;
    const uint8_t *seals = b.keys + 32 * (b.n_keys - 1);
    if (spacedir_create(&sd, pos[1], b.space, seals, b.has_owner ? b.owner_sk : NULL, NULL, 0, want,
                        err, sizeof err)) {
        out = fail(err, NULL);
        goto done;
    }
    sd.n_old_keys = b.n_keys - 1;
    memcpy(sd.old_keys, b.keys, 32 * sd.n_old_keys);
    sd.key_epoch = b.key_epoch;
    memcpy(sd.restored_from, b.author_sk + 32, 32);
    sd.has_restored_from = 1;
    rc = hand_on_rights(&sd, &b, grant, &grant_len);
    if (rc) {
        rmdir(pos[1]); /* made by spacedir_create, still empty: nothing stays */
        out = rc == WEFT_ERIGHTS
                  ? fail("the backed-up key's token is bound to it without admin rights",
                         "an admin must invite this device instead")
              : backup_by_grant(&b)
                  ? refused("the backed-up key cannot hand its rights on (removed, lapsed or "
                            "without a grant): ask an admin to invite this device",
                            rc)
                  : refused("cannot hand the rights on", rc);
    } else if (spacedir_save(&sd, err, sizeof err) ||
               spacedir_take_members(&sd, b.records, b.records_len, 0, NULL, err, sizeof err) ||
               spacedir_take_members(&sd, grant, grant_len, 1, NULL, err, sizeof err) ||
               link_restored(&sd, &b, err, sizeof err)) {
        out = fail(err, NULL);
    } else if (backup_by_grant(&b) && (rc = deliver_restored(&sd, &b, err, sizeof err)) != 0) {
        /* Nothing stays: the restore is repeated once the relay takes them. */
        spacedir_close(&sd);
        remove_restored(pos[1]);
        out = fail(err, rc == 1 ? "restore again once the relay can be reached" : NULL);
        goto done;
    } else {
        char id[64], author[64], prev[64];
        size_t il = 0, al = 0, pl = 0;
        weft_base64url_encode(id, sizeof id, &il, sd.space, 32);
        weft_base64url_encode(author, sizeof author, &al, sd.author_pk, 32);
        weft_base64url_encode(prev, sizeof prev, &pl, b.author_sk + 32, 32);
        printf("{\"space\":\"%.*s\",\"author\":\"%.*s\",\"restored_from\":\"%.*s\","
               "\"owner\":%s,\"key_epoch\":%llu}\n",
               (int)il, id, (int)al, author, (int)pl, prev, sd.has_owner ? "true" : "false",
               (unsigned long long)sd.key_epoch);
    }
    spacedir_close(&sd);
done:
    wipe(payload, len);
    free(payload);
    wipe(&b, sizeof b);
    return out;
}
