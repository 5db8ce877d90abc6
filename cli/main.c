/*
 * weft: the command-line tool. Keys, spaces, invites, a native replica in a
 * directory (get/put/query for scripts), log inspection and verification.
 * Output is JSON wherever a script would parse it. Exit codes: 0 success,
 * 1 the operation ran and failed (a verification found damage), 2 usage,
 * 3 bad input (a wrong invite, a missing or corrupt file).
 */
#define _POSIX_C_SOURCE 200809L
#include "backupcmd.h"
#include "bench.h"
#include "json.h"
#include "logcmd.h"
#include "spacedir.h"
#include "sync.h"

#include "admission.h"
#include "hex.h"

#include "weft/sodium.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INPUT = 3 };

static const char *USAGE =
    "usage: weft <command> [arguments]\n"
    "\n"
    "keys and spaces\n"
    "  keygen [--out FILE]               a new Ed25519 key pair (JSON; FILE is mode 0600)\n"
    "  space create DIR [--relay URL]    a new space; DIR becomes its first replica\n"
    "  invite DIR --rights read|write|admin [--expires 7d|24h|30m|never] [--uses 1]\n"
    "         [--for PUBLIC_KEY] [--base URL]\n"
    "                                    an invite link signed by the owner (or an admin);\n"
    "                                    --uses 1: claimed once by the newcomer's own key\n"
    "  invite inspect LINK               decode and verify an invite (JSON)\n"
    "  join DIR --invite LINK [--identity FILE] [--relay URL]\n"
    "                                    a new replica of the invite's space in DIR\n"
    "\n"
    "members (SECURITY.md \"Members\"; records reach the relay on the next sync)\n"
    "  members DIR                       who is a member, rights, removals, key epoch (JSON)\n"
    "  grant DIR --for PUBLIC_KEY --rights read|write|admin [--expires 7d|never]\n"
    "                                    a signed grant (owner, or an admin for read|write)\n"
    "  remove DIR --member PUBLIC_KEY    remove a member: its changes after the last one\n"
    "                                    held here stop counting, and a new content key\n"
    "                                    is sealed to every remaining member\n"
    "  device-code DIR --person KEY      on a new device: a code asking the person whose\n"
    "                                    device key is KEY to link this replica's key\n"
    "  link DIR --code DEVICE_CODE       on the person's device: link that device to this\n"
    "                                    replica's key (and grant it, from an admin)\n"
    "  backup DIR [--out FILE]           DIR's keys sealed under a passphrase (Argon2id;\n"
    "                                    weftdb's restoreSpace reads it too)\n"
    "  restore FILE DIR [--relay URL]    a new replica in DIR from a backup, with the same\n"
    "                                    rights under a new author key (the passphrase:\n"
    "                                    --passphrase-file F, WEFT_PASSPHRASE or stdin)\n"
    "  admission issue --operator-key FILE --space ID [--bytes N] [--expires 30d|never]\n"
    "                                    an admission token for weft-relay --admit\n"
    "                                    signed:KEY (FILE from keygen; base64url)\n"
    "\n"
    "data (DIR is a replica directory)\n"
    "  put DIR COLLECTION DOC [FIELD] JSON\n"
    "                                    set a field, or every member of a JSON object\n"
    "                                    (one change, written durably)\n"
    "  get DIR COLLECTION DOC [FIELD]    a document or one field, as JSON\n"
    "  delete DIR COLLECTION DOC [FIELD] delete a document or one field\n"
    "  text DIR COLLECTION DOC FIELD insert POS TEXT | delete POS COUNT\n"
    "       | splice POS COUNT TEXT      edit a collaborative text field (positions in\n"
    "                                    code points; one change, written durably)\n"
    "  list DIR COLLECTION DOC FIELD     a list field as JSON; with --level 3 and\n"
    "       [insert POS JSON | push JSON | delete POS [COUNT] | move FROM TO | set POS JSON]\n"
    "                                    edit it (one change per item; the space must be\n"
    "                                    at format level 3, which the CLI does not track)\n"
    "  query DIR COLLECTION [--where FIELD=JSON] [--limit N]\n"
    "                                    documents in key order, one JSON object per line\n"
    "  status DIR                        space, author, changes, state hash (JSON)\n"
    "  export DIR                        every document as JSON (weftdb's export format:\n"
    "                                    space.importJSON reads it)\n"
    "  import DIR FILE                   write the documents of an export into DIR\n"
    "  space delete DIR [--relay http://host:port] [--yes]\n"
    "                                    owner/admin: delete the space and its records on\n"
    "                                    the relay (asks you to type the space id unless\n"
    "                                    --yes); DIR stays: rm -r DIR leaves it here too\n"
    "  merge DIR SOURCE                  apply another replica's changes (a replica\n"
    "                                    directory or a record file) and store them\n"
    "  sync DIR [--relay http[s]://host:port] [--invite LINK] [--admission TOKEN]\n"
    "                                    exchange changes with a weft-relay (REST); with\n"
    "                                    --invite, joins the space first when DIR is new;\n"
    "                                    an empty DIR starts from the relay's snapshot\n"
    "  snapshot publish DIR [--relay http://host:port]\n"
    "                                    upload a sealed snapshot of DIR's state (admins)\n"
    "  level raise DIR N [--relay http://host:port]\n"
    "                                    raise the space's format level to N (owner or\n"
    "                                    admin; an admin by grant signs with its chain)\n"
    "\n"
    "logs (DIR, or a file of change records)\n"
    "  log inspect DIR|FILE              one JSON line per change: author, seq, size...\n"
    "  log verify DIR|FILE               check framing, hash chains, signatures, replay\n"
    "  log export DIR|FILE               one JSON line per change with its bytes\n"
    "\n"
    "  bench [--ops N]                   local write and apply speed of this machine\n"
    "  help                              this text\n"
    "\n"
    "Exit codes: 0 ok, 1 failed (e.g. verify found damage), 2 usage, 3 bad input.\n";

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "weft: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see `weft help`)\n");
    return EXIT_USAGE;
}

static int input_error(const char *msg) {
    fprintf(stderr, "weft: %s\n", msg);
    return EXIT_INPUT;
}

/* The value of --name in argv[from..], or NULL. */
static const char *option(int argc, char **argv, int from, const char *name) {
    for (int i = from; i < argc - 1; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

/* argv[from..] without options (and their values). OUT: pos[], returns count. */
static int positionals(int argc, char **argv, int from, char **pos, int max) {
    int n = 0;
    for (int i = from; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            i++; /* every option takes a value */
            continue;
        }
        if (n < max) pos[n] = argv[i];
        n++;
    }
    return n;
}

static void print_b64_field(const char *name, const uint8_t *b, size_t n, int comma) {
    char s[1024];
    size_t l = 0;
    weft_base64url_encode(s, sizeof s, &l, b, n);
    printf("\"%s\":\"%.*s\"%s", name, (int)l, s, comma ? "," : "");
}

static uint64_t now_s(void) {
    return (uint64_t)time(NULL);
}

/* "7d", "24h", "30m", "45s", "never" (0). Returns 0 or -1. */
static int parse_duration(const char *s, uint64_t *out) {
    if (strcmp(s, "never") == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || v == 0 || strlen(end) != 1) return -1;
    uint64_t unit = *end == 's'   ? 1
                    : *end == 'm' ? 60
                    : *end == 'h' ? 3600
                    : *end == 'd' ? 86400
                                  : 0;
    if (!unit || v > UINT64_MAX / unit / 2) return -1;
    *out = v * unit;
    return 0;
}

static int parse_rights(const char *s) {
    return !s                        ? 0
           : strcmp(s, "read") == 0  ? WEFT_RIGHT_READ
           : strcmp(s, "write") == 0 ? WEFT_RIGHT_WRITE
           : strcmp(s, "admin") == 0 ? WEFT_RIGHT_ADMIN
                                     : 0;
}

static const char *rights_name(uint8_t r) {
    return r == WEFT_RIGHT_ADMIN ? "admin" : r == WEFT_RIGHT_WRITE ? "write" : "read";
}

/* ---- members ---- */

/* The secret key this replica signs membership records with: the owner's
 * when it holds it, else its own (an admin's). */
static const uint8_t *issuer_sk(const spacedir *sd) {
    return sd->has_owner ? sd->owner_sk : sd->author_sk;
}

static int read_key_arg(int argc, char **argv, const char *name, uint8_t *key) {
    const char *v = option(argc, argv, 2, name);
    size_t n;
    return !v || weft_base64url_decode(key, 32, &n, v, strlen(v)) || n != 32 ? -1 : 0;
}

/* Signed records are checked here as the relay will check them, and kept
 * in members.weft for the next sync. */
static int keep_records(spacedir *sd, const uint8_t *recs, size_t len) {
    char err[512] = "";
    int rc = spacedir_take_members(sd, recs, len, 1, NULL, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "weft: refused: %s (%s)\n", weft_strerror(rc), weft_err_name(rc));
        return EXIT_INPUT;
    }
    if (rc) return input_error(err);
    return EXIT_OK;
}

