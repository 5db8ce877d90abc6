/*
 * Tests of formatting marks on text (weft_text_format, weft_text_spans;
 * docs/TEXT.md, "Marks"): the Peritext paper's examples of concurrent
 * formatting, expand rules, ops naming characters not here yet, the state
 * format with marks, and errors. Ops travel between replicas as they do
 * inside changes: one weft_text_op at a time (text_int.h).
 */
#include "../unit/check.h"

#include "weft/text.h"
#include "weft/weft.h"
#include "text_int.h"

static weft_text *mk(uint8_t who) {
    uint8_t key[32];
    fill_key(key, who);
    weft_text_config cfg = {.author = key, .unit = WEFT_TEXT_CODEPOINTS};
    weft_text *t = NULL;
    if (weft_text_new(&t, &cfg)) abort();
    return t;
}

static void ins(weft_text *t, size_t pos, const char *s) {
    CHECK_OK(weft_text_insert(t, pos, s, strlen(s)));
}

static void fmt(weft_text *t, size_t pos, size_t len, const char *type, const char *value) {
    CHECK_OK(weft_text_format(t, pos, len, type, strlen(type), (const uint8_t *)value,
                              value ? strlen(value) : 0));
}

/* A copy of t's local ops, one weft_text_op each, as a change carries
 * them; then they are forgotten as weft_text_take_ops would. */
typedef struct batch {
    weft_text_op op[64];
    uint8_t *mem[64][3];
    size_t n;
} batch;

static uint8_t *dup(const uint8_t *p, size_t n) {
    if (!p) return NULL;
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, p, n);
    return c;
}

static batch *take(weft_text *t) {
    batch *b = calloc(1, sizeof *b);
    b->n = weft__text_local_count(t);
    if (b->n > 64) abort();
    for (size_t i = 0; i < b->n; i++) {
        weft_text_op *o = &b->op[i];
        weft__text_local_op(t, i, o);
        /* Keys and bytes are borrowed from t: keep copies. */
        uint8_t *keys = malloc(96);
        memcpy(keys, o->author, 32);
        if (o->left) memcpy(keys + 32, o->left, 32);
        if (o->right) memcpy(keys + 64, o->right, 32);
        o->author = keys;
        if (o->left) o->left = keys + 32;
        if (o->right) o->right = keys + 64;
        b->mem[i][0] = keys;
        o->text = b->mem[i][1] = dup(o->text, o->nbytes);
        o->value = b->mem[i][2] = dup(o->value, o->value_len);
    }
    weft__text_local_clear(t);
    return b;
}

static void give(const batch *b, weft_text *t) {
    for (size_t i = 0; i < b->n; i++)
        CHECK_OK(weft__text_apply_op(t, &b->op[i]));
}

static void drop(batch *b) {
    for (size_t i = 0; i < b->n; i++)
        for (int j = 0; j < 3; j++)
            free(b->mem[i][j]);
    free(b);
}

/* Sends t's local ops to every other replica in `all`. */
static void sync_from(weft_text *t, weft_text **all, int n) {
    batch *b = take(t);
    for (int i = 0; i < n; i++)
        if (all[i] != t) give(b, all[i]);
    drop(b);
}

/* The spans as "text{type=value,...}" pieces, "text" alone when plain. */
typedef struct sbuf {
    char s[1024];
    size_t n;
} sbuf;

static int put_span(void *ud, const char *utf8, size_t len, const weft_text_mark *m, size_t n) {
    sbuf *b = ud;
    b->n += (size_t)snprintf(b->s + b->n, sizeof b->s - b->n, "[%.*s", (int)len, utf8);
    for (size_t i = 0; i < n; i++)
        b->n += (size_t)snprintf(b->s + b->n, sizeof b->s - b->n, "%c%.*s=%.*s", i ? ',' : '|',
                                 (int)m[i].type_len, m[i].type, (int)m[i].value_len,
                                 (const char *)m[i].value);
    b->n += (size_t)snprintf(b->s + b->n, sizeof b->s - b->n, "]");
    return 0;
}

static int spans_are(const weft_text *t, const char *want) {
    sbuf b = {.n = 0};
    CHECK_OK(weft_text_spans(t, put_span, &b));
    int ok = strcmp(b.s, want) == 0;
    if (!ok) fprintf(stderr, "spans are %s, want %s\n", b.s, want);
    return ok;
}

