/*
 * JSON <-> Weft values (see json.h). A recursive-descent parser that writes
 * the canonical encoding directly, except for objects: their members are
 * parsed into side buffers first, then sorted, because the encoding orders
 * map keys by their bytes while JSON keeps them as written.
 */
#include "json.h"

#include "vec.h"

#include "weft/auth.h"
#include "weft/value.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void jbuf_free(jbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

static uint8_t *jbuf_room(jbuf *b, size_t n) {
    if (b->err) return NULL;
    if (b->cap - b->len < n) {
        uint8_t *p =
            n <= SIZE_MAX - b->len ? weft__vec_grow(b->p, &b->cap, b->len + n, 1, 64) : NULL;
        if (!p) {
            b->err = 1;
            return NULL;
        }
        b->p = p;
    }
    return b->p + b->len;
}

static void jbuf_put(jbuf *b, const void *src, size_t n) {
    uint8_t *d = jbuf_room(b, n);
    if (!d) return;
    if (n) memcpy(d, src, n);
    b->len += n;
}

typedef struct parser {
    const char *s, *end, *start;
    char *err;
    size_t err_cap;
    int depth;
} parser;

static int fail(parser *p, const char *why) {
    if (p->err && p->err_cap)
        snprintf(p->err, p->err_cap, "invalid JSON at byte %zu: %s", (size_t)(p->s - p->start),
                 why);
    return -1;
}

static void skip_ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static int hex4(parser *p, unsigned *out) {
    if (p->end - p->s < 4) return fail(p, "short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *p->s++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(p, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

static void put_utf8(jbuf *b, unsigned cp) {
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    jbuf_put(b, u, n);
}

/* A string literal's contents, unescaped, into out (raw UTF-8). */
static int parse_string(parser *p, jbuf *out) {
    p->s++; /* the opening quote */
    while (p->s < p->end && *p->s != '"') {
        unsigned char c = (unsigned char)*p->s;
        if (c < 0x20) return fail(p, "control character in string");
        if (c != '\\') {
            jbuf_put(out, p->s++, 1);
            continue;
        }
        if (++p->s >= p->end) break;
        char e = *p->s++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            jbuf_put(out, &map[simple - "\"\\/bfnrt"], 1);
            continue;
        }
        if (e != 'u') return fail(p, "unknown escape");
        unsigned cp, lo;
        if (hex4(p, &cp)) return -1;
        if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
            if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u')
                return fail(p, "lone surrogate");
            p->s += 2;
            if (hex4(p, &lo)) return -1;
            if (lo < 0xdc00 || lo >= 0xe000) return fail(p, "lone surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp < 0xe000) {
            return fail(p, "lone surrogate");
        }
        put_utf8(out, cp);
    }
    if (p->s >= p->end) return fail(p, "unterminated string");
    p->s++;
    return 0;
}

static int parse_value(parser *p, jbuf *out);

typedef struct member {
    jbuf key, val;
} member;

static int member_cmp(const void *a, const void *b) {
    const member *x = a, *y = b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = n ? memcmp(x->key.p, y->key.p, n) : 0;
    return c ? c : (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

static int parse_object(parser *p, jbuf *out) {
    member *m = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == '}') {
        p->s++;
    } else {
        for (;;) {
            skip_ws(p);
            if (p->s >= p->end || *p->s != '"') {
                rc = fail(p, "expected a member name");
                break;
            }
            member *g = weft__vec_grow(m, &cap, n + 1, sizeof *m, 8);
            if (!g) {
                rc = fail(p, "out of memory");
                break;
            }
            m = g;
            memset(&m[n], 0, sizeof m[n]);
            member *cur = &m[n++];
            if ((rc = parse_string(p, &cur->key))) break;
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':') {
                rc = fail(p, "expected ':'");
                break;
            }
            p->s++;
            if ((rc = parse_value(p, &cur->val))) break;
            skip_ws(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                continue;
            }
            if (p->s < p->end && *p->s == '}') {
                p->s++;
                break;
            }
            rc = fail(p, "expected ',' or '}'");
            break;
        }
    }
    if (!rc) {
        if (n) qsort(m, n, sizeof *m, member_cmp); /* m is NULL for {} */
        uint8_t h[16];
        size_t hl;
        weft_value_write_map(h, sizeof h, &hl, n);
        jbuf_put(out, h, hl);
        for (size_t i = 0; i < n && !rc; i++) {
            if (i && member_cmp(&m[i - 1], &m[i]) == 0) {
                rc = fail(p, "duplicate member name");
                break;
            }
            size_t kl;
            uint8_t *d = jbuf_room(out, m[i].key.len + 10);
            if (!d || weft_value_write_key(d, m[i].key.len + 10, &kl, (const char *)m[i].key.p,
                                           m[i].key.len)) {
                rc = fail(p, "member name is not valid UTF-8");
                break;
            }
            out->len += kl;
            jbuf_put(out, m[i].val.p, m[i].val.len);
        }
    }
    for (size_t i = 0; i < n; i++) {
        jbuf_free(&m[i].key);
        jbuf_free(&m[i].val);
    }
    free(m);
    return rc;
}

static int parse_array(parser *p, jbuf *out) {
    jbuf items = {0};
    uint64_t n = 0;
    int rc = 0;
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == ']') {
        p->s++;
    } else {
        for (;;) {
            if ((rc = parse_value(p, &items))) break;
            n++;
            skip_ws(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                continue;
            }
            if (p->s < p->end && *p->s == ']') {
                p->s++;
                break;
            }
            rc = fail(p, "expected ',' or ']'");
            break;
        }
    }
    if (!rc) {
        uint8_t h[16];
        size_t hl;
        weft_value_write_array(h, sizeof h, &hl, n);
        jbuf_put(out, h, hl);
        jbuf_put(out, items.p, items.len);
    }
    jbuf_free(&items);
    return rc;
}