/* The owner's device signs its first membership record only after a
 * grant of admin to its own key, so that key epochs reach it too (a member
 * is who a grant names). Spaces that never use membership records carry
 * none. */
static int grant_self(spacedir *sd) {
    uint8_t r;
    if (!sd->has_owner || (!weft_members_rights(sd->members, sd->author_pk, now_s(), &r, NULL) &&
                           r == WEFT_RIGHT_ADMIN))
        return EXIT_OK;
    uint8_t grant[WEFT_GRANT_MAX_BYTES];
    size_t gl;
    if (weft_grant_sign(&sd->be, grant, sizeof grant, &gl, sd->space, sd->owner_sk, sd->author_pk,
                        WEFT_RIGHT_ADMIN, 0, 0, now_s() * 1000))
        return input_error("cannot grant the owner's device");
    return keep_records(sd, grant, gl);
}

static int cmd_members(int argc, char **argv) {
    char *pos[2];
    if (positionals(argc, argv, 2, pos, 2) != 1) return usage_error("%s", "members DIR");
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, pos[0], err, sizeof err)) return input_error(err);
    uint64_t epoch;
    weft_members_epoch(sd.members, &epoch, NULL, NULL);
    printf("{\"epoch\":%llu,\"members\":[", (unsigned long long)epoch);
    size_t n = weft_members_count(sd.members);
    for (size_t i = 0; i < n; i++) {
        weft_member m;
        weft_members_get(sd.members, i, &m);
        uint8_t now_rights = 0;
        int rc = weft_members_rights(sd.members, m.key, now_s(), &now_rights, NULL);
        printf("%s{", i ? "," : "");
        print_b64_field("key", m.key, 32, 1);
        printf("\"owner\":%s,\"rights\":\"%s\",\"until\":%llu,\"admin\":%s,\"status\":\"%s\"",
               memcmp(m.key, sd.space, 32) ? "false" : "true", rights_name(m.rights),
               (unsigned long long)m.until, m.admin ? "true" : "false",
               rc == WEFT_EREVOKED   ? "removed"
               : rc == WEFT_EEXPIRED ? "expired"
               : now_rights          ? "member"
                                     : "none");
        if (m.revoked) printf(",\"last_seq\":%llu", (unsigned long long)m.last_seq);
        if (m.linked) {
            printf(",");
            print_b64_field("person", m.person, 32, 0);
        }
        printf("}");
    }
    printf("]}\n");
    spacedir_close(&sd);
    return EXIT_OK;
}

static int cmd_grant(int argc, char **argv) {
    char *pos[2];
    uint8_t member[32];
    if (positionals(argc, argv, 2, pos, 2) != 1)
        return usage_error("%s", "grant DIR --for PUBLIC_KEY --rights read|write|admin");
    int rights = parse_rights(option(argc, argv, 2, "--rights"));
    if (!rights) return usage_error("%s", "--rights must be read, write or admin");
    if (read_key_arg(argc, argv, "--for", member))
        return input_error("--for must be a public key (base64url, 32 bytes)");
    uint64_t ttl = 0;
    const char *exp = option(argc, argv, 2, "--expires");
    if (exp && parse_duration(exp, &ttl))
        return usage_error("bad --expires '%s' (e.g. 7d, 24h, 30m, never)", exp);
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, pos[0], err, sizeof err)) return input_error(err);
    uint8_t rec[WEFT_GRANT_MAX_BYTES];
    size_t len;
    int out = grant_self(&sd);
    int rc = out ? 0
                 : weft_grant_sign(&sd.be, rec, sizeof rec, &len, sd.space, issuer_sk(&sd), member,
                                   (uint8_t)rights, 0, ttl ? now_s() + ttl : 0, now_s() * 1000);
    if (!out) out = rc ? input_error(weft_strerror(rc)) : keep_records(&sd, rec, len);
    if (!out)
        printf("{\"granted\":\"%s\",\"until\":%llu}\n", rights_name((uint8_t)rights),
               (unsigned long long)(ttl ? now_s() + ttl : 0));
    spacedir_close(&sd);
    return out;
}

static int cmd_remove(int argc, char **argv) {
    char *pos[2];
    uint8_t member[32];
    if (positionals(argc, argv, 2, pos, 2) != 1)
        return usage_error("%s", "remove DIR --member PUBLIC_KEY");
    if (read_key_arg(argc, argv, "--member", member))
        return input_error("--member must be a public key (base64url, 32 bytes)");
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, pos[0], err, sizeof err)) return input_error(err);
    if (grant_self(&sd)) {
        spacedir_close(&sd);
        return EXIT_INPUT;
    }
    /* Its changes held here count; later ones, wherever they are, not. */
    uint64_t last_seq = 0, epoch = 0;
    const uint8_t *vv, *author;
    size_t vl, at = 0;
    uint64_t seq;
    weft_replica_vv(sd.replica, &vv, &vl);
    while (weft_vv_next(vv, vl, &at, &author, &seq))
        if (memcmp(author, member, 32) == 0) last_seq = seq;
    weft_members_epoch(sd.members, &epoch, NULL, NULL);
    /* The new key goes to every member left who may read. */
    size_t n = weft_members_count(sd.members), k = 0;
    uint8_t(*keys)[32] = calloc(n ? n : 1, 32);
    for (size_t i = 0; keys && i < n; i++) {
        weft_member m;
        uint8_t r;
        weft_members_get(sd.members, i, &m);
        if (!memcmp(m.key, member, 32) || !memcmp(m.key, sd.space, 32)) continue;
        if (weft_members_rights(sd.members, m.key, now_s(), &r, NULL) || !r) continue;
        memcpy(keys[k++], m.key, 32);
    }
    uint8_t new_key[32],
        recs[WEFT_REVOKE_MAX_BYTES + WEFT_EPOCH_BYTES_BOUND(WEFT_EPOCH_MAX_MEMBERS)];
    size_t rl = 0, el = 0;
    int rc = !keys ? WEFT_ENOMEM : !k ? WEFT_EINVAL : 0;
    if (!rc) rc = sd.be.random(sd.be.ctx, new_key, 32);
    if (!rc)
        rc = weft_revoke_sign(&sd.be, recs, sizeof recs, &rl, sd.space, issuer_sk(&sd), member,
                              last_seq, epoch + 1, now_s() * 1000);
    if (!rc)
        rc = weft_epoch_sign(&sd.be, recs + rl, sizeof recs - rl, &el, sd.space, issuer_sk(&sd),
                             epoch + 1, new_key, sd.suite.content_key, keys[0], k, now_s() * 1000);
    free(keys);
    memset(new_key, 0, sizeof new_key);
    int out = rc ? input_error(rc == WEFT_EINVAL ? "no member would be left to read the space"
                                                 : weft_strerror(rc))
                 : keep_records(&sd, recs, rl + el);
    if (!out)
        printf("{\"removed_after_seq\":%llu,\"epoch\":%llu,\"sealed_to\":%zu}\n",
               (unsigned long long)last_seq, (unsigned long long)(epoch + 1), k);
    spacedir_close(&sd);
    return out;
}

/* ---- one person, several devices (kind 9; weftdb's deviceCode and
 * linkDevice, the same code) ---- */

#define DEVICE_CODE_PREFIX "weft-device-1:"
#define DEVICE_CODE_BYTES  (32 + 8 + 64) /* device, wall_ms (u64 LE), its signature */