/* Two replicas holding "The fox jumped." */
static void start(weft_text **a, weft_text **b) {
    *a = mk(1);
    *b = mk(2);
    ins(*a, 0, "The fox jumped.");
    weft_text *all[2] = {*a, *b};
    sync_from(*a, all, 2);
}

/* Delivers both replicas' local ops to each other, concurrently. */
static void exchange(weft_text *a, weft_text *b) {
    batch *x = take(a), *y = take(b);
    give(y, a);
    give(x, b);
    drop(x);
    drop(y);
}

/* ---- Peritext's examples ---- */

/* Figure 1: bold and italic over overlapping ranges at once. */
static void test_overlapping(void) {
    weft_text *a, *b;
    start(&a, &b);
    fmt(a, 0, 7, "bold", "t");    /* "The fox" */
    fmt(b, 4, 11, "italic", "t"); /* "fox jumped." */
    exchange(a, b);
    const char *want = "[The |bold=t][fox|bold=t,italic=t][ jumped.|italic=t]";
    CHECK(spans_are(a, want));
    CHECK(spans_are(b, want));
    weft_text_free(a);
    weft_text_free(b);
}

/* Text typed concurrently into a bold range: inside and at its end it
 * becomes bold (bold expands), at its start it does not. */
static void test_typing_at_edges(void) {
    weft_text *a, *b;
    start(&a, &b);
    fmt(a, 4, 3, "bold", "t"); /* "fox" */
    ins(b, 7, "es");           /* at the end: "foxes" */
    ins(b, 5, "-");            /* inside: "f-oxes" */
    ins(b, 4, "quick ");       /* at the start */
    exchange(a, b);
    const char *want = "[The quick ][f-oxes|bold=t][ jumped.]";
    CHECK(spans_are(a, want));
    CHECK(spans_are(b, want));
    /* Typing at the end of a bold range locally continues it too. */
    ins(a, 16, "!");
    CHECK(spans_are(a, "[The quick ][f-oxes!|bold=t][ jumped.]"));
    weft_text_free(a);
    weft_text_free(b);
}

/* A link does not expand: text typed right after it is plain, locally
 * and concurrently; text typed inside it is linked. */
static void test_link_not_expanding(void) {
    weft_text *a, *b;
    start(&a, &b);
    fmt(a, 4, 3, "link", "u"); /* "fox" */
    ins(b, 7, "es");
    exchange(a, b);
    CHECK(spans_are(a, "[The ][fox|link=u][es jumped.]"));
    CHECK(spans_are(b, "[The ][fox|link=u][es jumped.]"));
    ins(a, 5, "o"); /* inside */
    ins(a, 8, "!"); /* right after the link, locally */
    CHECK(spans_are(a, "[The ][foox|link=u][!es jumped.]"));
    CHECK(weft_text_mark_expands("bold", 4) == 1 && weft_text_mark_expands("link", 4) == 0 &&
          weft_text_mark_expands("comment", 7) == 0 && weft_text_mark_expands("block", 5) == 0 &&
          weft_text_mark_expands("linky", 5) == 1);
    weft_text_free(a);
    weft_text_free(b);
}

/* A block marker (TEXT.md, "Blocks"): a "\n" whose `block` mark covers it
 * alone. Text typed right after it or right before it, locally or
 * concurrently, stays out of the mark; a concurrent split (a new marker)
 * and typing merge; two heading levels set at once: one wins everywhere. */