static int parse_number(parser *p, jbuf *out) {
    const char *s = p->s;
    int is_float = 0;
    if (s < p->end && *s == '-') s++;
    if (s >= p->end || *s < '0' || *s > '9') return fail(p, "bad number");
    if (*s == '0' && s + 1 < p->end && s[1] >= '0' && s[1] <= '9')
        return fail(p, "leading zero in number");
    while (s < p->end && ((*s >= '0' && *s <= '9') || *s == '.' || *s == 'e' || *s == 'E' ||
                          *s == '+' || *s == '-')) {
        if (*s == '.' || *s == 'e' || *s == 'E') is_float = 1;
        s++;
    }
    char tmp[64];
    size_t n = (size_t)(s - p->s);
    if (n >= sizeof tmp) return fail(p, "number too long");
    memcpy(tmp, p->s, n);
    tmp[n] = 0;
    char *endp;
    uint8_t v[WEFT_VALUE_SCALAR_MAX];
    size_t vl;
    if (!is_float) {
        errno = 0;
        long long i = strtoll(tmp, &endp, 10);
        int overflow = errno == ERANGE; /* too big for int64: a float then */
        if (*endp) return fail(p, "bad number");
        if (!overflow) {
            weft_value_write_int(v, sizeof v, &vl, i);
            jbuf_put(out, v, vl);
            p->s = s;
            return 0;
        }
    }
    double d = strtod(tmp, &endp);
    if (*endp || !isfinite(d)) return fail(p, "bad number");
    weft_value_write_float(v, sizeof v, &vl, d);
    jbuf_put(out, v, vl);
    p->s = s;
    return 0;
}

static int literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0) return 0;
    p->s += n;
    return 1;
}

static int parse_value(parser *p, jbuf *out) {
    skip_ws(p);
    if (p->s >= p->end) return fail(p, "unexpected end");
    if (++p->depth > WEFT_VALUE_MAX_DEPTH) return fail(p, "nested too deep");
    int rc = 0;
    uint8_t v[WEFT_VALUE_SCALAR_MAX];
    size_t vl;
    switch (*p->s) {
    case '{':
        rc = parse_object(p, out);
        break;
    case '[':
        rc = parse_array(p, out);
        break;
    case '"': {
        jbuf str = {0};
        rc = parse_string(p, &str);
        if (!rc) {
            size_t cap = str.len + 10;
            uint8_t *d = jbuf_room(out, cap);
            if (!d || weft_value_write_string(d, cap, &vl, (const char *)str.p, str.len))
                rc = fail(p, "string is not valid UTF-8");
            else
                out->len += vl;
        }
        jbuf_free(&str);
        break;
    }
    default:
        if (literal(p, "null"))
            weft_value_write_null(v, sizeof v, &vl);
        else if (literal(p, "true"))
            weft_value_write_bool(v, sizeof v, &vl, 1);
        else if (literal(p, "false"))
            weft_value_write_bool(v, sizeof v, &vl, 0);
        else {
            rc = parse_number(p, out);
            break;
        }
        jbuf_put(out, v, vl);
    }
    p->depth--;
    if (!rc && out->err) rc = fail(p, "out of memory");
    return rc;
}

int json_to_value(jbuf *out, const char *text, size_t len, char *err, size_t err_cap) {
    parser p = {text, text + len, text, err, err_cap, 0};
    size_t mark = out->len;
    int rc = parse_value(&p, out);
    if (!rc) {
        skip_ws(&p);
        if (p.s != p.end) rc = fail(&p, "trailing characters");
    }
    if (rc) out->len = mark;
    return rc;
}