static int cmd_device_code(int argc, char **argv) {
    char *pos[2];
    uint8_t person[32];
    if (positionals(argc, argv, 2, pos, 2) != 1 || read_key_arg(argc, argv, "--person", person))
        return usage_error("%s", "device-code DIR --person PUBLIC_KEY");
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, pos[0], err, sizeof err)) return input_error(err);
    uint8_t code[DEVICE_CODE_BYTES];
    uint64_t wall = now_s() * 1000;
    memcpy(code, sd.author_pk, 32);
    for (int i = 0; i < 8; i++)
        code[32 + i] = (uint8_t)(wall >> (8 * i));
    int rc = weft_link_sign_device(&sd.be, code + 40, sd.space, person, sd.author_sk, wall);
    spacedir_close(&sd);
    if (rc) return input_error("cannot sign the device code (is --person this replica's own key?)");
    char b64[2 * DEVICE_CODE_BYTES];
    size_t n = 0;
    weft_base64url_encode(b64, sizeof b64, &n, code, sizeof code);
    printf("%s%.*s\n", DEVICE_CODE_PREFIX, (int)n, b64);
    return EXIT_OK;
}

static int cmd_link(int argc, char **argv) {
    char *pos[2];
    const char *code = option(argc, argv, 2, "--code");
    if (positionals(argc, argv, 2, pos, 2) != 1 || !code)
        return usage_error("%s", "link DIR --code DEVICE_CODE");
    size_t pl = strlen(DEVICE_CODE_PREFIX), n = 0;
    uint8_t bin[DEVICE_CODE_BYTES + 3];
    if (strncmp(code, DEVICE_CODE_PREFIX, pl) ||
        weft_base64url_decode(bin, sizeof bin, &n, code + pl, strlen(code + pl)) ||
        n != DEVICE_CODE_BYTES)
        return input_error("not a device code (weft-device-1:..., from `weft device-code` or "
                           "weftdb's space.deviceCode)");
    uint64_t wall = 0;
    for (int i = 7; i >= 0; i--)
        wall = wall << 8 | bin[32 + i];
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, pos[0], err, sizeof err)) return input_error(err);
    /* The owner's replica is a member (and may grant) once it granted
     * itself admin; an admin's replica holds a grant already. */
    uint8_t r = 0;
    int admin =
        sd.has_owner || (!weft_members_rights(sd.members, sd.author_pk, now_s(), &r, NULL) &&
                         r == WEFT_RIGHT_ADMIN);
    int out = grant_self(&sd);
    uint8_t rec[WEFT_LINK_MAX_BYTES];
    size_t len;
    int rc = out ? 0
                 : weft_link_sign(&sd.be, rec, sizeof rec, &len, sd.space, sd.author_sk, bin, wall,
                                  bin + 40);
    if (rc) {
        fprintf(stderr, "weft: the device code does not verify for this replica's key: %s\n",
                weft_strerror(rc));
        out = EXIT_INPUT;
    }
    if (!out) out = keep_records(&sd, rec, len);
    /* Granted too, so that key epochs reach it: admin from the owner,
     * write from an admin. */
    if (!out && admin) {
        uint8_t grant[WEFT_GRANT_MAX_BYTES];
        size_t gl;
        rc = weft_grant_sign(&sd.be, grant, sizeof grant, &gl, sd.space, issuer_sk(&sd), bin,
                             sd.has_owner ? WEFT_RIGHT_ADMIN : WEFT_RIGHT_WRITE, 0, 0,
                             now_s() * 1000);
        out = rc ? input_error(weft_strerror(rc)) : keep_records(&sd, grant, gl);
    }
    if (!out) {
        printf("{");
        print_b64_field("device", bin, 32, 1);
        print_b64_field("person", sd.author_pk, 32, 0);
        printf("}\n");
    }
    spacedir_close(&sd);
    return out;
}

/* ---- keygen ---- */

static int cmd_keygen(int argc, char **argv) {
    weft_crypto_backend be;
    uint8_t pk[32], sk[64];
    if (weft_sodium_backend(&be) || weft_keypair_generate(&be, pk, sk))
        return input_error("libsodium failed to start");
    const char *out = option(argc, argv, 2, "--out");
    FILE *f = stdout;
    if (out) {
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600); /* it holds a secret */
        FILE *g = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!g) {
            fprintf(stderr, "weft: cannot create %s: %s\n", out, strerror(errno));
            return EXIT_INPUT;
        }
        f = g;
    }
    char p64[64] = "", s64[128] = "";
    size_t l;
    weft_base64url_encode(p64, sizeof p64 - 1, &l, pk, 32);
    weft_base64url_encode(s64, sizeof s64 - 1, &l, sk, 64);
    fprintf(f, "{\"public\":\"%s\",\"secret\":\"%s\"}\n", p64, s64);
    if (out) {
        fclose(f);
        printf("{\"public\":\"%s\",\"file\":", p64);
        json_print_string(stdout, out, strlen(out));
        printf("}\n");
    }
    memset(sk, 0, sizeof sk);
    memset(s64, 0, sizeof s64);
    return EXIT_OK;
}

/* ---- admission issue ---- */

static int read_identity(const char *path, uint8_t *pk, uint8_t *sk);

/* An operator's admission of a space (common/admission.h): printed as
 * base64url, for the space's clients to present in HELLO (or REST's
 * Weft-Admission header) to a relay run with --admit signed:KEY. */
static int cmd_admission_issue(int argc, char **argv) {
    const char *keyfile = option(argc, argv, 3, "--operator-key");
    const char *space = option(argc, argv, 3, "--space");
    if (!keyfile || !space)
        return usage_error("%s", "admission issue --operator-key FILE --space ID [--bytes N] "
                                 "[--expires 30d|never]");
    uint8_t sid[32], pk[32], sk[64];
    size_t n;
    size_t sl = strlen(space);
    if (!(sl == 64 && weft__hex_decode(sid, 32, NULL, space, sl) == 0) &&
        !(sl == 43 && weft_base64url_decode(sid, 32, &n, space, sl) == 0 && n == 32))
        return input_error("--space must be a space id (64 hex digits or 43 base64url characters)");
    uint64_t bytes = 0, ttl = 0;
    const char *b = option(argc, argv, 3, "--bytes");
    if (b) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(b, &end, 10);
        if (errno || *end || end == b || b[0] == '-') return usage_error("bad --bytes '%s'", b);
        bytes = v;
    }
    const char *exp = option(argc, argv, 3, "--expires");
    if (exp && parse_duration(exp, &ttl))
        return usage_error("bad --expires '%s' (e.g. 365d, 24h, never)", exp);
    if (read_identity(keyfile, pk, sk))
        return input_error(
            "cannot read the --operator-key file (make one with `weft keygen --out`)");
    weft_crypto_backend be;
    uint8_t tok[WEFT__ADMISSION_MAX_BYTES];
    size_t tl;
    uint64_t nb = now_s() - 60; /* tolerate clocks a minute apart */
    int rc = weft_sodium_backend(&be);
    if (!rc)
        rc = weft__admission_issue(&be, tok, sizeof tok, &tl, sid, sk, bytes, nb,
                                   ttl ? nb + 60 + ttl : 0);
    memset(sk, 0, sizeof sk);
    if (rc) {
        fprintf(stderr, "weft: cannot issue the admission: %s\n", weft_strerror(rc));
        return EXIT_INPUT;
    }
    char txt[2 * WEFT__ADMISSION_MAX_BYTES];
    weft_base64url_encode(txt, sizeof txt, &n, tok, tl);
    printf("%.*s\n", (int)n, txt);
    return EXIT_OK;
}

/* ---- space create, join, invite ---- */

static int cmd_space_create(int argc, char **argv) {
    char *pos[2];
    if (positionals(argc, argv, 3, pos, 2) != 1) return usage_error("%s", "space create DIR");
    weft_crypto_backend be;
    uint8_t owner_pk[32], owner_sk[64], key[32];
    if (weft_sodium_backend(&be) || weft_keypair_generate(&be, owner_pk, owner_sk) ||
        be.random(be.ctx, key, sizeof key))
        return input_error("libsodium failed to start");
    spacedir sd;
    char err[512];
    if (spacedir_create(&sd, pos[0], owner_pk, key, owner_sk, NULL, 0,
                        option(argc, argv, 3, "--relay"), err, sizeof err))
        return input_error(err);
    /* The creator's replica writes with its own key under an admin token
     * from the owner, so the owner key itself never has to sign changes. */
    int rc = weft_token_issue(&be, sd.token, sizeof sd.token, &sd.token_len, owner_pk, owner_sk,
                              NULL, 0, sd.author_pk, WEFT_RIGHT_ADMIN, now_s() - 60, 0);
    memset(owner_sk, 0, sizeof owner_sk);
    memset(key, 0, sizeof key);
    if (rc || spacedir_save(&sd, err, sizeof err)) {
        spacedir_close(&sd);
        return input_error(rc ? "cannot issue the admin token" : err);
    }

    printf("{");
    print_b64_field("space", sd.space, 32, 1);
    print_b64_field("author", sd.author_pk, 32, 1);
    printf("\"dir\":");
    json_print_string(stdout, pos[0], strlen(pos[0]));
    printf("}\n");
    spacedir_close(&sd);
    return EXIT_OK;
}

