/*
 * Tests of weft/text.h: the API and its errors, UTF-16 positions, deltas,
 * non-interleaving, and every editing trace in tests/traces/ replayed
 * locally, re-applied remotely, and encoded and loaded back; each must end
 * at the trace's endContent exactly.
 *
 * Usage: test_text TRACES_DIR
 */
#include "../unit/check.h"
#include "trace.h"

#include "weft/text.h"
#include "text_int.h"

static const char *traces_dir = "tests/traces";

static weft_text *mk(uint8_t who, weft_text_unit unit) {
    uint8_t key[32];
    fill_key(key, who);
    weft_text_config cfg = {.author = key, .unit = unit};
    weft_text *t = NULL;
    if (weft_text_new(&t, &cfg)) abort();
    return t;
}

/* The text as a NUL-terminated string (caller frees). */
static char *str(const weft_text *t) {
    size_t n = weft_text_utf8_length(t), got;
    char *s = malloc(n + 1);
    if (weft_text_read(t, s, n, &got) || got != n) abort();
    s[n] = 0;
    return s;
}

static int text_is(const weft_text *t, const char *want) {
    char *s = str(t);
    int ok = strcmp(s, want) == 0;
    if (!ok) fprintf(stderr, "text is \"%s\", want \"%s\"\n", s, want);
    free(s);
    return ok;
}

/* A copy of the ops taken from t (caller frees; NULL when none). */
static uint8_t *take(weft_text *t, size_t *len) {
    const uint8_t *p;
    if (weft_text_take_ops(t, &p, len)) abort();
    if (!*len) return NULL;
    uint8_t *c = malloc(*len);
    memcpy(c, p, *len);
    return c;
}

static void ins(weft_text *t, size_t pos, const char *s) {
    CHECK_OK(weft_text_insert(t, pos, s, strlen(s)));
}

/* Moves t's pending ops into every replica of `to`. */
static void send(weft_text *t, weft_text **to, int n) {
    size_t len;
    uint8_t *u = take(t, &len);
    for (int i = 0; i < n; i++)
        if (u) CHECK_OK(weft_text_apply(to[i], u, len));
    free(u);
}

typedef struct upd {
    uint8_t *p;
    size_t len;
} upd;

/* ---- API ---- */

static void test_basic(void) {
    weft_text *t = mk(1, WEFT_TEXT_CODEPOINTS);
    CHECK(weft_text_length(t) == 0);
    CHECK(text_is(t, ""));
    ins(t, 0, "hello");
    ins(t, 5, " world");
    ins(t, 0, ">");
    CHECK(text_is(t, ">hello world"));
    CHECK_OK(weft_text_delete(t, 0, 1));
    CHECK_OK(weft_text_delete(t, 5, 6));
    CHECK(text_is(t, "hello"));
    CHECK(weft_text_length(t) == 5);
    ins(t, 2, "é€😀");
    CHECK(weft_text_length(t) == 8);
    CHECK(weft_text_utf8_length(t) == 5 + 2 + 3 + 4);
    CHECK(text_is(t, "heé€😀llo"));
    CHECK_OK(weft_text_delete(t, 3, 2));
    CHECK(text_is(t, "heéllo"));
    char small[2];
    size_t need;
    CHECK_RC(weft_text_read(t, small, sizeof small, &need), WEFT_ENOSPACE);
    CHECK(need == 7);
    weft_text_free(t);
    weft_text_free(NULL);
}