/* ---- printing ---- */

void json_print_string(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static uint64_t read_varint(const uint8_t **p) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    return v;
}

/* True when the map (count members at p) has exactly one member whose
 * name is a tag of the export format: it must be wrapped as {"$map": ...}. */
static int looks_like_tag(const uint8_t *p, uint64_t count) {
    if (count != 1) return 0;
    size_t kl = (size_t)read_varint(&p);
    return (kl == 6 && memcmp(p, "$bytes", 6) == 0) || (kl == 7 && memcmp(p, "$bigint", 7) == 0) ||
           (kl == 4 && memcmp(p, "$map", 4) == 0);
}

/* Prints one value that weft_value_read already validated. With `tags`
 * (the export format, docs/API.md): an int beyond what a JSON reader keeps
 * exactly (2^53) is {"$bigint":"N"}, and a map that looks like a tag is
 * wrapped as {"$map":...}; tags 2 is a document, whose own map of fields
 * is never wrapped (its members are values, tags 1). */
static void print_valid(FILE *f, const uint8_t *src, size_t *consumed, int tags) {
    weft_value v;
    weft_value_read(&v, consumed, src, SIZE_MAX / 2);
    switch (v.type) {
    case WEFT_TYPE_NULL:
        fputs("null", f);
        break;
    case WEFT_TYPE_FALSE:
        fputs("false", f);
        break;
    case WEFT_TYPE_TRUE:
        fputs("true", f);
        break;
    case WEFT_TYPE_INT:
        if (tags && (v.i > 9007199254740991LL || v.i < -9007199254740991LL))
            fprintf(f, "{\"$bigint\":\"%lld\"}", (long long)v.i);
        else
            fprintf(f, "%lld", (long long)v.i);
        break;
    case WEFT_TYPE_FLOAT: {
        if (!isfinite(v.f)) { /* JSON has no NaN or infinities */
            fputs("null", f);
            break;
        }
        char buf[40];
        snprintf(buf, sizeof buf, "%.17g", v.f);
        fputs(buf, f);
        if (!strpbrk(buf, ".eE")) fputs(".0", f); /* stays a float when read back */
        break;
    }
    case WEFT_TYPE_STRING:
        json_print_string(f, (const char *)v.ptr, v.len);
        break;
    case WEFT_TYPE_BYTES: {
        char *b64 = malloc(weft_base64url_len(v.len) + 1);
        size_t bl = 0;
        if (b64) weft_base64url_encode(b64, weft_base64url_len(v.len) + 1, &bl, v.ptr, v.len);
        fputs("{\"$bytes\":", f);
        json_print_string(f, b64 ? b64 : "", bl);
        fputc('}', f);
        free(b64);
        break;
    }
    case WEFT_TYPE_ARRAY: {
        const uint8_t *p = v.ptr;
        fputc('[', f);
        for (uint64_t i = 0; i < v.count; i++) {
            size_t n;
            if (i) fputc(',', f);
            print_valid(f, p, &n, tags ? 1 : 0);
            p += n;
        }
        fputc(']', f);
        break;
    }
    case WEFT_TYPE_MAP: {
        const uint8_t *p = v.ptr;
        int wrap = tags == 1 && looks_like_tag(p, v.count);
        fputs(wrap ? "{\"$map\":{" : "{", f);
        for (uint64_t i = 0; i < v.count; i++) {
            size_t n, kl = (size_t)read_varint(&p);
            if (i) fputc(',', f);
            json_print_string(f, (const char *)p, kl);
            fputc(':', f);
            p += kl;
            print_valid(f, p, &n, tags ? 1 : 0);
            p += n;
        }
        fputs(wrap ? "}}" : "}", f);
        break;
    }
    }
}

int json_print_value(FILE *f, const uint8_t *v, size_t len) {
    if (weft_value_check(v, len)) return -1;
    size_t n;
    print_valid(f, v, &n, 0);
    return 0;
}

int json_print_export_value(FILE *f, const uint8_t *v, size_t len) {
    if (weft_value_check(v, len)) return -1;
    size_t n;
    print_valid(f, v, &n, 2); /* a document: its own map is never wrapped */
    return 0;
}

/* ---- the export format's tags, read back ---- */

static int untag(jbuf *out, const uint8_t *src, size_t len, size_t *consumed, char *err,
                 size_t err_cap);