static void test_block_marker(void) {
    weft_text *a, *b;
    start(&a, &b);
    ins(a, 3, "\n"); /* "The\n fox jumped." */
    fmt(a, 3, 1, "block", "h1");
    exchange(a, b);
    ins(b, 4, "!");  /* right after the marker, concurrently */
    ins(a, 3, "?");  /* right before it */
    ins(a, 9, "\n"); /* A splits before " jumped." while B types */
    fmt(a, 9, 1, "block", "p");
    ins(b, 6, "quick "); /* "The\n! quick fox jumped." */
    exchange(a, b);
    const char *want = "[The?][\n|block=h1][! quick fox][\n|block=p][ jumped.]";
    CHECK(spans_are(a, want));
    CHECK(spans_are(b, want));
    ins(a, 5, "x"); /* locally, right after the marker */
    CHECK(spans_are(a, "[The?][\n|block=h1][x! quick fox][\n|block=p][ jumped.]"));
    fmt(a, 4, 1, "block", "h2");
    fmt(b, 4, 1, "block", "h3"); /* same lamport: B's greater key wins */
    exchange(a, b);
    want = "[The?][\n|block=h3][x! quick fox][\n|block=p][ jumped.]";
    CHECK(spans_are(a, want));
    CHECK(spans_are(b, want));
    weft_text_free(a);
    weft_text_free(b);
}

/* Adding and removing bold at once: the greater (lamport, author) wins
 * each character; an op made after seeing another wins over it. */
static void test_add_remove(void) {
    weft_text *a, *b;
    start(&a, &b);
    fmt(a, 0, 7, "bold", "t");   /* A: bold "The fox" */
    fmt(b, 4, 10, "bold", NULL); /* B: unbold "fox jumped": same lamport, B's key is greater */
    exchange(a, b);
    CHECK(spans_are(a, "[The |bold=t][fox jumped.]"));
    CHECK(spans_are(b, "[The |bold=t][fox jumped.]"));
    /* Now A bolds "fox" again, having seen B's remove: A's op is later. */
    fmt(a, 4, 3, "bold", "t");
    exchange(a, b);
    CHECK(spans_are(a, "[The fox|bold=t][ jumped.]"));
    CHECK(spans_are(b, "[The fox|bold=t][ jumped.]"));
    /* Values of one type: the winner's shows (link changed to another URL). */
    fmt(a, 8, 6, "link", "x");
    fmt(b, 8, 6, "link", "y");
    exchange(b, a);
    CHECK(spans_are(a, "[The fox|bold=t][ ][jumped|link=y][.]"));
    CHECK(spans_are(b, "[The fox|bold=t][ ][jumped|link=y][.]"));
    weft_text_free(a);
    weft_text_free(b);
}

/* Marks survive deletes at their ends, and a range whose characters are
 * all deleted covers nothing visible. */
static void test_deletes(void) {
    weft_text *a, *b;
    start(&a, &b);
    fmt(a, 4, 3, "bold", "t");
    CHECK_OK(weft_text_delete(b, 4, 1)); /* "f" */
    CHECK_OK(weft_text_delete(b, 5, 1)); /* "x" */
    exchange(a, b);
    CHECK(spans_are(a, "[The ][o|bold=t][ jumped.]"));
    CHECK(spans_are(b, "[The ][o|bold=t][ jumped.]"));
    CHECK_OK(weft_text_delete(a, 4, 1));
    CHECK(spans_are(a, "[The  jumped.]"));
    weft_text_free(a);
    weft_text_free(b);
}

/* A mark naming characters not arrived yet waits for them (covers
 * nothing), and order of arrival does not matter. */
static void test_out_of_order(void) {
    weft_text *a = mk(1), *b = mk(2), *c = mk(3);
    weft_text *all[3] = {a, b, c};
    ins(a, 0, "hello");
    batch *x = take(a);
    give(x, b);
    ins(b, 5, " world");
    batch *y = take(b);
    give(y, a);
    fmt(a, 3, 5, "italic", "t"); /* "lo wo" */
    batch *z = take(a);
    give(z, c); /* c has neither text yet */
    CHECK(spans_are(c, ""));
    give(y, c); /* " world" cannot place before "hello": it waits */
    give(z, c); /* the same mark again: nothing changes */
    give(x, c);
    CHECK(spans_are(c, "[hel][lo wo|italic=t][rld]"));
    give(z, b);
    CHECK(spans_are(b, "[hel][lo wo|italic=t][rld]"));
    drop(x);
    drop(y);
    drop(z);
    for (int i = 0; i < 3; i++)
        weft_text_free(all[i]);
}

/* The state carries the marks: load gives the same spans, and encoding
 * the loaded state gives the same bytes. A text without marks encodes as
 * before. */