static void test_bad_input(void) {
    weft_text *t = mk(1, WEFT_TEXT_CODEPOINTS);
    weft_text *n = NULL;
    weft_text_config cfg = {.author = NULL};
    CHECK_RC(weft_text_new(&n, &cfg), WEFT_EINVAL);
    uint8_t key[32] = {0};
    cfg = (weft_text_config){.author = key, .unit = 7};
    CHECK_RC(weft_text_new(&n, &cfg), WEFT_EINVAL);
    ins(t, 0, "abc");
    CHECK_RC(weft_text_insert(t, 4, "x", 1), WEFT_EINVAL);
    CHECK_RC(weft_text_insert(t, 0, "\xff", 1), WEFT_EMALFORMED);
    CHECK_RC(weft_text_insert(t, 0, "\xc3", 1), WEFT_EMALFORMED);
    CHECK_RC(weft_text_insert(t, 0, "\xed\xa0\x80", 3), WEFT_EMALFORMED); /* surrogate */
    CHECK_RC(weft_text_delete(t, 2, 2), WEFT_EINVAL);
    CHECK_RC(weft_text_delete(t, 4, 0), WEFT_EINVAL);
    CHECK_OK(weft_text_insert(t, 1, "", 0));
    CHECK_OK(weft_text_delete(t, 1, 0));
    CHECK(text_is(t, "abc"));

    /* Malformed updates: a clear error and nothing applied. */
    weft_text *o = mk(2, WEFT_TEXT_CODEPOINTS);
    size_t len;
    uint8_t *u = take(t, &len);
    CHECK_RC(weft_text_apply(o, u, len - 1), WEFT_ETRUNCATED);
    CHECK_RC(weft_text_apply(o, u, 1), WEFT_ETRUNCATED);
    uint8_t *bad = malloc(len + 1);
    memcpy(bad, u, len);
    bad[len] = 0;
    CHECK_RC(weft_text_apply(o, bad, len + 1), WEFT_EMALFORMED); /* trailing byte */
    bad[0] = 9;
    CHECK_RC(weft_text_apply(o, bad, len), WEFT_EVERSION);
    bad[0] = u[0];
    bad[1] = 2; /* a state, not an update */
    CHECK_RC(weft_text_apply(o, bad, len), WEFT_EMALFORMED);
    memcpy(bad, u, len);
    bad[len - 1] = 0xff; /* last text byte: invalid UTF-8 */
    CHECK_RC(weft_text_apply(o, bad, len), WEFT_EMALFORMED);
    memcpy(bad, u, len);
    bad[2 + 1 + 32 + 1] = 7; /* op code */
    CHECK_RC(weft_text_apply(o, bad, len), WEFT_EMALFORMED);
    memcpy(bad, u, len);
    bad[2 + 1 + 32 + 2] = 1; /* author index past the table */
    CHECK_RC(weft_text_apply(o, bad, len), WEFT_EMALFORMED);
    CHECK(weft_text_length(o) == 0 && weft_text_pending(o) == 0);
    CHECK_OK(weft_text_apply(o, u, len));
    CHECK(text_is(o, "abc"));
    CHECK_OK(weft_text_apply(o, u, len)); /* idempotent */
    CHECK_OK(weft_text_apply(t, u, len)); /* its own ops: a no-op */
    CHECK(text_is(o, "abc") && text_is(t, "abc"));
    CHECK_OK(weft_text_apply(o, NULL, 0));
    CHECK_RC(weft_text_apply(o, NULL, 3), WEFT_EINVAL);

    /* Bad states: nothing loaded. */
    const uint8_t *st;
    size_t st_len;
    CHECK_OK(weft_text_encode(t, &st, &st_len));
    uint8_t *sc = malloc(st_len);
    memcpy(sc, st, st_len);
    weft_text *e = mk(3, WEFT_TEXT_CODEPOINTS);
    for (size_t cut = 0; cut < st_len; cut++)
        CHECK(weft_text_load(e, sc, cut) < 0);
    sc[st_len - 1] = 'x' ^ 0x80;
    CHECK_RC(weft_text_load(e, sc, st_len), WEFT_EMALFORMED);
    sc[st_len - 1] = 'c';
    CHECK(weft_text_length(e) == 0);
    CHECK_RC(weft_text_load(t, sc, st_len), WEFT_ESTATE); /* not empty */
    CHECK_OK(weft_text_load(e, sc, st_len));
    CHECK(text_is(e, "abc"));
    free(sc);
    free(bad);
    free(u);
    weft_text_free(e);
    weft_text_free(o);
    weft_text_free(t);
}

static void test_utf16(void) {
    weft_text *t = mk(1, WEFT_TEXT_UTF16);
    ins(t, 0, "a😀b");
    CHECK(weft_text_length(t) == 4);
    CHECK_RC(weft_text_insert(t, 2, "x", 1), WEFT_EINVAL); /* inside the pair */
    CHECK_RC(weft_text_delete(t, 1, 1), WEFT_EINVAL);
    CHECK_RC(weft_text_delete(t, 2, 1), WEFT_EINVAL);
    ins(t, 3, "é");
    CHECK(text_is(t, "a😀éb"));
    CHECK_OK(weft_text_delete(t, 1, 2));
    CHECK(text_is(t, "aéb"));
    CHECK(weft_text_length(t) == 3);
    /* A replica counting code points agrees on the text. */
    weft_text *c = mk(2, WEFT_TEXT_CODEPOINTS);
    send(t, &c, 1);
    CHECK(text_is(c, "aéb"));
    weft_text_free(c);
    weft_text_free(t);
}

typedef struct deltas {
    char log[512];
} deltas;

static void on_delta(void *ud, const weft_text_delta *d) {
    deltas *x = ud;
    size_t n = strlen(x->log);
    snprintf(x->log + n, sizeof x->log - n, "[%zu,-%zu,+%.*s]", d->pos, d->deleted,
             (int)d->inserted_len, d->inserted ? d->inserted : "");
}

