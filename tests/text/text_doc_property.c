/*
 * Convergence property test of text fields in documents: per seeded case,
 * 3 replicas of one space (two counting code points, one UTF-16 units)
 * splice random text (1- to 4-byte characters) into two notes, and now and
 * then overwrite a note with a string, delete the field or the document;
 * changes travel in random order, some twice, and a replica is sometimes
 * restarted from a snapshot. After every change reached everyone, all state
 * hashes must be equal and nothing may wait.
 *
 * One case in four runs "synced": every replica has every change before
 * each step, so a plain string model must predict every value exactly.
 * The digest it prints must be equal natively and in WASM.
 *
 * Usage: text_doc_property [CASES] [FIRST_SEED]
 */
#include "weft/weft.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prop_rng.h"

#define NREP 3
#define NDOC 2

typedef struct rec {
    uint8_t *p;
    size_t len;
} rec;

static rec *recs;
static size_t n_recs, cap_recs;
static uint64_t digest = 1469598103934665603ULL;
static int failures;
static uint8_t space[32];
static const char *const docs[NDOC] = {"a", "b"};

#define FAIL(...)                                                 \
    do {                                                          \
        fprintf(stderr, "seed %llu: ", (unsigned long long)seed); \
        fprintf(stderr, __VA_ARGS__);                             \
        fprintf(stderr, "\n");                                    \
        failures++;                                               \
        goto done;                                                \
    } while (0)

static void keep(const uint8_t *p, size_t len) {
    if (!len) return;
    if (n_recs == cap_recs) {
        cap_recs = cap_recs ? cap_recs * 2 : 64;
        recs = realloc(recs, cap_recs * sizeof *recs);
        if (!recs) abort();
    }
    recs[n_recs].p = malloc(len);
    if (!recs[n_recs].p) abort();
    memcpy(recs[n_recs].p, p, len);
    recs[n_recs++].len = len;
}

static weft_replica *new_rep(int i) {
    uint8_t key[32];
    memset(key, 0x31 + 0x11 * i, 32);
    weft_replica_config cfg = {.space = space,
                               .author = key,
                               .keep_records = 1,
                               .text_unit = i == 2 ? WEFT_TEXT_UTF16 : WEFT_TEXT_CODEPOINTS};
    weft_replica *r;
    if (weft_replica_new(&r, &cfg)) abort();
    return r;
}

/* The visible string of a note into buf (NUL-terminated); 0 if none. */
static int read_note(weft_replica *r, int d, char *buf, size_t cap) {
    const uint8_t *v;
    size_t len;
    weft_value val;
    buf[0] = 0;
    if (weft_replica_get_field(r, "notes", 5, docs[d], 1, "body", 4, &v, &len)) return 0;
    if (weft_value_read(&val, NULL, v, len) || val.type != WEFT_TYPE_STRING || val.len >= cap)
        abort();
    memcpy(buf, val.ptr, val.len);
    buf[val.len] = 0;
    return 1;
}

/* Byte offset of code point cp in s, and its position in the unit. */
static size_t cp_offset(const char *s, size_t cp, int utf16, size_t *unit) {
    size_t b = 0, u = 0;
    for (size_t i = 0; i < cp; i++) {
        uint8_t c = (uint8_t)s[b];
        size_t l = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        u += utf16 && l == 4 ? 2 : 1;
        b += l;
    }
    *unit = u;
    return b;
}

static size_t cps(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((uint8_t)*s & 0xc0) != 0x80;
    return n;
}

