/*
 * fuzz_text: the text CRDT's two decoders (weft/text.h), on the same input.
 *
 * As an update (weft_text_apply) into a text that already holds a short
 * history of two authors (fuzz_text_preload, loaded from its state): an
 * update refused as a whole (bad version, truncated, too big, pending full)
 * leaves the text as it was; whatever was applied, applying the same bytes
 * again changes nothing, not even the pending count; and the result survives
 * encode → load into a fresh replica.
 *
 * As a whole state (weft_text_load) into an empty replica: refused, the
 * replica is still empty and takes a local edit; accepted, encode → load
 * gives the same text.
 *
 * Either way, anchors (stable positions) at the first positions resolve back
 * to where they were made, and the input's first 40 bytes read as an anchor
 * resolve inside the text or to WEFT_ENOTFOUND.
 */
#include "fuzz_common.h"
#include "weft/text.h"

static fuzz_buf preload; /* the preloaded history's encoded state, built once */

static void read_text(weft_text *t, fuzz_buf *out) {
    size_t need = weft_text_utf8_length(t), len;
    if (out->cap < need + 1) {
        out->p = realloc(out->p, need + 1);
        FUZZ_ASSERT(out->p);
        out->cap = need + 1;
    }
    FUZZ_ASSERT(weft_text_read(t, (char *)out->p, out->cap, &len) == 0 && len == need);
    out->len = len;
}

static int same(const fuzz_buf *a, const fuzz_buf *b) {
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* The spans (marks) of t as bytes: per span its UTF-8, then its marks. */
static int put_span(void *ud, const char *utf8, size_t len, const weft_text_mark *m, size_t n) {
    fuzz_buf *b = ud;
    FUZZ_ASSERT(len > 0 && n <= 64);
    fuzz_buf_put(b, (const uint8_t *)utf8, len);
    for (size_t i = 0; i < n; i++) {
        FUZZ_ASSERT(m[i].type_len >= 1 && m[i].value_len >= 1);
        fuzz_buf_put(b, (const uint8_t *)m[i].type, m[i].type_len);
        fuzz_buf_put(b, m[i].value, m[i].value_len);
    }
    fuzz_buf_put(b, (const uint8_t *)"|", 1);
    return 0;
}

static void spans_of(const weft_text *t, fuzz_buf *out) {
    out->len = 0;
    FUZZ_ASSERT(weft_text_spans(t, put_span, out) == 0);
}

/* A copy of t through its encoded state, checked equal to t's text and
 * marks, and a copy of that copy. */
static void check_reload(weft_text *t, const fuzz_buf *want) {
    const uint8_t *state;
    size_t len;
    FUZZ_ASSERT(weft_text_encode(t, &state, &len) == 0);
    fuzz_buf enc = {0}, s0 = {0}, s1 = {0};
    fuzz_buf_put(&enc, state, len);
    weft_text *u = fuzz_text_new(0x77);
    int rc = weft_text_load(u, enc.p, enc.len);
    if (rc) fprintf(stderr, "loading our own encoded state: %s\n", weft_err_name(rc));
    FUZZ_ASSERT(rc == 0);
    fuzz_buf got = {0};
    read_text(u, &got);
    FUZZ_ASSERT(same(&got, want));
    spans_of(t, &s0);
    spans_of(u, &s1);
    FUZZ_ASSERT(same(&s0, &s1));
    FUZZ_ASSERT(weft_text_encode(u, &state, &len) == 0);
    /* Not byte for byte: u's own key goes first in its author table. */
    weft_text *v = fuzz_text_new(0x78);
    FUZZ_ASSERT(weft_text_load(v, state, len) == 0);
    spans_of(v, &s1);
    FUZZ_ASSERT(same(&s0, &s1));
    weft_text_free(v);
    free(got.p);
    free(enc.p);
    free(s0.p);
    free(s1.p);
    weft_text_free(u);
}

static void check_anchors(const weft_text *t, const uint8_t *data, size_t size) {
    size_t n = weft_text_length(t), pos;
    for (size_t p = 0; p <= n && p < 64; p++)
        for (int32_t assoc = -1; assoc <= 0; assoc++) {
            weft_text_anchor a;
            FUZZ_ASSERT(weft_text_anchor_at(t, p, assoc, &a) == 0);
            FUZZ_ASSERT(weft_text_anchor_resolve(t, &a, &pos) == 0 && pos == p);
        }
    if (size < 40) return;
    weft_text_anchor a;
    memcpy(a.author, data, 32);
    memcpy(&a.seq, data + 32, 4);
    memcpy(&a.assoc, data + 36, 4);
    int rc = weft_text_anchor_resolve(t, &a, &pos);
    FUZZ_ASSERT(rc == WEFT_ENOTFOUND || (rc == 0 && pos <= n));
}

static void as_update(const uint8_t *data, size_t size) {
    weft_text *t = fuzz_text_new(FUZZ_TARGET_AUTHOR);
    FUZZ_ASSERT(weft_text_load(t, preload.p, preload.len) == 0);
    fuzz_buf before = {0}, after = {0}, again = {0};
    read_text(t, &before);
    size_t pending0 = weft_text_pending(t);
    int rc = weft_text_apply(t, data, size);
    read_text(t, &after);
    if (rc == WEFT_EVERSION || rc == WEFT_ETRUNCATED || rc == WEFT_ETOOBIG ||
        rc == WEFT_EPENDING_FULL) {
        FUZZ_ASSERT(same(&before, &after) && weft_text_pending(t) == pending0);
    }
    if (rc == 0) {
        size_t pending = weft_text_pending(t);
        FUZZ_ASSERT(weft_text_apply(t, data, size) == 0);
        read_text(t, &again);
        /* Also for waiting ops: a re-delivered update must not park them
         * twice (regressions/text/pending-duplicates). */
        FUZZ_ASSERT(same(&after, &again) && weft_text_pending(t) == pending);
    }
    FUZZ_ASSERT(weft_text_length(t) <= weft_text_utf8_length(t));
    check_anchors(t, data, size);
    check_reload(t, &after);
    free(before.p);
    free(after.p);
    free(again.p);
    weft_text_free(t);
}

static void as_state(const uint8_t *data, size_t size) {
    weft_text *t = fuzz_text_new(FUZZ_TARGET_AUTHOR);
    int rc = weft_text_load(t, data, size);
    if (rc) {
        FUZZ_ASSERT(weft_text_length(t) == 0 && weft_text_utf8_length(t) == 0);
        FUZZ_ASSERT(weft_text_insert(t, 0, "ok", 2) == 0 && weft_text_length(t) == 2);
    } else {
        fuzz_buf text = {0};
        read_text(t, &text);
        FUZZ_ASSERT(weft_utf8_valid(text.p, text.len));
        check_anchors(t, data, size);
        check_reload(t, &text);
        free(text.p);
    }
    weft_text_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!preload.len) {
        weft_text *a, *b;
        fuzz_text_preload(&a, &b, &preload);
        weft_text_free(a);
        weft_text_free(b);
    }
    as_update(data, size);
    as_state(data, size);
    return 0;
}