static void test_deltas(void) {
    weft_text *a = mk(1, WEFT_TEXT_UTF16);
    uint8_t key[32];
    fill_key(key, 2);
    deltas got = {{0}};
    weft_text_config cfg = {
        .author = key, .unit = WEFT_TEXT_UTF16, .on_delta = on_delta, .ud = &got};
    weft_text *b;
    CHECK_OK(weft_text_new(&b, &cfg));
    ins(a, 0, "😀hello");
    send(a, &b, 1);
    CHECK_OK(weft_text_delete(a, 3, 2));
    ins(a, 2, "X");
    send(a, &b, 1);
    CHECK(strcmp(got.log, "[0,-0,+😀hello][3,-2,+][2,-0,+X]") == 0);
    if (strcmp(got.log, "[0,-0,+😀hello][3,-2,+][2,-0,+X]")) fprintf(stderr, "%s\n", got.log);
    CHECK(text_is(b, "😀Xhlo"));
    weft_text_free(a);
    weft_text_free(b);
}

/* Two authors type at the same spot at once: each run stays whole. */
static void test_no_interleaving(void) {
    weft_text *a = mk(1, WEFT_TEXT_CODEPOINTS), *b = mk(2, WEFT_TEXT_CODEPOINTS);
    ins(a, 0, "[]");
    send(a, &b, 1);
    const char *wa = "alpha", *wb = "BRAVO";
    upd ua[5], ub[5]; /* one update per keystroke, as a live session sends */
    for (int i = 0; i < 5; i++) {
        CHECK_OK(weft_text_insert(a, 1 + (size_t)i, wa + i, 1));
        CHECK_OK(weft_text_insert(b, 1 + (size_t)i, wb + i, 1));
        ua[i].p = take(a, &ua[i].len);
        ub[i].p = take(b, &ub[i].len);
    }
    for (int i = 0; i < 5; i++) {
        CHECK_OK(weft_text_apply(a, ub[i].p, ub[i].len));
        CHECK_OK(weft_text_apply(b, ua[4 - i].p, ua[4 - i].len)); /* any order */
        free(ua[4 - i].p);
        free(ub[i].p);
    }
    CHECK(text_is(a, "[alphaBRAVO]") || text_is(a, "[BRAVOalpha]"));
    char *sa = str(a), *sb = str(b);
    CHECK(strcmp(sa, sb) == 0);
    free(sa);
    free(sb);
    /* Typed backwards (each key before the previous) too. */
    weft_text *c = mk(3, WEFT_TEXT_CODEPOINTS), *d = mk(4, WEFT_TEXT_CODEPOINTS);
    ins(c, 0, "[]");
    send(c, &d, 1);
    for (int i = 4; i >= 0; i--) {
        CHECK_OK(weft_text_insert(c, 1, wa + i, 1));
        CHECK_OK(weft_text_insert(d, 1, wb + i, 1));
    }
    /* Replay keystroke by keystroke from fresh replicas. */
    weft_text *x = mk(5, WEFT_TEXT_CODEPOINTS), *y = mk(6, WEFT_TEXT_CODEPOINTS);
    ins(x, 0, "[]");
    send(x, &y, 1);
    size_t lx, ly;
    for (int i = 0; i < 5; i++) {
        CHECK_OK(weft_text_insert(x, 1 + (size_t)i, wa + i, 1));
        CHECK_OK(weft_text_insert(y, 1 + (size_t)i, wb + i, 1));
    }
    uint8_t *ux = take(x, &lx), *uy = take(y, &ly);
    CHECK_OK(weft_text_apply(x, uy, ly));
    CHECK_OK(weft_text_apply(y, ux, lx));
    char *sx = str(x), *sy = str(y);
    CHECK(strcmp(sx, sy) == 0);
    CHECK(strcmp(sx, "[alphaBRAVO]") == 0 || strcmp(sx, "[BRAVOalpha]") == 0);
    free(sx);
    free(sy);
    free(ux);
    free(uy);
    uint8_t *uc = take(c, &lx), *ud = take(d, &ly);
    CHECK_OK(weft_text_apply(c, ud, ly));
    CHECK_OK(weft_text_apply(d, uc, lx));
    sx = str(c);
    sy = str(d);
    CHECK(strcmp(sx, sy) == 0);
    CHECK(strcmp(sx, "[alphaBRAVO]") == 0 || strcmp(sx, "[BRAVOalpha]") == 0);
    free(sx);
    free(sy);
    free(uc);
    free(ud);
    weft_text_free(a);
    weft_text_free(b);
    weft_text_free(c);
    weft_text_free(d);
    weft_text_free(x);
    weft_text_free(y);
}