static int cmd_invite(int argc, char **argv) {
    char *pos[2];
    if (positionals(argc, argv, 2, pos, 2) != 1)
        return usage_error("%s", "invite DIR --rights read|write|admin [--expires 7d]");
    int rights = parse_rights(option(argc, argv, 2, "--rights"));
    if (!rights) return usage_error("%s", "--rights must be read, write or admin");
    uint64_t ttl = 7 * 86400;
    const char *exp = option(argc, argv, 2, "--expires");
    if (exp && parse_duration(exp, &ttl))
        return usage_error("bad --expires '%s' (e.g. 7d, 24h, 30m, never)", exp);
    uint8_t grantee[32], *for_key = NULL;
    const char *who = option(argc, argv, 2, "--for");
    size_t gl;
    if (who) {
        if (weft_base64url_decode(grantee, sizeof grantee, &gl, who, strlen(who)) || gl != 32)
            return input_error("--for must be a public key (base64url, 32 bytes)");
        for_key = grantee;
    }
    const char *uses = option(argc, argv, 2, "--uses");
    if (uses && (strcmp(uses, "1") != 0 || who))
        return usage_error("%s",
                           "--uses takes 1 (a link claimed by the newcomer's key), without --for");
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, pos[0], err, sizeof err)) return input_error(err);
    uint8_t tok[WEFT_TOKEN_MAX_BYTES];
    size_t tl;
    uint64_t nb = now_s() - 60; /* tolerate clocks a minute apart */
    int rc;
    if (uses) {
        /* An invite the newcomer claims with its own key: the grant to a
         * fresh invite key, checked and kept for the next sync, and its
         * ticket in the link. Any admin replica may sign it. */
        uint8_t grant[WEFT_GRANT_MAX_BYTES];
        size_t grant_len;
        if (grant_self(&sd)) {
            spacedir_close(&sd);
            return EXIT_INPUT;
        }
        /* An admin's invite ends no later than its own grant (OUTLIVES
         * otherwise): the end asked for is cut to it. */
        uint64_t until = ttl ? now_s() + ttl : 0, mine = 0;
        uint8_t have;
        if (!sd.has_owner &&
            !weft_members_rights(sd.members, sd.author_pk, now_s(), &have, &mine) && mine &&
            (!until || until > mine))
            until = mine;
        rc = weft_invite_issue(&sd.be, grant, sizeof grant, &grant_len, tok, &tl, sd.space,
                               issuer_sk(&sd), (uint8_t)rights, until, now_s() * 1000);
        if (!rc && keep_records(&sd, grant, grant_len)) {
            spacedir_close(&sd);
            return EXIT_INPUT;
        }
        if (!rc) fprintf(stderr, "weft: the link works once this replica synced (weft sync)\n");
    } else if (spacedir_by_grant(&sd)) {
        rc = WEFT_EDELEGATION; /* no token to delegate: invite with --uses 1 */
    } else if (sd.has_owner) {
        rc = weft_token_issue(&sd.be, tok, sizeof tok, &tl, sd.space, sd.owner_sk, NULL, 0, for_key,
                              (uint8_t)rights, nb, ttl ? nb + 60 + ttl : 0);
    } else {
        /* An admin delegates with its own token as the parent. */
        rc = weft_token_issue(&sd.be, tok, sizeof tok, &tl, sd.space, sd.author_sk, sd.token,
                              sd.token_len, for_key, (uint8_t)rights, nb, ttl ? nb + 60 + ttl : 0);
    }
    if (rc) {
        spacedir_close(&sd);
        fprintf(stderr, "weft: cannot issue the invite: %s%s\n", weft_strerror(rc),
                rc == WEFT_EDELEGATION ? " (only the owner or an admin can invite; a replica "
                                         "admitted by its grant invites with --uses 1)"
                                       : "");
        return EXIT_INPUT;
    }
    const char *base = option(argc, argv, 2, "--base");
    if (!base) base = "";
    size_t cap = weft_invite_bound(strlen(base), tl), len;
    char *link = malloc(cap);
    rc = !link ||
         weft_invite_encode(link, cap, &len, base, strlen(base), sd.space, tok, tl, sd.content_key);
    if (!rc) printf("%s\n", link);
    free(link);
    spacedir_close(&sd);
    return rc ? input_error("cannot encode the invite") : EXIT_OK;
}

static int cmd_invite_inspect(int argc, char **argv) {
    char *pos[2];
    if (positionals(argc, argv, 3, pos, 2) != 1) return usage_error("%s", "invite inspect LINK");
    uint8_t space[32], tok[WEFT_TOKEN_MAX_BYTES], key[32];
    size_t tl;
    if (weft_invite_decode(pos[0], strlen(pos[0]), space, tok, sizeof tok, &tl, key))
        return input_error("not an invite link (expected ...#<space>.<token>.<key>)");
    memset(key, 0, sizeof key);
    weft_crypto_backend be;
    if (weft_sodium_backend(&be)) return input_error("libsodium failed to start");
    weft_token t;
    int rc = weft_token_verify(&be, tok, tl, space, now_s(), &t);
    printf("{");
    print_b64_field("space", space, 32, 1);
    printf("\"valid\":%s,\"error\":", rc ? "false" : "true");
    if (rc)
        json_print_string(stdout, weft_err_name(rc), strlen(weft_err_name(rc)));
    else
        printf("null");
    if (!rc) {
        printf(",\"rights\":\"%s\",\"grantee\":", rights_name(t.rights));
        if (t.any_grantee)
            printf("null");
        else {
            printf("{");
            print_b64_field("key", t.grantee, 32, 0);
            printf("}");
        }
        printf(",\"not_before\":%" PRIu64 ",\"expires\":%" PRIu64 ",\"delegated\":%s,",
               t.not_before, t.expires, t.delegated ? "true" : "false");
        print_b64_field("id", t.id, sizeof t.id, 0);
    }
    printf("}\n");
    return rc ? EXIT_INPUT : EXIT_OK;
}

static int read_identity(const char *path, uint8_t *pk, uint8_t *sk) {
    uint8_t *text;
    size_t len;
    if (read_file(path, &text, &len)) return -1;
    jbuf v = {0};
    char jerr[128];
    int rc = json_to_value(&v, (const char *)text, len, jerr, sizeof jerr);
    free(text);
    const uint8_t *f;
    size_t fl, n;
    weft_value s;
    rc = rc || json_map_get(v.p, v.len, "public", &f, &fl) || weft_value_read(&s, NULL, f, fl) ||
         s.type != WEFT_TYPE_STRING ||
         weft_base64url_decode(pk, 32, &n, (const char *)s.ptr, s.len) || n != 32;
    rc = rc || json_map_get(v.p, v.len, "secret", &f, &fl) || weft_value_read(&s, NULL, f, fl) ||
         s.type != WEFT_TYPE_STRING ||
         weft_base64url_decode(sk, 64, &n, (const char *)s.ptr, s.len) || n != 64;
    jbuf_free(&v);
    return rc ? -1 : 0;
}

/* weft join with a claimed invite: a new replica whose key claims the
 * link's invite; the claim is its credential ("token"), sent on every
 * sync; the relay stores it once and admits the key by its grant. */