static void test_state(void) {
    weft_text *a, *b;
    start(&a, &b);
    const uint8_t *p;
    size_t n0, n1, n_plain;
    CHECK_OK(weft_text_encode(a, &p, &n_plain));
    fmt(a, 0, 3, "bold", "t");
    fmt(b, 8, 6, "link", "https://x");
    fmt(b, 4, 3, "bold", NULL);
    exchange(a, b);
    CHECK_OK(weft_text_encode(a, &p, &n1));
    CHECK(n1 > n_plain);
    uint8_t *s = malloc(n1);
    memcpy(s, p, n1);
    weft_text *c = mk(3);
    CHECK_OK(weft_text_load(c, s, n1));
    const char *want = "[The|bold=t][ fox ][jumped|link=https://x][.]";
    CHECK(spans_are(a, want));
    CHECK(spans_are(c, want));
    CHECK_OK(weft_text_encode(c, &p, &n0));
    CHECK(n0 == n1 && memcmp(p, s, n1) == 0);
    /* B's state holds the same ops, so the same bytes. */
    CHECK_OK(weft_text_encode(b, &p, &n0));
    CHECK(n0 == n1 && memcmp(p, s, n1) == 0);
    /* The loaded replica's clock continues: its mark wins over all. */
    fmt(c, 0, 15, "bold", NULL);
    CHECK(spans_are(c, "[The fox ][jumped|link=https://x][.]"));
    /* Every truncation and any trailing byte is refused, t unchanged (but
     * the text alone, without its marks section, is a state). */
    for (size_t k = 0; k < n1; k++) {
        weft_text *d = mk(4);
        CHECK(k == n_plain ? weft_text_load(d, s, k) == 0 : weft_text_load(d, s, k) < 0);
        if (k == n_plain) {
            weft_text_free(d);
            continue;
        }
        CHECK(weft_text_length(d) == 0);
        weft_text_free(d);
    }
    uint8_t *t2 = malloc(n1 + 1);
    memcpy(t2, s, n1);
    t2[n1] = 0;
    weft_text *d = mk(4);
    CHECK(weft_text_load(d, t2, n1 + 1) == WEFT_EMALFORMED);
    weft_text_free(d);
    free(t2);
    free(s);
    weft_text_free(a);
    weft_text_free(b);
    weft_text_free(c);
}

/* Remote marks reach the delta callback as a formatted range. */
static size_t seen_pos, seen_formatted;
static void on_delta(void *ud, const weft_text_delta *d) {
    (void)ud;
    if (d->formatted) {
        seen_pos = d->pos;
        seen_formatted = d->formatted;
    }
}

static void test_delta(void) {
    uint8_t key[32];
    fill_key(key, 2);
    weft_text_config cfg = {.author = key, .unit = WEFT_TEXT_UTF16, .on_delta = on_delta};
    weft_text *a = mk(1), *b = NULL;
    CHECK_OK(weft_text_new(&b, &cfg));
    ins(a, 0,
        "a\xf0\x9f\x98\x80"
        "bcd"); /* a, U+1F600 (2 UTF-16 units), b, c, d */
    weft_text *all[2] = {a, b};
    sync_from(a, all, 2);
    fmt(a, 1, 2, "italic", "t"); /* the emoji and b (code points) */
    sync_from(a, all, 2);
    CHECK(seen_pos == 1 && seen_formatted == 3); /* UTF-16: emoji 2 + b 1 */
    weft_text_free(a);
    weft_text_free(b);
}