/* Ops from the future wait; their past wakes them; duplicates are no-ops. */
static void test_causal_wait(void) {
    weft_text *a = mk(1, WEFT_TEXT_CODEPOINTS), *b = mk(2, WEFT_TEXT_CODEPOINTS);
    size_t l1, l2, l3;
    ins(a, 0, "one");
    uint8_t *u1 = take(a, &l1);
    ins(a, 3, " two");
    uint8_t *u2 = take(a, &l2);
    CHECK_OK(weft_text_delete(a, 0, 4));
    uint8_t *u3 = take(a, &l3);
    CHECK_OK(weft_text_apply(b, u3, l3));
    CHECK_OK(weft_text_apply(b, u2, l2));
    CHECK(weft_text_pending(b) == 2 && weft_text_length(b) == 0);
    CHECK_OK(weft_text_apply(b, u3, l3)); /* waiting ops are not parked twice */
    CHECK_OK(weft_text_apply(b, u2, l2));
    CHECK(weft_text_pending(b) == 2);
    CHECK_OK(weft_text_apply(b, u1, l1));
    CHECK(weft_text_pending(b) == 0);
    CHECK(text_is(b, "two"));
    CHECK_OK(weft_text_apply(b, u2, l2));
    CHECK_OK(weft_text_apply(b, u1, l1));
    CHECK(text_is(b, "two"));
    free(u1);
    free(u2);
    free(u3);
    weft_text_free(a);
    weft_text_free(b);
}

/* The worked example of docs/TEXT.md, byte for byte. */
static void from_hex(uint8_t *dst, const char *hex, size_t *n) {
    *n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        dst[(*n)++] = (uint8_t)v;
    }
}

static void test_golden(void) {
    static const char *k11 = "1111111111111111111111111111111111111111111111111111111111111111";
    static const char *k22 = "2222222222222222222222222222222222222222222222222222222222222222";
    char want_u1[256], want_u2[512], want_st[512];
    snprintf(want_u1, sizeof want_u1, "010101%s0101000000000568656c6c6f", k11);
    snprintf(want_u2, sizeof want_u2, "010102%s%s02020001030101000103010402c3a9", k11, k22);
    snprintf(want_st, sizeof want_st, "010202%s05%s010400008301002a010004020468c3a96f", k11, k22);
    weft_text *x = mk(0x11, WEFT_TEXT_CODEPOINTS), *y = mk(0x22, WEFT_TEXT_CODEPOINTS);
    uint8_t want[256];
    size_t wn, n;
    ins(x, 0, "hello");
    uint8_t *u1 = take(x, &n);
    from_hex(want, want_u1, &wn);
    CHECK(n == wn && memcmp(u1, want, n) == 0);
    CHECK_OK(weft_text_apply(y, u1, n));
    CHECK_OK(weft_text_delete(y, 1, 3));
    ins(y, 1, "é");
    uint8_t *u2 = take(y, &n);
    from_hex(want, want_u2, &wn);
    CHECK(n == wn && memcmp(u2, want, n) == 0);
    CHECK_OK(weft_text_apply(x, u2, n));
    const uint8_t *st;
    CHECK_OK(weft_text_encode(x, &st, &n));
    from_hex(want, want_st, &wn);
    CHECK(n == wn && memcmp(st, want, n) == 0);
    CHECK(text_is(x, "héo") && text_is(y, "héo"));
    free(u1);
    free(u2);
    weft_text_free(x);
    weft_text_free(y);
}

/* ---- out of memory ---- */

typedef struct budget {
    long left; /* allocations still allowed; < 0: unlimited */
} budget;

static void *budget_realloc(void *ud, void *p, size_t n) {
    budget *b = ud;
    if (n == 0) {
        free(p);
        return NULL;
    }
    if (b->left == 0) return NULL;
    if (b->left > 0) b->left--;
    return realloc(p, n);
}

/* Edits, applies and a load with the k-th allocation failing, for every
 * k: each call fails cleanly or succeeds, the tree stays whole, nothing
 * leaks (ASan), and a retry with memory succeeds. */