static int join_claim(const char *dir, const uint8_t *space, uint8_t *key, const uint8_t *ticket,
                      size_t ticket_len, uint8_t rights, uint64_t until, int argc, char **argv,
                      const weft_crypto_backend *be) {
    if (until && now_s() >= until) return input_error("this invite has expired: ask for a new one");
    spacedir sd;
    char err[512];
    if (spacedir_create(&sd, dir, space, key, NULL, NULL, 0, option(argc, argv, 2, "--relay"), err,
                        sizeof err))
        return input_error(err);
    memset(key, 0, 32);
    const char *id = option(argc, argv, 2, "--identity");
    if (id && read_identity(id, sd.author_pk, sd.author_sk)) {
        spacedir_close(&sd);
        return input_error("cannot read the --identity file (make one with `weft keygen --out`)");
    }
    int rc = weft_invite_claim(be, sd.token, sizeof sd.token, &sd.token_len, space, ticket,
                               ticket_len, sd.author_pk, now_s() * 1000, NULL);
    if (rc || spacedir_save(&sd, err, sizeof err)) {
        spacedir_close(&sd);
        return input_error(rc ? weft_strerror(rc) : err);
    }
    printf("{");
    print_b64_field("space", sd.space, 32, 1);
    print_b64_field("author", sd.author_pk, 32, 1);
    printf("\"rights\":\"%s\",\"claimed\":true}\n", rights_name(rights));
    spacedir_close(&sd);
    return EXIT_OK;
}

static int cmd_join(int argc, char **argv) {
    char *pos[2];
    const char *link = option(argc, argv, 2, "--invite");
    if (positionals(argc, argv, 2, pos, 2) != 1 || !link)
        return usage_error("%s", "join DIR --invite LINK");
    uint8_t space[32], tok[WEFT_TOKEN_MAX_BYTES], key[32];
    size_t tl;
    if (weft_invite_decode(link, strlen(link), space, tok, sizeof tok, &tl, key))
        return input_error("not an invite link (expected ...#<space>.<token>.<key>)");
    weft_crypto_backend be;
    weft_token t;
    if (weft_sodium_backend(&be)) return input_error("libsodium failed to start");
    uint8_t seed[32], trights;
    uint64_t tuntil;
    if (weft_ticket_decode(tok, tl, seed, &trights, &tuntil) == 0) {
        memset(seed, 0, sizeof seed);
        return join_claim(pos[0], space, key, tok, tl, trights, tuntil, argc, argv, &be);
    }
    int rc = weft_token_verify(&be, tok, tl, space, now_s(), &t);
    if (rc) {
        fprintf(stderr, "weft: the invite's token is not valid: %s\n", weft_strerror(rc));
        return EXIT_INPUT;
    }
    spacedir sd;
    char err[512];
    if (spacedir_create(&sd, pos[0], space, key, NULL, tok, tl, option(argc, argv, 2, "--relay"),
                        err, sizeof err))
        return input_error(err);
    memset(key, 0, sizeof key);
    const char *id = option(argc, argv, 2, "--identity");
    if (id && read_identity(id, sd.author_pk, sd.author_sk)) {
        spacedir_close(&sd);
        return input_error("cannot read the --identity file (make one with `weft keygen --out`)");
    }
    if (!t.any_grantee && memcmp(t.grantee, sd.author_pk, 32) != 0) {
        spacedir_close(&sd);
        return input_error("this invite names another key: pass that key with --identity FILE");
    }
    if (spacedir_save(&sd, err, sizeof err)) {
        spacedir_close(&sd);
        return input_error(err);
    }
    printf("{");
    print_b64_field("space", sd.space, 32, 1);
    print_b64_field("author", sd.author_pk, 32, 1);
    printf("\"rights\":\"%s\"}\n", rights_name(t.rights));
    spacedir_close(&sd);
    return EXIT_OK;
}

/* ---- data ---- */

/* The rights of a replica admitted by grant: what its grants held here
 * give now (none when removed or lapsed), else, before they reached it,
 * its claim's. The relay checks its grants. */
static uint8_t claim_rights(const spacedir *sd) {
    uint8_t r = 0;
    int rc = weft_members_rights(sd->members, sd->author_pk, now_s(), &r, NULL);
    if (rc == WEFT_EREVOKED || rc == WEFT_EEXPIRED) return 0;
    if (!rc && r) return r;
    weft_member_record c;
    return weft_member_record_decode(&c, sd->token, sd->token_len) ? 0 : c.rights;
}

static int check_can_write(spacedir *sd) {
    if (spacedir_by_grant(sd)) {
        if (claim_rights(sd) >= WEFT_RIGHT_WRITE) return EXIT_OK;
        fprintf(stderr,
                "weft: this replica may not write: its grants give read only, or none now\n");
        return EXIT_INPUT;
    }
    weft_token t;
    int rc = weft_token_verify(&sd->be, sd->token, sd->token_len, sd->space, now_s(), &t);
    if (!rc) rc = weft_token_allows(&t, sd->author_pk, WEFT_RIGHT_WRITE);
    if (rc) {
        fprintf(stderr, "weft: this replica may not write: %s\n",
                rc == WEFT_ERIGHTS ? "its token grants read only" : weft_strerror(rc));
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

/* Puts every member of a JSON object as a field: one change. */
static int put_members(weft_replica *r, const char *coll, const char *doc, const jbuf *obj) {
    weft_value m;
    if (weft_value_read(&m, NULL, obj->p, obj->len) || m.type != WEFT_TYPE_MAP || !m.count)
        return WEFT_EINVAL;
    const uint8_t *p = m.ptr;
    for (uint64_t i = 0; i < m.count; i++) {
        size_t kl = 0, n;
        int shift = 0;
        uint8_t b;
        do { /* the key's length varint */
            b = *p++;
            kl |= (size_t)(b & 0x7f) << shift;
            shift += 7;
        } while (b & 0x80);
        const char *key = (const char *)p;
        p += kl;
        weft_value e;
        weft_value_read(&e, &n, p, obj->len - (size_t)(p - obj->p));
        int rc = weft_replica_put(r, coll, strlen(coll), doc, strlen(doc), key, kl, p, n);
        if (rc) return rc;
        p += n;
    }
    return 0;
}

static int cmd_put(int argc, char **argv) {
    char *p[6];
    int n = positionals(argc, argv, 2, p, 6);
    if (n != 4 && n != 5) return usage_error("%s", "put DIR COLLECTION DOC [FIELD] JSON");
    const char *text = p[n - 1];
    jbuf v = {0};
    char jerr[160];
    if (json_to_value(&v, text, strlen(text), jerr, sizeof jerr)) {
        jbuf_free(&v);
        return input_error(jerr);
    }
    spacedir sd;
    char err[512];
    int rc = EXIT_OK;
    if (spacedir_open(&sd, p[0], err, sizeof err)) {
        jbuf_free(&v);
        return input_error(err);
    }
    if ((rc = check_can_write(&sd)) == EXIT_OK) {
        int w = n == 5 ? weft_replica_put(sd.replica, p[1], strlen(p[1]), p[2], strlen(p[2]), p[3],
                                          strlen(p[3]), v.p, v.len)
                       : put_members(sd.replica, p[1], p[2], &v);
        if (w) {
            fprintf(stderr, "weft: cannot put: %s%s\n", weft_strerror(w),
                    n == 4 ? " (without FIELD the value must be a non-empty JSON object)" : "");
            rc = EXIT_INPUT;
        } else if (spacedir_commit(&sd, err, sizeof err)) {
            fprintf(stderr, "weft: %s\n", err);
            rc = EXIT_FAILED;
        }
    }
    jbuf_free(&v);
    spacedir_close(&sd);
    return rc;
}

static int cmd_delete(int argc, char **argv) {
    char *p[5];
    int n = positionals(argc, argv, 2, p, 5);
    if (n != 3 && n != 4) return usage_error("%s", "delete DIR COLLECTION DOC [FIELD]");
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, p[0], err, sizeof err)) return input_error(err);
    int rc = check_can_write(&sd);
    if (rc == EXIT_OK) {
        int w = n == 4
                    ? weft_replica_delete_field(sd.replica, p[1], strlen(p[1]), p[2], strlen(p[2]),
                                                p[3], strlen(p[3]))
                    : weft_replica_delete_doc(sd.replica, p[1], strlen(p[1]), p[2], strlen(p[2]));
        if (w) {
            fprintf(stderr, "weft: cannot delete: %s\n", weft_strerror(w));
            rc = EXIT_INPUT;
        } else if (spacedir_commit(&sd, err, sizeof err)) {
            fprintf(stderr, "weft: %s\n", err);
            rc = EXIT_FAILED;
        }
    }
    spacedir_close(&sd);
    return rc;
}