static void test_errors(void) {
    weft_text *t = mk(1);
    ins(t, 0, "ab\xf0\x9f\x98\x80");
    const uint8_t v[] = "t";
    CHECK(weft_text_format(t, 0, 0, "bold", 4, v, 1) == WEFT_EINVAL); /* empty */
    CHECK(weft_text_format(t, 2, 2, "bold", 4, v, 1) == WEFT_EINVAL); /* past the end */
    CHECK(weft_text_format(t, 0, 1, "", 0, v, 1) == WEFT_EINVAL);
    char big[65];
    memset(big, 'a', sizeof big);
    CHECK(weft_text_format(t, 0, 1, big, 65, v, 1) == WEFT_EINVAL);
    CHECK(weft_text_format(t, 0, 1, "\xff", 1, v, 1) == WEFT_EINVAL);
    CHECK(weft_text_format(t, 0, 1, "bold", 4, v, 0) == WEFT_EINVAL);
    CHECK(weft_text_format(NULL, 0, 1, "bold", 4, v, 1) == WEFT_EINVAL);
    CHECK(weft_text_spans(t, NULL, NULL) == WEFT_EINVAL);
    CHECK(spans_are(t, "[ab\xf0\x9f\x98\x80]"));
    /* Ops a decoder refuses. */
    uint8_t k[32];
    fill_key(k, 9);
    weft_text_op o = {
        .kind = 3, .author = k, .lamport = 1, .text = v, .nbytes = 1, .value = v, .value_len = 1};
    CHECK(weft__text_op_check(&o) == 0);
    o.lamport = 0;
    CHECK(weft__text_op_check(&o) == WEFT_EMALFORMED);
    o.lamport = 1;
    o.sides = WEFT_MARK_START_AFTER; /* the start edge has no side */
    CHECK(weft__text_op_check(&o) == WEFT_EMALFORMED);
    o.sides = 4;
    CHECK(weft__text_op_check(&o) == WEFT_EMALFORMED);
    o.sides = 0;
    o.kind = 4; /* a remove has no value */
    CHECK(weft__text_op_check(&o) == WEFT_EMALFORMED);
    o.value = NULL;
    o.value_len = 0;
    CHECK(weft__text_op_check(&o) == 0);
    o.nbytes = 0;
    CHECK(weft__text_op_check(&o) == WEFT_EMALFORMED);
    weft_text_free(t);
}

/* The state with marks, byte for byte (docs/TEXT.md, "Marks", worked
 * example). */
static void test_golden(void) {
    weft_text *t = mk(0x11);
    ins(t, 0, "hello");
    CHECK_OK(weft_text_format(t, 0, 2, "bold", 4, (const uint8_t *)"\x02", 1));
    CHECK_OK(weft_text_format(t, 1, 3, "link", 4, (const uint8_t *)"\x05\x01u", 3));
    uint8_t want[111], *w = want;
    const uint8_t head[] = {0x01, 0x02, 0x01};
    memcpy(w, head, 3), w += 3;
    memset(w, 0x11, 32), w += 32;
    const uint8_t text[] = {0x05, 0x01, 0x80, 0x02, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0x01};
    memcpy(w, text, sizeof text), w += sizeof text;
    memset(w, 0x11, 32), w += 32;
    const uint8_t ops[] = {0x02, 0x04, 'b',  'o',  'l',  'd',  0x04, 'l',  'i',  'n',  'k',
                           0x02, 0x38, 0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x01, 0x02, 0x3c,
                           0x00, 0x01, 0x00, 0x01, 0x04, 0x01, 0x03, 0x05, 0x01, 'u'};
    memcpy(w, ops, sizeof ops), w += sizeof ops;
    CHECK(w - want == (ptrdiff_t)sizeof want);
    const uint8_t *p;
    size_t n;
    CHECK_OK(weft_text_encode(t, &p, &n));
    CHECK(n == sizeof want && memcmp(p, want, n) == 0);
    CHECK(spans_are(t, "[h|bold=\x02][e|bold=\x02,link=\x05\x01u][ll|link=\x05\x01u][o]"));
    /* The marks section's tables and deltas allow one encoding only: each
     * change below is refused, and the text loading it stays empty. */
    struct {
        size_t at;
        uint8_t to;
    } bad[] = {
        {86, 'b'},   /* with 87..89 below: "link" becomes "bold", a type twice */
        {97, 0x01},  /* op 0 uses type 1 before type 0 */
        {106, 0x00}, /* type 1 never used */
        {91, 0x28},  /* the end character's key from the start, but no end */
        {96, 0x03},  /* end seq 0 - 2: below 0 */
        {91, 0x78},  /* an unknown flag */
        {79, 0x00},  /* no types */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t mod[sizeof want];
        memcpy(mod, want, sizeof want);
        mod[bad[i].at] = bad[i].to;
        if (bad[i].at == 86) memcpy(mod + 86, "bold", 4);
        weft_text *d = mk(0x22);
        int rc = weft_text_load(d, mod, sizeof mod);
        CHECK(rc == WEFT_EMALFORMED || rc == WEFT_ETRUNCATED);
        CHECK(weft_text_length(d) == 0);
        weft_text_free(d);
    }
    weft_text_free(t);
}