static void test_out_of_memory(void) {
    weft_text *src = mk(7, WEFT_TEXT_CODEPOINTS);
    for (int i = 0; i < 400; i++) {
        CHECK_OK(weft_text_insert(src, (size_t)(i * 7) % (weft_text_length(src) + 1), "ab€", 5));
        if (i % 3 == 0) CHECK_OK(weft_text_delete(src, (size_t)i % weft_text_length(src), 1));
    }
    size_t ul;
    uint8_t *u = take(src, &ul);
    const uint8_t *st;
    size_t sl;
    CHECK_OK(weft_text_encode(src, &st, &sl));
    uint8_t *state = malloc(sl);
    memcpy(state, st, sl);
    for (long k = 0; k < 600; k++) {
        budget b = {k};
        weft_allocator al = {budget_realloc, &b};
        uint8_t key[32];
        fill_key(key, 8);
        weft_text_config cfg = {.alloc = &al, .author = key};
        weft_text *t;
        int rc = weft_text_new(&t, &cfg);
        if (rc) {
            CHECK_RC(rc, WEFT_ENOMEM);
            continue;
        }
        for (int i = 0; i < 300 && rc == 0; i++) {
            size_t len = weft_text_length(t);
            rc = i % 4 == 3 && len
                     ? weft_text_delete(t, (size_t)i % len, 2 < len - (size_t)i % len ? 2 : 1)
                     : weft_text_insert(t, (size_t)(i * 5) % (len + 1), "xé", 3);
            CHECK(rc == 0 || rc == WEFT_ENOMEM);
            CHECK(weft__text_check(t) == 0);
        }
        rc = weft_text_apply(t, u, ul);
        CHECK(rc == 0 || rc == WEFT_ENOMEM);
        CHECK(weft__text_check(t) == 0);
        const uint8_t *ops;
        size_t ol;
        rc = weft_text_take_ops(t, &ops, &ol);
        CHECK(rc == 0 || rc == WEFT_ENOMEM);
        b.left = -1;
        CHECK_OK(weft_text_apply(t, u, ul));
        CHECK(weft__text_check(t) == 0);
        weft_text_free(t);

        b.left = k;
        rc = weft_text_new(&t, &cfg);
        if (rc) continue;
        rc = weft_text_load(t, state, sl);
        CHECK(rc == 0 || rc == WEFT_ENOMEM);
        CHECK(weft__text_check(t) == 0);
        if (rc) CHECK(weft_text_length(t) == 0);
        weft_text_free(t);
    }
    free(state);
    free(u);
    weft_text_free(src);
}

/* ---- stable positions ---- */

static size_t resolve(const weft_text *t, const weft_text_anchor *a) {
    size_t pos = SIZE_MAX;
    CHECK_OK(weft_text_anchor_resolve(t, a, &pos));
    return pos;
}

static weft_text_anchor anchor(const weft_text *t, size_t pos, int32_t assoc) {
    weft_text_anchor a;
    CHECK_OK(weft_text_anchor_at(t, pos, assoc, &a));
    return a;
}

/* Anchors made on one replica follow concurrent edits on both. */
static void test_anchors_concurrent(void) {
    weft_text *a = mk(1, WEFT_TEXT_CODEPOINTS), *b = mk(2, WEFT_TEXT_CODEPOINTS);
    ins(a, 0, "hello world");
    send(a, &b, 1);
    weft_text_anchor w = anchor(a, 6, 0);      /* before "w" */
    weft_text_anchor sp = anchor(a, 6, -1);    /* after the space */
    weft_text_anchor d = anchor(a, 11, -1);    /* after "d" */
    weft_text_anchor end = anchor(a, 11, 0);   /* the end */
    weft_text_anchor start = anchor(a, 0, -1); /* the start */
    CHECK(end.seq == WEFT_TEXT_ANCHOR_EDGE && start.seq == WEFT_TEXT_ANCHOR_EDGE);
    CHECK(w.seq == 6 && sp.seq == 5 && d.seq == 10);
    ins(b, 6, "big ");
    ins(a, 0, ">> ");
    send(b, &a, 1);
    send(a, &b, 1);
    CHECK(text_is(a, ">> hello big world") && text_is(b, ">> hello big world"));
    weft_text *both[] = {a, b};
    for (int i = 0; i < 2; i++) {
        CHECK(resolve(both[i], &w) == 13);
        CHECK(resolve(both[i], &sp) == 9); /* "big " went after the anchor */
        CHECK(resolve(both[i], &d) == 18);
        CHECK(resolve(both[i], &end) == 18);
        CHECK(resolve(both[i], &start) == 0); /* ">> " went after the start */
    }
    /* B deletes "world": the anchors into it land where it was. */
    CHECK_OK(weft_text_delete(b, 13, 5));
    send(b, &a, 1);
    for (int i = 0; i < 2; i++) {
        CHECK(resolve(both[i], &w) == 13 && resolve(both[i], &d) == 13);
        CHECK(resolve(both[i], &sp) == 9 && resolve(both[i], &end) == 13);
    }
    /* Anchoring at the tombstones' place picks visible characters. */
    weft_text_anchor before = anchor(a, 13, -1);
    CHECK(before.seq == 3); /* B's space of "big " */
    ins(a, 13, "!");        /* lands after the tombstones of "world" */
    CHECK(resolve(a, &before) == 13 && resolve(a, &end) == 14);
    CHECK(resolve(a, &w) == 13 && resolve(a, &d) == 13);
    weft_text_free(a);
    weft_text_free(b);
}