/* A non-negative decimal below 2^32, or -1. */
static long long count_arg(const char *s) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno || *s == '-' || end == s || *end || v >= 4294967296LL ? -1 : v;
}

static int cmd_text(int argc, char **argv) {
    char *p[9];
    int n = positionals(argc, argv, 2, p, 9);
    const char *how = n >= 5 ? p[4] : "";
    int ok = (strcmp(how, "insert") == 0 && n == 7) || (strcmp(how, "delete") == 0 && n == 7) ||
             (strcmp(how, "splice") == 0 && n == 8);
    if (!ok)
        return usage_error("%s", "text DIR COLLECTION DOC FIELD insert POS TEXT | delete POS "
                                 "COUNT | splice POS COUNT TEXT");
    long long pos = count_arg(p[5]), del = how[0] == 'i' ? 0 : count_arg(p[6]);
    if (pos < 0 || del < 0) return input_error("positions and counts are numbers >= 0");
    const char *ins = how[0] == 'i' ? p[6] : how[0] == 's' ? p[7] : "";
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, p[0], err, sizeof err)) return input_error(err);
    int rc = check_can_write(&sd);
    if (rc == EXIT_OK) {
        const uint8_t *rec;
        size_t len;
        int w = weft_replica_text_splice(sd.replica, p[1], strlen(p[1]), p[2], strlen(p[2]), p[3],
                                         strlen(p[3]), (size_t)pos, (size_t)del, ins, strlen(ins),
                                         (uint64_t)now_s() * 1000, &rec, &len);
        if (w) {
            fprintf(stderr, "weft: cannot edit the text: %s%s\n", weft_strerror(w),
                    w == WEFT_EINVAL ? " (a position past the end, or a field holding a value "
                                       "other than a string?)"
                                     : "");
            rc = w == WEFT_ENOMEM || w == WEFT_ECRYPTO ? EXIT_FAILED : EXIT_INPUT;
        } else if (len && spacedir_append(&sd, rec, len, err, sizeof err)) {
            fprintf(stderr, "weft: %s\n", err);
            rc = EXIT_FAILED;
        }
    }
    spacedir_close(&sd);
    return rc;
}

/* weft list: read a list field (docs/LISTS.md), or edit it with one change.
 * The CLI does not track the space's format level, so edits need
 * --level N (N >= 3): the caller vouches that the space is there. */
static int cmd_list(int argc, char **argv) {
    static const char *const use =
        "list DIR COLLECTION DOC FIELD [--level 3] [insert POS JSON | push JSON | delete POS "
        "[COUNT] | move FROM TO | set POS JSON]";
    char *p[9];
    int n = positionals(argc, argv, 2, p, 9);
    if (n < 4 || n > 8) return usage_error("%s", use);
    const char *how = n > 4 ? p[4] : NULL;
    int args = n - 5; /* after the action */
    weft_list_edit_kind kind = 0;
    if (!how)
        kind = 0;
    else if (strcmp(how, "insert") == 0 && args == 2)
        kind = WEFT_LIST_INSERT;
    else if (strcmp(how, "push") == 0 && args == 1)
        kind = WEFT_LIST_INSERT;
    else if (strcmp(how, "delete") == 0 && (args == 1 || args == 2))
        kind = WEFT_LIST_DELETE;
    else if (strcmp(how, "move") == 0 && args == 2)
        kind = WEFT_LIST_MOVE;
    else if (strcmp(how, "set") == 0 && args == 2)
        kind = WEFT_LIST_SET;
    else
        return usage_error("%s", use);
    long long a = how && how[0] != 'p' ? count_arg(p[5]) : 0;
    long long b = kind == WEFT_LIST_MOVE || (kind == WEFT_LIST_DELETE && args == 2)
                      ? count_arg(p[6])
                  : kind == WEFT_LIST_DELETE ? 1
                                             : 0;
    if (a < 0 || b < 0) return input_error("indices and counts are numbers >= 0");
    const char *level = option(argc, argv, 2, "--level");
    if (kind && (!level || count_arg(level) < WEFT_LEVEL_LISTS))
        return input_error("list edits need the space at format level 3, which the CLI does not "
                           "track: pass --level 3 once its owner or an admin raised it");
    jbuf v = {0};
    if (kind == WEFT_LIST_INSERT || kind == WEFT_LIST_SET) {
        const char *text = p[n - 1];
        char jerr[160];
        if (json_to_value(&v, text, strlen(text), jerr, sizeof jerr)) {
            jbuf_free(&v);
            return input_error(jerr);
        }
    }
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, p[0], err, sizeof err)) {
        jbuf_free(&v);
        return input_error(err);
    }
    int rc = EXIT_OK;
    weft_replica *r = sd.replica;
    size_t cl = strlen(p[1]), dl = strlen(p[2]), fl = strlen(p[3]);
    if (!kind) { /* read: the list (or an array) as JSON */
        const uint8_t *val;
        size_t len;
        int w = weft_replica_get_field(r, p[1], cl, p[2], dl, p[3], fl, &val, &len);
        weft_value arr;
        if (w == WEFT_ENOTFOUND) {
            printf("[]\n");
        } else if (w || weft_value_read(&arr, NULL, val, len) || arr.type != WEFT_TYPE_ARRAY) {
            fprintf(stderr, "weft: %s\n", w ? weft_strerror(w) : "the field holds no list");
            rc = EXIT_INPUT;
        } else {
            json_print_value(stdout, val, len);
            printf("\n");
        }
    } else if ((rc = check_can_write(&sd)) == EXIT_OK) {
        weft_replica_set_format_level(r, (uint32_t)count_arg(level));
        size_t end = 0;
        if (how[0] == 'p' && weft_replica_list_length(r, p[1], cl, p[2], dl, p[3], fl, &end)) {
            const uint8_t *val; /* a plain array (it becomes a list), or nothing */
            size_t len;
            weft_value arr;
            if (!weft_replica_get_field(r, p[1], cl, p[2], dl, p[3], fl, &val, &len) &&
                !weft_value_read(&arr, NULL, val, len) && arr.type == WEFT_TYPE_ARRAY)
                end = (size_t)arr.count;
        }
        for (long long k = 0; k < (kind == WEFT_LIST_DELETE ? b : 1) && rc == EXIT_OK; k++) {
            const uint8_t *rec;
            size_t len;
            int w = weft_replica_list_edit(r, p[1], cl, p[2], dl, p[3], fl, kind,
                                           how[0] == 'p' ? end : (size_t)a, (size_t)b, v.p, v.len,
                                           0, (uint64_t)now_s() * 1000, &rec, &len);
            if (w) {
                fprintf(stderr, "weft: cannot edit the list: %s\n", weft_strerror(w));
                rc = w == WEFT_ENOMEM || w == WEFT_ECRYPTO ? EXIT_FAILED : EXIT_INPUT;
            } else if (len && spacedir_append(&sd, rec, len, err, sizeof err)) {
                fprintf(stderr, "weft: %s\n", err);
                rc = EXIT_FAILED;
            }
        }
    }
    jbuf_free(&v);
    spacedir_close(&sd);
    return rc;
}

/* Prints a document (its encoded map) with its key as "_id". */
static void print_doc(const char *key, size_t key_len, const uint8_t *doc, size_t len) {
    weft_value m;
    printf("{\"_id\":");
    json_print_string(stdout, key, key_len);
    if (!weft_value_read(&m, NULL, doc, len) && m.type == WEFT_TYPE_MAP && m.count) {
        /* Splice the map's members after _id: print it and drop its brace. */
        char *buf = NULL;
        size_t bl = 0;
        FILE *mem = open_memstream(&buf, &bl);
        json_print_value(mem, doc, len);
        fclose(mem);
        printf(",%s", buf + 1);
        free(buf);
    } else {
        printf("}");
    }
}