/* ---- in a document (weft_replica_text_format, ops 11 and 12) ---- */

static int doc_spans_are(weft_replica *r, const char *want) {
    sbuf b = {.n = 0};
    int rc = weft_replica_text_spans(r, "n", 1, "d", 1, "body", 4, put_span, &b);
    if (rc) b.n = (size_t)snprintf(b.s, sizeof b.s, "(%s)", weft_err_name(rc));
    int ok = strcmp(b.s, want) == 0;
    if (!ok) fprintf(stderr, "spans are %s, want %s\n", b.s, want);
    return ok;
}

static int doc_format(weft_replica *r, size_t pos, size_t len, const char *type, int value,
                      int join) {
    uint8_t v[8];
    size_t vl = 0;
    weft_value_write_bool(v, sizeof v, &vl, 1);
    const uint8_t *rec;
    size_t rl;
    return weft_replica_text_format(r, "n", 1, "d", 1, "body", 4, pos, len, type, strlen(type),
                                    value ? v : NULL, vl, join, 0, &rec, &rl);
}

static void note_code(void *ud, int code, const char *coll, size_t coll_len, const char *doc,
                      size_t doc_len, const char *field, size_t field_len) {
    (void)coll, (void)coll_len, (void)doc, (void)doc_len, (void)field, (void)field_len;
    int *codes = ud;
    codes[codes[0]++ + 1] = code;
}

static void test_in_document(void) {
    uint8_t space[32], ka[32], kb[32];
    fill_key(space, 0x5a);
    fill_key(ka, 1);
    fill_key(kb, 2);
    weft_replica *a = new_replica(space, ka), *b = new_replica(space, kb);
    const uint8_t *rec;
    size_t rl;
    CHECK_OK(weft_replica_text_splice(a, "n", 1, "d", 1, "body", 4, 0, 0, "hello world", 11, 0,
                                      &rec, &rl));
    uint8_t plain_hash[32], h[32];
    CHECK_OK(weft_state_hash(a, plain_hash));
    /* Below the marks level nothing is written. */
    CHECK_RC(doc_format(a, 0, 5, "bold", 1, 0), WEFT_EVERSION);
    CHECK_OK(weft_replica_set_format_level(a, WEFT_LEVEL_MARKS));
    CHECK_OK(weft_replica_set_format_level(b, WEFT_LEVEL_MARKS));
    CHECK(doc_spans_are(a, "[hello world]"));
    /* Errors: no text, bad range, bad value; nothing changes. */
    const uint8_t bad[] = {0xff};
    CHECK_RC(weft_replica_text_format(a, "n", 1, "x", 1, "body", 4, 0, 1, "bold", 4, NULL, 0, 0, 0,
                                      &rec, &rl),
             WEFT_ENOTFOUND);
    CHECK_RC(doc_format(a, 5, 7, "bold", 1, 0), WEFT_EINVAL);
    CHECK_RC(doc_format(a, 0, 0, "bold", 1, 0), WEFT_EINVAL);
    CHECK_RC(weft_replica_text_format(a, "n", 1, "d", 1, "body", 4, 0, 1, "bold", 4, bad, 1, 0, 0,
                                      &rec, &rl),
             WEFT_EINVAL);
    CHECK_OK(weft_state_hash(a, h));
    CHECK(memcmp(h, plain_hash, 32) == 0);
    /* Two formats joining one transaction, then one committed at once. */
    CHECK_OK(doc_format(a, 0, 5, "bold", 1, 1));
    CHECK_OK(doc_format(a, 6, 5, "italic", 1, 1));
    CHECK_RC(doc_format(a, 0, 1, "bold", 0, 0), WEFT_ESTATE); /* a transaction is open */
    CHECK_OK(weft_replica_commit(a, 0, &rec, &rl));
    int codes[8] = {0};
    CHECK_OK(weft_replica_change_ops(a, rec, rl, note_code, codes));
    CHECK(codes[0] == 2 && codes[1] == 11 && codes[2] == 11); /* two adds */
    CHECK_OK(weft_replica_text_format(a, "n", 1, "d", 1, "body", 4, 0, 1, "bold", 4, NULL, 0, 0, 0,
                                      &rec, &rl));
    memset(codes, 0, sizeof codes);
    CHECK_OK(weft_replica_change_ops(a, rec, rl, note_code, codes));
    CHECK(codes[0] == 1 && codes[1] == 12);                               /* a remove */
    CHECK(doc_spans_are(a, "[h][ello|bold=\x02][ ][world|italic=\x02]")); /* true: 0x02 */
    /* The marks change the state hash; b converges to the same. */
    CHECK_OK(weft_state_hash(a, h));
    CHECK(memcmp(h, plain_hash, 32) != 0);
    CHECK_OK(sync_to(a, b));
    CHECK(same_hash(a, b));
    CHECK(doc_spans_are(b, "[h][ello|bold=][ ][world|italic=]"));
    /* A snapshot keeps them. */
    const uint8_t *snap;
    size_t sl;
    CHECK_OK(weft_replica_snapshot(b, &snap, &sl));
    weft_replica *c = new_replica(space, kb);
    CHECK_OK(weft_replica_load_snapshot(c, snap, sl));
    CHECK(same_hash(a, c));
    CHECK(doc_spans_are(c, "[h][ello|bold=][ ][world|italic=]"));
    /* A put replaces the text and its marks. */
    uint8_t v[16];
    size_t vl;
    weft_value_write_string(v, sizeof v, &vl, "plain", 5);
    CHECK_OK(weft_replica_put(a, "n", 1, "d", 1, "body", 4, v, vl));
    CHECK_OK(weft_replica_commit(a, 0, &rec, &rl));
    CHECK(doc_spans_are(a, "(NOTFOUND)"));
    weft_replica_free(a);
    weft_replica_free(b);
    weft_replica_free(c);
}