static void test_anchors_bad_input(void) {
    weft_text *t = mk(1, WEFT_TEXT_UTF16), *c = mk(2, WEFT_TEXT_CODEPOINTS);
    weft_text_anchor x;
    size_t pos;
    CHECK_RC(weft_text_anchor_at(t, 1, 0, &x), WEFT_EINVAL); /* empty text */
    CHECK_OK(weft_text_anchor_at(t, 0, 0, &x));
    CHECK(x.seq == WEFT_TEXT_ANCHOR_EDGE && resolve(t, &x) == 0);
    ins(t, 0, "a😀b");
    CHECK_RC(weft_text_anchor_at(t, 2, 0, &x), WEFT_EINVAL); /* inside the pair */
    CHECK_RC(weft_text_anchor_at(t, 2, -1, &x), WEFT_EINVAL);
    CHECK_RC(weft_text_anchor_at(t, 5, 0, &x), WEFT_EINVAL);
    CHECK_RC(weft_text_anchor_at(NULL, 0, 0, &x), WEFT_EINVAL);
    CHECK_RC(weft_text_anchor_resolve(t, NULL, &pos), WEFT_EINVAL);
    /* Around the pair, in UTF-16 here and in code points on c. */
    weft_text_anchor after_pair = anchor(t, 3, -1), before_pair = anchor(t, 1, 0);
    weft_text_anchor b = anchor(t, 3, 0);
    CHECK(after_pair.seq == 1 && before_pair.seq == 1 && b.seq == 2);
    CHECK(resolve(t, &after_pair) == 3 && resolve(t, &before_pair) == 1 && resolve(t, &b) == 3);
    send(t, &c, 1);
    CHECK(resolve(c, &after_pair) == 2 && resolve(c, &before_pair) == 1 && resolve(c, &b) == 2);
    /* Characters this text does not hold. */
    x = b;
    x.seq = 3;
    CHECK_RC(weft_text_anchor_resolve(t, &x, &pos), WEFT_ENOTFOUND);
    x = b;
    x.author[0] ^= 1;
    CHECK_RC(weft_text_anchor_resolve(t, &x, &pos), WEFT_ENOTFOUND);
    weft_text *e = mk(3, WEFT_TEXT_CODEPOINTS);
    CHECK_RC(weft_text_anchor_resolve(e, &b, &pos), WEFT_ENOTFOUND);
    weft_text_free(e);
    weft_text_free(c);
    weft_text_free(t);
}

/* Text put back before a deleted character lands in its old place. */
static void test_insert_before(void) {
    weft_text *a = mk(1, WEFT_TEXT_UTF16), *b = mk(2, WEFT_TEXT_CODEPOINTS);
    ins(a, 0, "abcdef");
    weft_text_anchor c = anchor(a, 2, 0), d = anchor(a, 3, 0), end = anchor(a, 6, 0);
    CHECK_OK(weft_text_delete(a, 2, 3)); /* "abf", c d e deleted */
    CHECK_OK(weft_text_insert_before(a, &c, "C", 1));
    CHECK(text_is(a, "abCf"));
    /* C went before the tombstone of c: d's is after it (an insert at
     * position 2 would have gone after all three tombstones). */
    CHECK(resolve(a, &d) == 3);
    CHECK_OK(weft_text_insert_before(a, &end, "!", 1));
    CHECK(text_is(a, "abCf!"));
    send(a, &b, 1);
    CHECK(text_is(b, "abCf!") && resolve(b, &d) == 3);
    weft_text_anchor left = anchor(a, 1, -1), x = c;
    CHECK_RC(weft_text_insert_before(a, &left, "x", 1), WEFT_EINVAL);
    x.seq = 99;
    CHECK_RC(weft_text_insert_before(a, &x, "x", 1), WEFT_ENOTFOUND);
    CHECK_RC(weft_text_insert_before(a, &c, "\xff", 1), WEFT_EMALFORMED);
    CHECK(text_is(a, "abCf!"));
    weft_text_free(a);
    weft_text_free(b);
}

/* Where a position with assoc goes under one local edit. */
static size_t moved(size_t p, int32_t assoc, size_t at, size_t del, size_t ins_n) {
    if (del) return p <= at ? p : p >= at + del ? p - del : at;
    return p < at || (p == at && assoc < 0) ? p : p + ins_n;
}