static int cmd_get(int argc, char **argv) {
    char *p[5];
    int n = positionals(argc, argv, 2, p, 5);
    if (n != 3 && n != 4) return usage_error("%s", "get DIR COLLECTION DOC [FIELD]");
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, p[0], err, sizeof err)) return input_error(err);
    const uint8_t *v;
    size_t len;
    int rc =
        n == 4 ? weft_replica_get_field(sd.replica, p[1], strlen(p[1]), p[2], strlen(p[2]), p[3],
                                        strlen(p[3]), &v, &len)
               : weft_replica_get_doc(sd.replica, p[1], strlen(p[1]), p[2], strlen(p[2]), &v, &len);
    int out = EXIT_OK;
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft: not found\n");
        out = EXIT_FAILED;
    } else if (rc) {
        fprintf(stderr, "weft: %s\n", weft_strerror(rc));
        out = EXIT_INPUT;
    } else {
        if (n == 4)
            json_print_value(stdout, v, len);
        else
            print_doc(p[2], strlen(p[2]), v, len);
        printf("\n");
    }
    spacedir_close(&sd);
    return out;
}

static int cmd_query(int argc, char **argv) {
    char *p[3];
    if (positionals(argc, argv, 2, p, 3) != 2)
        return usage_error("%s", "query DIR COLLECTION [--where FIELD=JSON] [--limit N]");
    const char *where = option(argc, argv, 2, "--where"), *lim = option(argc, argv, 2, "--limit");
    long limit = lim ? strtol(lim, NULL, 10) : -1;
    if (lim && limit <= 0) return usage_error("bad --limit '%s'", lim);
    char wfield[256] = "";
    jbuf want = {0};
    if (where) {
        const char *eq = strchr(where, '=');
        char jerr[160];
        if (!eq || eq == where || (size_t)(eq - where) >= sizeof wfield)
            return usage_error("bad --where '%s' (FIELD=JSON)", where);
        memcpy(wfield, where, (size_t)(eq - where));
        if (json_to_value(&want, eq + 1, strlen(eq + 1), jerr, sizeof jerr)) {
            jbuf_free(&want);
            return input_error(jerr);
        }
    }
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, p[0], err, sizeof err)) {
        jbuf_free(&want);
        return input_error(err);
    }
    const char *after = NULL, *key;
    size_t after_len = 0, key_len;
    long shown = 0;
    for (;;) {
        const uint8_t *doc;
        size_t dl;
        int rc =
            weft_replica_next_doc(sd.replica, p[1], strlen(p[1]), after, after_len, &key, &key_len);
        if (rc) break;
        /* key is borrowed until the next call: keep a copy for `after`. */
        static char last[1025];
        memcpy(last, key, key_len);
        after = last;
        after_len = key_len;
        if (weft_replica_get_doc(sd.replica, p[1], strlen(p[1]), last, key_len, &doc, &dl))
            continue;
        if (where) {
            const uint8_t *fv;
            size_t fl;
            if (json_map_get(doc, dl, wfield, &fv, &fl) || fl != want.len ||
                memcmp(fv, want.p, fl) != 0)
                continue;
        }
        print_doc(last, key_len, doc, dl);
        printf("\n");
        if (limit > 0 && ++shown >= limit) break;
    }
    jbuf_free(&want);
    spacedir_close(&sd);
    return EXIT_OK;
}

/* Applies the changes of another replica directory or record file, and
 * stores the ones that were new here. */
static int cmd_merge(int argc, char **argv) {
    char *p[3];
    if (positionals(argc, argv, 2, p, 3) != 2) return usage_error("%s", "merge DIR SOURCE");
    char file[1100];
    struct stat st;
    if (stat(p[1], &st) == 0 && S_ISDIR(st.st_mode)
            ? path_join(file, sizeof file, p[1], "changes.weft")
            : (size_t)snprintf(file, sizeof file, "%s", p[1]) >= sizeof file) {
        fprintf(stderr, "weft: path too long: %s\n", p[1]);
        return EXIT_INPUT;
    }
    uint8_t *recs;
    size_t len;
    if (read_file(file, &recs, &len)) {
        fprintf(stderr, "weft: cannot read %s: %s\n", file, strerror(errno));
        return EXIT_INPUT;
    }
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, p[0], err, sizeof err)) {
        free(recs);
        return input_error(err);
    }
    weft_apply_result res = {0};
    int rc = spacedir_take(&sd, recs, len, &res, err, sizeof err);
    int out = EXIT_OK;
    if (rc > 0) {
        fprintf(stderr, "weft: %s\n", err);
        out = EXIT_FAILED;
    } else if (rc) {
        fprintf(stderr, "weft: cannot merge %s: %s\n", file, weft_strerror(rc));
        out = EXIT_INPUT;
    } else {
        printf("{\"applied\":%zu,\"duplicates\":%zu,\"rejected\":%zu,\"waiting\":%zu,"
               "\"error\":",
               (size_t)res.applied, (size_t)res.duplicates, (size_t)res.rejected,
               weft_replica_pending_count(sd.replica));
        if (res.first_error)
            printf("\"%s\"}\n", weft_err_name(res.first_error));
        else
            printf("null}\n");
        if (res.rejected) out = EXIT_INPUT;
    }
    free(recs);
    spacedir_close(&sd);
    return out;
}

/* `weft export DIR`: the replica's documents in weftdb's export format
 * (docs/API.md, "Export, import, leave, delete"), so space.importJSON reads
 * it: every collection, every visible document, as stored. */
static int cmd_export(int argc, char **argv) {
    char *p[2];
    if (positionals(argc, argv, 2, p, 2) != 1) return usage_error("%s", "export DIR");
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, p[0], err, sizeof err)) return input_error(err);
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.000Z", gmtime(&now));
    printf("{\"format\":\"weftdb-export\",\"version\":1,");
    print_b64_field("space", sd.space, 32, 1);
    printf("\"exportedAt\":\"%s\",\"collections\":{", when);
    const char *name, *key;
    size_t name_len, key_len;
    int colls = 0, rc = EXIT_OK;
    for (size_t i = 0; weft_replica_collection(sd.replica, i, &name, &name_len) == 0; i++) {
        /* Both names are borrowed until the next call: keep copies. */
        char coll[256], last[1025];
        memcpy(coll, name, name_len);
        const char *after = NULL;
        size_t after_len = 0;
        int docs = 0;
        while (weft_replica_next_doc(sd.replica, coll, name_len, after, after_len, &key,
                                     &key_len) == 0) {
            memcpy(last, key, key_len);
            after = last;
            after_len = key_len;
            const uint8_t *doc;
            size_t dl;
            if (weft_replica_get_doc(sd.replica, coll, name_len, last, key_len, &doc, &dl))
                continue;
            if (!docs++) {
                if (colls++) putchar(',');
                json_print_string(stdout, coll, name_len);
                printf(":{");
            } else {
                putchar(',');
            }
            json_print_string(stdout, last, key_len);
            putchar(':');
            if (json_print_export_value(stdout, doc, dl)) rc = EXIT_FAILED;
        }
        if (docs) putchar('}');
    }
    printf("}}\n");
    spacedir_close(&sd);
    return rc;
}

/* `weft import DIR FILE`: writes every document of an export (weft export,
 * or weftdb's exportJSON) into the replica: each one's fields, 500
 * documents to a change. The whole file is checked before anything is
 * written. */
enum { IMPORT_CHUNK = 500 };