static void random_text(char *out) {
    static const char *const chars[] = {
        "a", "b", "c", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    out[0] = 0;
    for (size_t n = 1 + below(3); n; n--)
        strcat(out, chars[below(sizeof chars / sizeof *chars)]);
}

static int deliver_all(weft_replica *r) {
    for (size_t k = 0; k < n_recs; k++)
        if (weft_replica_apply(r, recs[k].p, recs[k].len, NULL)) return 1;
    return 0;
}

static void run_case(uint64_t seed) {
    rng = seed;
    n_recs = 0;
    int synced = seed % 4 == 0;
    weft_replica *r[NREP];
    for (int i = 0; i < NREP; i++)
        r[i] = new_rep(i);
    char model[NDOC][512];
    int has[NDOC] = {0, 0};
    size_t steps = 30 + below(60);
    for (size_t step = 0; step < steps; step++) {
        int i = (int)below(NREP), d = (int)below(NDOC);
        if (synced)
            for (int k = 0; k < NREP; k++)
                if (deliver_all(r[k])) FAIL("an honest change was refused");
        size_t what = below(100);
        char cur[512];
        read_note(r[i], d, cur, sizeof cur);
        const uint8_t *out;
        size_t olen;
        if (what < 70 && strlen(cur) < 300) {
            size_t n = cps(cur), p = below(n + 1), del = below((n - p < 4 ? n - p : 4) + 1), up, ue;
            size_t bp = cp_offset(cur, p, i == 2, &up), be = cp_offset(cur, p + del, i == 2, &ue);
            char ins[16];
            random_text(ins);
            if (below(5) == 0) ins[0] = 0; /* a pure delete */
            int rc = weft_replica_text_splice(r[i], "notes", 5, docs[d], 1, "body", 4, up, ue - up,
                                              ins, strlen(ins), 0, &out, &olen);
            if (rc) FAIL("splice refused: %s", weft_err_name(rc));
            keep(out, olen);
            if (synced && (olen || has[d])) {
                char next[512];
                snprintf(next, sizeof next, "%.*s%s%s", (int)bp, cur, ins, cur + be);
                strcpy(model[d], next);
                has[d] = 1;
            }
        } else if (what < 90) {
            uint8_t v[64];
            size_t vl;
            char s[16];
            random_text(s);
            if (what < 80) {
                weft_value_write_string(v, sizeof v, &vl, s, strlen(s));
                if (weft_replica_put(r[i], "notes", 5, docs[d], 1, "body", 4, v, vl)) abort();
            } else if (what < 85) {
                if (weft_replica_delete_field(r[i], "notes", 5, docs[d], 1, "body", 4)) abort();
            } else if (weft_replica_delete_doc(r[i], "notes", 5, docs[d], 1)) {
                abort();
            }
            if (weft_replica_commit(r[i], 0, &out, &olen)) abort();
            keep(out, olen);
            if (synced) {
                has[d] = what < 80;
                strcpy(model[d], has[d] ? s : "");
            }
        } else if (what < 97) {
            for (size_t k = 1 + below(4); k && n_recs; k--) {
                const rec *x = &recs[below(n_recs)];
                if (weft_replica_apply(r[i], x->p, x->len, NULL)) FAIL("a change was refused");
            }
        } else {
            const uint8_t *snap;
            size_t sl;
            if (weft_replica_snapshot(r[i], &snap, &sl)) abort();
            weft_replica *fresh = new_rep(i);
            if (weft_replica_load_snapshot(fresh, snap, sl)) FAIL("snapshot refused");
            weft_replica_free(r[i]);
            r[i] = fresh;
        }
        if (synced) {
            char got[512];
            int h = read_note(r[i], d, got, sizeof got);
            if (h != has[d] || (h && strcmp(got, model[d]) != 0))
                FAIL("step %zu: note %s is \"%s\" (%d), model \"%s\" (%d)", step, docs[d], got, h,
                     model[d], has[d]);
        }
    }
    uint8_t h0[32], h[32];
    for (int i = 0; i < NREP; i++) {
        if (deliver_all(r[i])) FAIL("an honest change was refused");
        if (weft_replica_pending_count(r[i])) FAIL("replica %d still waits", i);
        if (weft_state_hash(r[i], i ? h : h0)) abort();
        if (i && memcmp(h, h0, 32) != 0) FAIL("replica %d diverged", i);
    }
    for (int k = 0; k < 32; k++)
        digest = (digest ^ h0[k]) * 1099511628211ULL;
done:
    for (int i = 0; i < NREP; i++)
        weft_replica_free(r[i]);
    for (size_t k = 0; k < n_recs; k++)
        free(recs[k].p);
}

int main(int argc, char **argv) {
    unsigned long cases = argc > 1 ? strtoul(argv[1], NULL, 10) : 500;
    unsigned long long first = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    memset(space, 0x5a, 32);
    for (unsigned long c = 0; c < cases && failures < 5; c++)
        run_case(first + c);
    free(recs);
    printf("%lu cases, %d failed, digest %016llx\n", cases, failures, (unsigned long long)digest);
    return failures ? 1 : 0;
}