/* Random local edits: every anchor moves as a caret should. */
static void test_anchors_random(void) {
    weft_text *t = mk(1, WEFT_TEXT_CODEPOINTS);
    uint64_t rng = 7;
    weft_text_anchor *an = malloc(sizeof *an * 2 * 400);
    size_t *want = malloc(sizeof *want * 2 * 400);
    for (int step = 0; step < 300; step++) {
        size_t n = weft_text_length(t);
        for (size_t p = 0; p <= n; p++)
            for (int s = 0; s < 2; s++) {
                an[2 * p + s] = anchor(t, p, s ? -1 : 0);
                want[2 * p + s] = p;
            }
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        size_t at = (size_t)(rng >> 33) % (n + 1), del = 0, k = 1 + (rng >> 20) % 4;
        if (n > 0 && (rng >> 10) % 3 == 0) {
            at = at == n ? n - 1 : at;
            del = k < n - at ? k : n - at;
            CHECK_OK(weft_text_delete(t, at, del));
        } else {
            ins(t, at, "wxyz" + (4 - k));
        }
        for (size_t p = 0; p <= n; p++)
            for (int s = 0; s < 2; s++)
                CHECK(resolve(t, &an[2 * p + s]) == moved(want[2 * p + s], s ? -1 : 0, at, del, k));
        if (weft_text_length(t) > 390) CHECK_OK(weft_text_delete(t, 0, 100));
    }
    free(an);
    free(want);
    weft_text_free(t);
}

/* ---- traces ---- */

static size_t n_ops_total;

static int check_text(const weft_text *t, const trace *tr, const char *what, const char *name) {
    char *s = str(t);
    int ok = weft_text_utf8_length(t) == tr->end_len && memcmp(s, tr->end, tr->end_len) == 0;
    if (!ok) fprintf(stderr, "%s: %s does not give endContent\n", name, what);
    free(s);
    return ok;
}

static void roundtrip(weft_text *t, const trace *tr, const char *name) {
    const uint8_t *st;
    size_t len;
    CHECK_OK(weft_text_encode(t, &st, &len));
    uint8_t *copy = malloc(len);
    memcpy(copy, st, len);
    weft_text *l = mk(9, WEFT_TEXT_CODEPOINTS);
    CHECK_OK(weft_text_load(l, copy, len));
    CHECK(check_text(l, tr, "encode + load", name));
    const uint8_t *st2;
    size_t len2;
    CHECK_OK(weft_text_encode(l, &st2, &len2));
    CHECK(len2 == len && memcmp(st2, copy, len) == 0);
    printf("  %s: %zu B encoded (text %zu B)\n", name, len, tr->end_len);
    free(copy);
    weft_text_free(l);
}

static void replay_sequential(const trace *tr, const char *name) {
    weft_text *t = mk(1, WEFT_TEXT_CODEPOINTS);
    upd *ups = calloc(tr->n_txns, sizeof *ups);
    for (size_t i = 0; i < tr->n_txns; i++) {
        const trace_txn *x = &tr->txns[i];
        for (size_t k = 0; k < x->n_patches; k++) {
            const trace_patch *p = &x->patches[k];
            if (p->del) CHECK_OK(weft_text_delete(t, p->pos, p->del));
            if (p->ins_len) CHECK_OK(weft_text_insert(t, p->pos, p->ins, p->ins_len));
            if (getenv("TEXT_CHECK")) {
                int line = weft__text_check(t);
                if (line) {
                    fprintf(stderr, "txn %zu patch %zu: check at text.c:%d\n", i, k, line);
                    exit(1);
                }
            }
        }
        ups[i].p = take(t, &ups[i].len);
    }
    CHECK(check_text(t, tr, "local replay", name));
    /* The same ops applied remotely, in order. */
    weft_text *r = mk(2, WEFT_TEXT_CODEPOINTS);
    for (size_t i = 0; i < tr->n_txns; i++)
        if (ups[i].p) CHECK_OK(weft_text_apply(r, ups[i].p, ups[i].len));
    CHECK(check_text(r, tr, "remote replay", name));
    /* And in reverse: everything waits until the first op arrives. */
    weft_text *v = mk(3, WEFT_TEXT_CODEPOINTS);
    if (tr->n_txns < 30000) {
        for (size_t i = tr->n_txns; i-- > 0;)
            if (ups[i].p) CHECK_OK(weft_text_apply(v, ups[i].p, ups[i].len));
        CHECK(weft_text_pending(v) == 0);
        CHECK(check_text(v, tr, "reverse remote replay", name));
    }
    roundtrip(t, tr, name);
    roundtrip(r, tr, name);
    n_ops_total += tr->n_patches;
    for (size_t i = 0; i < tr->n_txns; i++)
        free(ups[i].p);
    free(ups);
    weft_text_free(t);
    weft_text_free(r);
    weft_text_free(v);
}

/* Each txn runs on its agent's replica brought to exactly the merge of the
 * txn's parents (the trace's parents are earlier txns). */