/* A map member's name length (a varint) at *p, which moves past it. */
static size_t member_len(const uint8_t **p) {
    size_t n = 0;
    int shift = 0;
    uint8_t b;
    do {
        b = *(*p)++;
        n |= (size_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    return n;
}

static int import_docs(spacedir *sd, const uint8_t *colls, size_t colls_len, int write,
                       size_t *count, char *err, size_t err_cap) {
    weft_value cv;
    if (weft_value_read(&cv, NULL, colls, colls_len) || cv.type != WEFT_TYPE_MAP)
        return snprintf(err, err_cap, "collections is not an object"), -1;
    const uint8_t *p = cv.ptr, *end = cv.ptr + cv.len;
    for (uint64_t i = 0; i < cv.count; i++) {
        size_t cl = (size_t)member_len(&p), n;
        char coll[256];
        if (cl >= sizeof coll) return snprintf(err, err_cap, "a collection name is too long"), -1;
        memcpy(coll, p, cl);
        coll[cl] = 0;
        p += cl;
        weft_value dv;
        if (weft_value_read(&dv, &n, p, (size_t)(end - p)) || dv.type != WEFT_TYPE_MAP)
            return snprintf(err, err_cap, "collection %s is not an object of documents", coll), -1;
        const uint8_t *q = dv.ptr, *dend = dv.ptr + dv.len;
        for (uint64_t j = 0; j < dv.count; j++) {
            size_t il = (size_t)member_len(&q), m;
            char id[1025];
            if (il >= sizeof id) return snprintf(err, err_cap, "a document id is too long"), -1;
            memcpy(id, q, il);
            id[il] = 0;
            q += il;
            weft_value doc;
            weft_value_read(&doc, &m, q, (size_t)(dend - q));
            jbuf fields = {0};
            char why[160];
            int rc = json_untag_document(&fields, q, m, why, sizeof why);
            if (rc) snprintf(err, err_cap, "%.100s/%.200s: %s", coll, id, why);
            weft_value f;
            if (!rc && write && !weft_value_read(&f, NULL, fields.p, fields.len) && f.count) {
                int w = put_members(sd->replica, coll, id, &fields);
                if (w) snprintf(err, err_cap, "%.100s/%.200s: %s", coll, id, weft_strerror(w));
                if (!w && ++*count % IMPORT_CHUNK == 0 && spacedir_commit(sd, err, err_cap)) w = -1;
                rc = w ? -1 : 0;
            }
            jbuf_free(&fields);
            if (rc) return -1;
            q += m;
        }
        p += n;
    }
    return 0;
}

static int cmd_import(int argc, char **argv) {
    char *p[3];
    if (positionals(argc, argv, 2, p, 3) != 2) return usage_error("%s", "import DIR FILE");
    uint8_t *text;
    size_t len;
    if (read_file(p[1], &text, &len)) {
        fprintf(stderr, "weft: cannot read %s: %s\n", p[1], strerror(errno));
        return EXIT_INPUT;
    }
    jbuf v = {0};
    char err[512] = "";
    int rc = json_to_value(&v, (const char *)text, len, err, sizeof err) ? EXIT_INPUT : EXIT_OK;
    free(text);
    const uint8_t *fmt, *ver, *colls;
    size_t fl, vl, cl;
    weft_value fv, vv;
    if (!rc &&
        (json_map_get(v.p, v.len, "format", &fmt, &fl) || weft_value_read(&fv, NULL, fmt, fl) ||
         fv.type != WEFT_TYPE_STRING || fv.len != 13 || memcmp(fv.ptr, "weftdb-export", 13))) {
        snprintf(err, sizeof err, "not a weftdb export (format is not \"weftdb-export\")");
        rc = EXIT_INPUT;
    }
    if (!rc && (json_map_get(v.p, v.len, "version", &ver, &vl) ||
                weft_value_read(&vv, NULL, ver, vl) || vv.type != WEFT_TYPE_INT || vv.i != 1)) {
        snprintf(err, sizeof err, "an export of another version: this build reads version 1");
        rc = EXIT_INPUT;
    }
    if (!rc && json_map_get(v.p, v.len, "collections", &colls, &cl)) {
        snprintf(err, sizeof err, "an export has collections");
        rc = EXIT_INPUT;
    }
    size_t count = 0;
    spacedir sd;
    int opened = 0;
    if (!rc && import_docs(NULL, colls, cl, 0, &count, err, sizeof err)) rc = EXIT_INPUT;
    if (!rc && spacedir_open(&sd, p[0], err, sizeof err))
        rc = EXIT_INPUT;
    else if (!rc)
        opened = 1;
    if (!rc) rc = check_can_write(&sd);
    if (!rc && (import_docs(&sd, colls, cl, 1, &count, err, sizeof err) ||
                (count % IMPORT_CHUNK && spacedir_commit(&sd, err, sizeof err))))
        rc = EXIT_FAILED;
    if (rc && *err) fprintf(stderr, "weft: %s\n", err);
    if (!rc) printf("{\"imported\":%zu}\n", count);
    if (opened) spacedir_close(&sd);
    jbuf_free(&v);
    return rc;
}

static int cmd_status(int argc, char **argv) {
    char *p[2];
    if (positionals(argc, argv, 2, p, 2) != 1) return usage_error("%s", "status DIR");
    spacedir sd;
    char err[512];
    if (spacedir_open(&sd, p[0], err, sizeof err)) return input_error(err);
    uint8_t h[32];
    weft_state_hash(sd.replica, h);
    weft_token t;
    int tok = weft_token_verify(&sd.be, sd.token, sd.token_len, sd.space, now_s(), &t);
    if (spacedir_by_grant(&sd)) {
        t.rights = claim_rights(&sd);
        tok = t.rights ? 0 : WEFT_EMALFORMED;
    }
    printf("{");
    print_b64_field("space", sd.space, 32, 1);
    print_b64_field("author", sd.author_pk, 32, 1);
    printf("\"rights\":%s%s%s,", tok ? "null" : "\"", tok ? "" : rights_name(t.rights),
           tok ? "" : "\"");
    printf("\"owner\":%s,\"changes\":%" PRIu64 ",\"pending\":%zu,\"torn_tail_bytes\":%zu,",
           sd.has_owner ? "true" : "false", weft_replica_change_count(sd.replica),
           weft_replica_pending_count(sd.replica), sd.torn_bytes);
    printf("\"relay\":");
    json_print_string(stdout, sd.relay, strlen(sd.relay));
    char hex[WEFT__HEX_LEN(32)];
    weft__hex_encode(hex, sizeof hex, h, 32);
    printf(",\"state_hash\":\"%s\"}\n", hex);
    spacedir_close(&sd);
    return EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        }
    const char *c = argv[1], *sub = argc > 2 ? argv[2] : "";
    if (strcmp(c, "keygen") == 0) return cmd_keygen(argc, argv);
    if (strcmp(c, "space") == 0 && strcmp(sub, "create") == 0) return cmd_space_create(argc, argv);
    if (strcmp(c, "invite") == 0 && strcmp(sub, "inspect") == 0)
        return cmd_invite_inspect(argc, argv);
    if (strcmp(c, "invite") == 0) return cmd_invite(argc, argv);
    if (strcmp(c, "join") == 0) return cmd_join(argc, argv);
    if (strcmp(c, "admission") == 0 && strcmp(sub, "issue") == 0)
        return cmd_admission_issue(argc, argv);
    if (strcmp(c, "members") == 0) return cmd_members(argc, argv);
    if (strcmp(c, "grant") == 0) return cmd_grant(argc, argv);
    if (strcmp(c, "remove") == 0) return cmd_remove(argc, argv);
    if (strcmp(c, "device-code") == 0) return cmd_device_code(argc, argv);
    if (strcmp(c, "link") == 0) return cmd_link(argc, argv);
    if (strcmp(c, "backup") == 0) return cmd_backup(argc, argv);
    if (strcmp(c, "restore") == 0) return cmd_restore(argc, argv);
    if (strcmp(c, "put") == 0) return cmd_put(argc, argv);
    if (strcmp(c, "get") == 0) return cmd_get(argc, argv);
    if (strcmp(c, "delete") == 0) return cmd_delete(argc, argv);
    if (strcmp(c, "text") == 0) return cmd_text(argc, argv);
    if (strcmp(c, "list") == 0) return cmd_list(argc, argv);
    if (strcmp(c, "query") == 0) return cmd_query(argc, argv);
    if (strcmp(c, "status") == 0) return cmd_status(argc, argv);
    if (strcmp(c, "export") == 0) return cmd_export(argc, argv);
    if (strcmp(c, "import") == 0) return cmd_import(argc, argv);
    if (strcmp(c, "space") == 0 && strcmp(sub, "delete") == 0) return cmd_space_delete(argc, argv);
    if (strcmp(c, "merge") == 0) return cmd_merge(argc, argv);
    if (strcmp(c, "sync") == 0) {
        /* `weft sync DIR --invite LINK --relay URL` joins first when DIR is new. */
        char file[1100];
        int fits = argc > 2 && !path_join(file, sizeof file, argv[2], "space.json");
        if (fits && option(argc, argv, 2, "--invite") && access(file, F_OK) != 0) {
            int rc = cmd_join(argc, argv);
            if (rc) return rc;
        }
        return cmd_sync(argc, argv);
    }
    if (strcmp(c, "snapshot") == 0) return cmd_snapshot(argc, argv);
    if (strcmp(c, "level") == 0) return cmd_level(argc, argv);
    if (strcmp(c, "log") == 0) return cmd_log(argc, argv);
    if (strcmp(c, "bench") == 0) return cmd_bench(argc, argv);
    return usage_error("unknown command '%s'", c);
}