static int key_is(const uint8_t *k, size_t kl, const char *name) {
    return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

/* A map's members (v read by weft_value_read) with every value untagged. */
static int untag_members(jbuf *out, const weft_value *v, char *err, size_t err_cap) {
    uint8_t h[16];
    size_t hl;
    weft_value_write_map(h, sizeof h, &hl, v->count);
    jbuf_put(out, h, hl);
    const uint8_t *p = v->ptr, *end = v->ptr + v->len;
    for (uint64_t i = 0; i < v->count; i++) {
        const uint8_t *k = p;
        size_t kl = (size_t)read_varint(&p), n;
        p += kl;
        jbuf_put(out, k, (size_t)(p - k)); /* the key as it is encoded */
        if (untag(out, p, (size_t)(end - p), &n, err, err_cap)) return -1;
        p += n;
    }
    return out->err ? -1 : 0;
}

static int untag(jbuf *out, const uint8_t *src, size_t len, size_t *consumed, char *err,
                 size_t err_cap) {
    weft_value v;
    if (weft_value_read(&v, consumed, src, len)) {
        snprintf(err, err_cap, "not a value");
        return -1;
    }
    uint8_t h[16];
    size_t hl;
    if (v.type == WEFT_TYPE_ARRAY) {
        weft_value_write_array(h, sizeof h, &hl, v.count);
        jbuf_put(out, h, hl);
        const uint8_t *p = v.ptr, *end = v.ptr + v.len;
        for (uint64_t i = 0; i < v.count; i++) {
            size_t n;
            if (untag(out, p, (size_t)(end - p), &n, err, err_cap)) return -1;
            p += n;
        }
        return out->err ? -1 : 0;
    }
    if (v.type != WEFT_TYPE_MAP) {
        jbuf_put(out, src, *consumed);
        return out->err ? -1 : 0;
    }
    if (v.count == 1) {
        const uint8_t *p = v.ptr;
        size_t kl = (size_t)read_varint(&p);
        const uint8_t *k = p;
        p += kl;
        weft_value t;
        if (weft_value_read(&t, NULL, p, (size_t)(v.ptr + v.len - p))) {
            snprintf(err, err_cap, "not a value");
            return -1;
        }
        if (key_is(k, kl, "$bytes")) {
            size_t bl;
            uint8_t *b = malloc(t.len + 1);
            int bad = t.type != WEFT_TYPE_STRING || !b ||
                      weft_base64url_decode(b, t.len + 1, &bl, (const char *)t.ptr, t.len);
            uint8_t *d = bad ? NULL : jbuf_room(out, bl + 10);
            if (d && !weft_value_write_bytes(d, bl + 10, &hl, b, bl)) out->len += hl;
            free(b);
            if (bad || !d) {
                snprintf(err, err_cap, "a bad $bytes value (base64url text)");
                return -1;
            }
            return 0;
        }
        if (key_is(k, kl, "$bigint")) {
            char num[32];
            char *e;
            errno = 0;
            long long x = 0;
            if (t.type == WEFT_TYPE_STRING && t.len > 0 && t.len < sizeof num) {
                memcpy(num, t.ptr, t.len);
                num[t.len] = 0;
                x = strtoll(num, &e, 10);
            }
            if (t.type != WEFT_TYPE_STRING || t.len == 0 || t.len >= sizeof num || *e || errno) {
                snprintf(err, err_cap, "a bad $bigint value (a decimal int64 as a string)");
                return -1;
            }
            weft_value_write_int(h, sizeof h, &hl, (int64_t)x);
            jbuf_put(out, h, hl);
            return out->err ? -1 : 0;
        }
        if (key_is(k, kl, "$map")) {
            if (t.type != WEFT_TYPE_MAP) {
                snprintf(err, err_cap, "a bad $map value (an object)");
                return -1;
            }
            return untag_members(out, &t, err, err_cap); /* its own name is not a tag */
        }
    }
    return untag_members(out, &v, err, err_cap);
}

int json_untag_document(jbuf *out, const uint8_t *doc, size_t len, char *err, size_t err_cap) {
    weft_value v;
    if (weft_value_read(&v, NULL, doc, len) || v.type != WEFT_TYPE_MAP) {
        snprintf(err, err_cap, "a document is an object of fields");
        return -1;
    }
    return untag_members(out, &v, err, err_cap); /* a document is never a tag itself */
}

int json_map_get(const uint8_t *map, size_t len, const char *key, const uint8_t **val,
                 size_t *val_len) {
    weft_value v;
    if (weft_value_read(&v, NULL, map, len) || v.type != WEFT_TYPE_MAP) return -1;
    const uint8_t *p = v.ptr, *end = v.ptr + v.len;
    size_t want = strlen(key);
    for (uint64_t i = 0; i < v.count && p < end; i++) {
        size_t kl = (size_t)read_varint(&p), n;
        const uint8_t *k = p;
        p += kl;
        weft_value e;
        if (weft_value_read(&e, &n, p, (size_t)(end - p))) return -1;
        if (kl == want && memcmp(k, key, kl) == 0) {
            *val = p;
            *val_len = n;
            return 0;
        }
        p += n;
    }
    return -1;
}
