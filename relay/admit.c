/*
 * Operator admission (admit.h). The owners list is an id table of space
 * ids; a reload builds a whole new table and swaps it in only when the file
 * parsed, so a bad edit never empties a running relay's list.
 */
#include "admit.h"
#include "admission.h"
#include "hex.h"
#include "idtable.h"
#include "relay.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct admit {
    int is_signed;
    uint8_t operator_pk[32];
    char *path;
    weft__idtab owners;
    uint8_t seed[16];
};

/* A key as 64 hex digits or 43 base64url characters. 0 or -1. */
static int parse_key(uint8_t out[32], const char *s, size_t n) {
    if (n == 64) return weft__hex_decode(out, 32, NULL, s, n) ? -1 : 0;
    size_t len;
    if (n == 43 && weft_base64url_decode(out, 32, &len, s, n) == 0 && len == 32) return 0;
    return -1;
}

/* Reads path into t (fresh, keyed by seed). Returns 0, or -1 with why. */
static int load(weft__idtab *t, const char *path, const uint8_t seed[16], char *why,
                size_t why_cap) {
    weft__idtab_init(t, seed);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_cap, "cannot open %s", path);
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            snprintf(why, why_cap, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *s = line;
        while (*s && isspace((unsigned char)*s))
            s++;
        n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        if (n == 0 || s[0] == '#') continue;
        uint8_t key[32];
        if (parse_key(key, s, n)) {
            snprintf(why, why_cap, "%s:%d: not a key (64 hex digits or 43 base64url characters)",
                     path, lineno);
            rc = -1;
            break;
        }
        if (weft__idtab_put(t, key, (void *)1, NULL)) {
            snprintf(why, why_cap, "%s: out of memory", path);
            rc = -1;
            break;
        }
    }
    fclose(f);
    if (rc) weft__idtab_free(t);
    return rc;
}

int admit_new(admit **out, const char *spec, const uint8_t seed[16]) {
    *out = NULL;
    if (!spec || strcmp(spec, "any") == 0) return 0;
    if (strncmp(spec, "signed:", 7) == 0) {
        admit *a = calloc(1, sizeof *a);
        if (!a) return -1;
        a->is_signed = 1;
        if (parse_key(a->operator_pk, spec + 7, strlen(spec + 7))) {
            fprintf(stderr, "weft-relay: --admit signed:KEY wants the operator's public key (64 "
                            "hex digits or 43 base64url characters)\n");
            free(a);
            return -1;
        }
        *out = a;
        return 0;
    }
    if (strncmp(spec, "owners:", 7) != 0 || !spec[7]) {
        fprintf(stderr, "weft-relay: --admit is any, owners:FILE or signed:KEY, not '%s'\n", spec);
        return -1;
    }
    admit *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(spec + 7))) {
        free(a);
        return -1;
    }
    memcpy(a->seed, seed, 16);
    char why[600];
    if (load(&a->owners, a->path, a->seed, why, sizeof why)) {
        fprintf(stderr, "weft-relay: --admit: %s\n", why);
        admit_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

int admit_reload(admit *a) {
    if (!a || a->is_signed) return 0;
    weft__idtab t;
    char why[600];
    if (load(&t, a->path, a->seed, why, sizeof why)) {
        relay_log("admission list not reloaded (the previous one stays): %s", why);
        return -1;
    }
    weft__idtab_free(&a->owners);
    a->owners = t;
    relay_log("admission list reloaded: %zu spaces", weft__idtab_count(&a->owners));
    return 0;
}

uint32_t admit_check(const relay *r, const uint8_t space[32], const uint8_t *adm, size_t adm_len,
                     uint64_t *bytes, const char **why) {
    const admit *a = r->admit;
    if (bytes) *bytes = 0;
    *why = NULL;
    if (!a) return 0;
    if (!a->is_signed) {
        if (weft__idtab_get(&a->owners, space)) return 0;
        *why = "this relay does not host the space";
        return WEFT_PROTO_ENOT_ADMITTED;
    }
    if (!adm) {
        *why = "this relay hosts only spaces with an admission token";
        return WEFT_PROTO_ENOT_ADMITTED;
    }
    weft__admission ad;
    int rc =
        weft__admission_verify(&r->be, adm, adm_len, a->operator_pk, space, relay_unix_s(), &ad);
    if (rc == WEFT_EEXPIRED || rc == WEFT_ENOTYET) {
        *why = "the admission token has expired or is not valid yet";
        return WEFT_PROTO_ENOT_ADMITTED;
    }
    if (rc) {
        *why = "the admission token is not this relay operator's for this space";
        return WEFT_PROTO_ENOT_ADMITTED;
    }
    if (bytes) *bytes = ad.bytes;
    return 0;
}

uint64_t admit_count(const admit *a) {
    return a && !a->is_signed ? weft__idtab_count(&a->owners) : 0;
}

void admit_free(admit *a) {
    if (!a) return;
    if (!a->is_signed) weft__idtab_free(&a->owners);
    free(a->path);
    free(a);
}
