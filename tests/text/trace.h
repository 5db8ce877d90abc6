/*
 * Editing-trace loader for tests and benchmarks (never the core): gunzips a
 * trace from tests/traces/ with zlib and reads its JSON with a minimal
 * parser that knows exactly the shape of those files (tests/traces/
 * ATTRIBUTION.md): objects, arrays, strings (with \u escapes and surrogate
 * pairs, turned into UTF-8), non-negative integers, and values it skips.
 *
 * Header-only so the test, the fuzz seeds and the bench share it; every
 * function is static. Exits with a message on any error: a broken trace is
 * a broken test, not a case to handle.
 */
#ifndef WEFT_TEST_TRACE_H
#define WEFT_TEST_TRACE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef TRACE_NO_ZLIB
#include <zlib.h>
#endif

typedef struct trace_patch {
    uint32_t pos, del; /* code points */
    char *ins;         /* UTF-8 */
    size_t ins_len;
} trace_patch;

typedef struct trace_txn {
    uint32_t *parents; /* concurrent traces only */
    size_t n_parents;
    uint32_t agent;
    trace_patch *patches;
    size_t n_patches;
} trace_txn;

typedef struct trace {
    int concurrent;
    uint32_t n_agents;
    char *end; /* endContent, UTF-8 */
    size_t end_len;
    trace_txn *txns;
    size_t n_txns;
    size_t n_patches;
} trace;

static void trace_die(const char *what, const char *path) {
    fprintf(stderr, "trace %s: %s\n", path, what);
    exit(1);
}

static void *trace_xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) trace_die("out of memory", "");
    return p;
}

/* The whole gunzipped file, NUL-terminated. With TRACE_NO_ZLIB (a WASM
 * build without a zlib port) the file must be gunzipped already. */
#ifdef TRACE_NO_ZLIB
typedef FILE *gzFile;
#define gzopen(path, mode) fopen(path, mode)
#define gzread(f, buf, n)  (int)fread(buf, 1, n, f)
#define gzclose(f)         fclose(f)
#endif
static char *trace_gunzip(const char *path, size_t *len) {
    gzFile f = gzopen(path, "rb");
    if (!f) trace_die("cannot open", path);
    size_t cap = 1 << 20, n = 0;
    char *buf = trace_xrealloc(NULL, cap);
    for (;;) {
        if (cap - n < 65536) buf = trace_xrealloc(buf, cap *= 2);
        int got = gzread(f, buf + n, (unsigned)(cap - n - 1));
        if (got < 0) trace_die("gunzip failed", path);
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

typedef struct jp {
    const char *p, *end, *path;
} jp;

static void jp_ws(jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static void jp_expect(jp *j, char c) {
    jp_ws(j);
    if (j->p >= j->end || *j->p != c) trace_die("unexpected JSON", j->path);
    j->p++;
}

static int jp_peek(jp *j, char c) {
    jp_ws(j);
    return j->p < j->end && *j->p == c;
}

static unsigned jp_hex4(jp *j) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p < j->end ? *j->p++ : 0;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            trace_die("bad \\u escape", j->path);
    }
    return v;
}

static size_t jp_utf8(char *d, unsigned cp) {
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | cp >> 12);
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | cp >> 18);
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A JSON string as newly allocated UTF-8 (escapes take no more bytes
 * decoded than encoded, so the input length bounds the output). */
static char *jp_string(jp *j, size_t *len) {
    jp_expect(j, '"');
    const char *s = j->p;
    while (j->p < j->end && *j->p != '"')
        j->p += *j->p == '\\' ? 2 : 1;
    if (j->p >= j->end) trace_die("unterminated string", j->path);
    const char *e = j->p++;
    char *out = trace_xrealloc(NULL, (size_t)(e - s) + 1), *d = out;
    jp sub = {s, e, j->path};
    while (sub.p < e) {
        char c = *sub.p++;
        if (c != '\\') {
            *d++ = c;
            continue;
        }
        c = *sub.p++;
        switch (c) {
        case 'n':
            *d++ = '\n';
            break;
        case 't':
            *d++ = '\t';
            break;
        case 'r':
            *d++ = '\r';
            break;
        case 'b':
            *d++ = '\b';
            break;
        case 'f':
            *d++ = '\f';
            break;
        case 'u': {
            unsigned cp = jp_hex4(&sub);
            if (cp >= 0xd800 && cp < 0xdc00 && sub.p + 6 <= e && sub.p[0] == '\\' &&
                sub.p[1] == 'u') {
                sub.p += 2;
                unsigned lo = jp_hex4(&sub);
                if (lo < 0xdc00 || lo > 0xdfff) trace_die("lone surrogate", j->path);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                trace_die("lone surrogate", j->path);
            }
            d += jp_utf8(d, cp);
            break;
        }
        default:
            *d++ = c; /* \" \\ \/ */
        }
    }
    *len = (size_t)(d - out);
    *d = 0;
    return out;
}