/* Every allocation failing in turn: format, spans, encode and load fail
 * with WEFT_ENOMEM or succeed, and leave the text whole. */
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

static int count_span(void *ud, const char *utf8, size_t len, const weft_text_mark *m, size_t n) {
    (void)utf8;
    (void)len;
    (void)m;
    *(size_t *)ud += n;
    return 0;
}

static void test_out_of_memory(void) {
    weft_text *src, *other;
    start(&src, &other);
    fmt(src, 0, 9, "bold", "t");
    fmt(src, 4, 5, "link", "u");
    const uint8_t *st;
    size_t sl;
    CHECK_OK(weft_text_encode(src, &st, &sl));
    uint8_t *state = malloc(sl);
    memcpy(state, st, sl);
    for (long k = 0; k < 120; k++) {
        budget b = {-1};
        weft_allocator al = {budget_realloc, &b};
        uint8_t key[32];
        fill_key(key, 8);
        weft_text_config cfg = {.alloc = &al, .author = key};
        weft_text *t;
        CHECK_OK(weft_text_new(&t, &cfg));
        b.left = k;
        int rc = weft_text_load(t, state, sl);
        CHECK(rc == 0 || rc == WEFT_ENOMEM);
        if (rc == 0) {
            size_t n = 0;
            rc = weft_text_format(t, 2, 5, "italic", 6, (const uint8_t *)"t", 1);
            CHECK(rc == 0 || rc == WEFT_ENOMEM);
            rc = weft_text_spans(t, count_span, &n);
            CHECK(rc == 0 || rc == WEFT_ENOMEM);
            const uint8_t *e;
            size_t el;
            rc = weft_text_encode(t, &e, &el);
            CHECK(rc == 0 || rc == WEFT_ENOMEM);
        }
        b.left = -1;
        CHECK(weft__text_check(t) == 0);
        size_t n = 0;
        CHECK_OK(weft_text_spans(t, count_span, &n));
        weft_text_free(t);
    }
    free(state);
    weft_text_free(src);
    weft_text_free(other);
}

RUN_TESTS(T(test_overlapping), T(test_typing_at_edges), T(test_link_not_expanding),
          T(test_block_marker), T(test_add_remove), T(test_deletes), T(test_out_of_order),
          T(test_state), T(test_delta), T(test_errors), T(test_golden), T(test_in_document),
          T(test_out_of_memory))