static void replay_concurrent(const trace *tr, const char *name) {
    size_t n = tr->n_txns;
    uint32_t na = tr->n_agents;
    weft_text **rep = calloc(na, sizeof *rep);
    uint8_t **has = calloc(na, sizeof *has);
    for (uint32_t a = 0; a < na; a++) {
        rep[a] = mk((uint8_t)(10 + a), WEFT_TEXT_CODEPOINTS);
        has[a] = calloc(n, 1);
    }
    upd *ups = calloc(n, sizeof *ups);
    size_t *stack = malloc(n * sizeof *stack), *need = malloc(n * sizeof *need);
    uint8_t *seen = calloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        const trace_txn *x = &tr->txns[i];
        uint32_t a = x->agent;
        if (a >= na) {
            CHECK(0);
            break;
        }
        /* The parents' closure that this replica lacks. */
        size_t sp = 0, nn = 0;
        for (size_t k = 0; k < x->n_parents; k++)
            stack[sp++] = x->parents[k];
        while (sp) {
            size_t j = stack[--sp];
            if (j >= i) {
                CHECK(0);
                continue;
            }
            if (has[a][j] || seen[j]) continue;
            seen[j] = 1;
            need[nn++] = j;
            for (size_t k = 0; k < tr->txns[j].n_parents; k++)
                stack[sp++] = tr->txns[j].parents[k];
        }
        for (size_t k = 0; k < nn; k++) { /* any order: ops wait for their past */
            size_t j = need[k];
            seen[j] = 0;
            has[a][j] = 1;
            if (ups[j].p) CHECK_OK(weft_text_apply(rep[a], ups[j].p, ups[j].len));
        }
        CHECK(weft_text_pending(rep[a]) == 0);
        for (size_t k = 0; k < x->n_patches; k++) {
            const trace_patch *p = &x->patches[k];
            if (p->del) CHECK_OK(weft_text_delete(rep[a], p->pos, p->del));
            if (p->ins_len) CHECK_OK(weft_text_insert(rep[a], p->pos, p->ins, p->ins_len));
        }
        ups[i].p = take(rep[a], &ups[i].len);
        has[a][i] = 1;
    }
    /* Everyone gets everything; all must reach endContent. */
    for (uint32_t a = 0; a < na; a++) {
        for (size_t j = 0; j < n; j++)
            if (!has[a][j] && ups[j].p) CHECK_OK(weft_text_apply(rep[a], ups[j].p, ups[j].len));
        CHECK(check_text(rep[a], tr, "merged replica", name));
    }
    weft_text *f = mk(99, WEFT_TEXT_CODEPOINTS);
    for (size_t j = n; j-- > 0;) /* newest first: the causal buffer sorts it out */
        if (ups[j].p) CHECK_OK(weft_text_apply(f, ups[j].p, ups[j].len));
    CHECK(weft_text_pending(f) == 0);
    CHECK(check_text(f, tr, "fresh replica, reverse order", name));
    roundtrip(f, tr, name);
    n_ops_total += tr->n_patches;
    for (size_t j = 0; j < n; j++)
        free(ups[j].p);
    for (uint32_t a = 0; a < na; a++) {
        weft_text_free(rep[a]);
        free(has[a]);
    }
    weft_text_free(f);
    free(ups);
    free(rep);
    free(has);
    free(stack);
    free(need);
    free(seen);
}

static void run_trace(const char *rel) {
    char path[1024];
#ifdef TRACE_NO_ZLIB
    /* Gunzipped at build time into one folder: "<dir>/<name>.json". */
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    snprintf(path, sizeof path, "%s/%.*s", traces_dir, (int)(strlen(base) - 3), base);
#else
    snprintf(path, sizeof path, "%s/%s", traces_dir, rel);
#endif
    trace *tr = trace_load(path);
    if (tr->concurrent)
        replay_concurrent(tr, rel);
    else
        replay_sequential(tr, rel);
    trace_free(tr);
}

static void test_traces(void) {
    static const char *files[] = {
        "sequential/automerge-paper.json.gz",     "sequential/seph-blog1.json.gz",
        "sequential/sveltecomponent.json.gz",     "sequential/friendsforever_flat.json.gz",
        "sequential/json-crdt-blog-post.json.gz", "concurrent/friendsforever.json.gz",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        run_trace(files[i]);
    printf("  traces: %zu patches replayed\n", n_ops_total);
}

int main(int argc, char **argv) {
    if (argc > 1) traces_dir = argv[1];
    static const test_case tests[] = {
        T(test_basic),
        T(test_bad_input),
        T(test_utf16),
        T(test_deltas),
        T(test_no_interleaving),
        T(test_causal_wait),
        T(test_golden),
        T(test_out_of_memory),
        T(test_anchors_concurrent),
        T(test_anchors_bad_input),
        T(test_anchors_random),
        T(test_insert_before),
        T(test_traces),
    };
    return run_tests(tests, sizeof tests / sizeof *tests);
}