static uint32_t jp_uint(jp *j) {
    jp_ws(j);
    uint64_t v = 0;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') trace_die("expected a number", j->path);
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        v = v * 10 + (uint64_t)(*j->p++ - '0');
    if (v > UINT32_MAX) trace_die("number too big", j->path);
    return (uint32_t)v;
}

static void jp_skip(jp *j) {
    jp_ws(j);
    if (jp_peek(j, '"')) {
        size_t n;
        free(jp_string(j, &n));
    } else if (jp_peek(j, '{') || jp_peek(j, '[')) {
        char close = *j->p == '{' ? '}' : ']';
        j->p++;
        if (jp_peek(j, close)) {
            j->p++;
            return;
        }
        do {
            if (close == '}') {
                size_t n;
                free(jp_string(j, &n));
                jp_expect(j, ':');
            }
            jp_skip(j);
        } while (jp_peek(j, ',') && j->p++);
        jp_expect(j, close);
    } else {
        while (j->p < j->end && !strchr(",}] \n\r\t", *j->p))
            j->p++;
    }
}

/* [pos, del, "text"] */
static void jp_patch(jp *j, trace_patch *p) {
    jp_expect(j, '[');
    p->pos = jp_uint(j);
    jp_expect(j, ',');
    p->del = jp_uint(j);
    jp_expect(j, ',');
    p->ins = jp_string(j, &p->ins_len);
    jp_expect(j, ']');
}

static void jp_txn(jp *j, trace_txn *t) {
    memset(t, 0, sizeof *t);
    jp_expect(j, '{');
    do {
        size_t kn;
        char *k = jp_string(j, &kn);
        jp_expect(j, ':');
        if (strcmp(k, "patches") == 0 || strcmp(k, "parents") == 0) {
            int patches = k[1] == 'a' && k[2] == 't';
            size_t cap = 0, n = 0;
            jp_expect(j, '[');
            if (!jp_peek(j, ']')) do {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 4;
                        if (patches)
                            t->patches = trace_xrealloc(t->patches, cap * sizeof *t->patches);
                        else
                            t->parents = trace_xrealloc(t->parents, cap * sizeof *t->parents);
                    }
                    if (patches)
                        jp_patch(j, &t->patches[n++]);
                    else
                        t->parents[n++] = jp_uint(j);
                } while (jp_peek(j, ',') && j->p++);
            jp_expect(j, ']');
            if (patches)
                t->n_patches = n;
            else
                t->n_parents = n;
        } else if (strcmp(k, "agent") == 0) {
            t->agent = jp_uint(j);
        } else {
            jp_skip(j);
        }
        free(k);
    } while (jp_peek(j, ',') && j->p++);
    jp_expect(j, '}');
}

static trace *trace_load(const char *path) {
    size_t len;
    char *buf = trace_gunzip(path, &len);
    jp j = {buf, buf + len, path};
    trace *t = calloc(1, sizeof *t);
    if (!t) trace_die("out of memory", path);
    jp_expect(&j, '{');
    do {
        size_t kn;
        char *k = jp_string(&j, &kn);
        jp_expect(&j, ':');
        if (strcmp(k, "endContent") == 0) {
            t->end = jp_string(&j, &t->end_len);
        } else if (strcmp(k, "kind") == 0) {
            size_t n;
            char *v = jp_string(&j, &n);
            t->concurrent = strcmp(v, "concurrent") == 0;
            free(v);
        } else if (strcmp(k, "numAgents") == 0) {
            t->n_agents = jp_uint(&j);
        } else if (strcmp(k, "txns") == 0) {
            size_t cap = 0;
            jp_expect(&j, '[');
            if (!jp_peek(&j, ']')) do {
                    if (t->n_txns == cap)
                        t->txns =
                            trace_xrealloc(t->txns, (cap = cap ? cap * 2 : 1024) * sizeof *t->txns);
                    jp_txn(&j, &t->txns[t->n_txns]);
                    t->n_patches += t->txns[t->n_txns++].n_patches;
                } while (jp_peek(&j, ',') && j.p++);
            jp_expect(&j, ']');
        } else if (strcmp(k, "startContent") == 0) {
            size_t n;
            char *v = jp_string(&j, &n);
            if (n) trace_die("non-empty startContent is not supported", path);
            free(v);
        } else {
            jp_skip(&j);
        }
        free(k);
    } while (jp_peek(&j, ',') && j.p++);
    jp_expect(&j, '}');
    free(buf);
    if (!t->end) trace_die("no endContent", path);
    if (t->concurrent && !t->n_agents) t->n_agents = 1;
    return t;
}

static void trace_free(trace *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n_txns; i++) {
        for (size_t k = 0; k < t->txns[i].n_patches; k++)
            free(t->txns[i].patches[k].ins);
        free(t->txns[i].patches);
        free(t->txns[i].parents);
    }
    free(t->txns);
    free(t->end);
    free(t);
}

#endif
