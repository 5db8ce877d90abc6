/* The relay's segment codec (common/segment.h): golden bytes for the
 * encoders, and where a scan draws the line between a torn tail and damage. */
#include "check.h"

#include "crc32c.h"
#include "segment.h"

/* A segment starting at relay sequence 1 holding the record "abc", then a
 * sync mark at offset 35 (computed independently with a bitwise CRC32C). */
static const char golden_hex[] =
    "7765667473656731010000000000000003000000f4dd8f6b01000000000000006162"
    "63000000007a506c5a2300000000000000";

static size_t unhex(uint8_t *dst, const char *s) {
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        sscanf(s + 2 * i, "%2x", &b);
        dst[i] = (uint8_t)b;
    }
    return n;
}

static void crc_vectors(void) {
    CHECK(weft__crc32c(0, "123456789", 9) == 0xE3069283u);
    uint8_t z[32] = {0}, o[32];
    memset(o, 0xff, 32);
    CHECK(weft__crc32c(0, z, 32) == 0x8A9136AAu);
    CHECK(weft__crc32c(0, o, 32) == 0x62A8AB43u);
    CHECK(weft__crc32c(weft__crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
    CHECK(weft__crc32c(0, "", 0) == 0);
}

static void golden_encode(void) {
    uint8_t want[64], got[64];
    size_t n = unhex(want, golden_hex);
    CHECK(n == 51);
    weft__seg_header_put(got, 1);
    weft__seg_record_put(got + 16, 1, (const uint8_t *)"abc", 3);
    memcpy(got + 32, "abc", 3);
    weft__seg_mark_put(got + 35, 35);
    CHECK(memcmp(got, want, n) == 0);
    CHECK_OK(weft__seg_record_check(want + 16, 19, 1, 3));
    CHECK_RC(weft__seg_record_check(want + 16, 19, 2, 3), WEFT_EMALFORMED);
    CHECK_RC(weft__seg_record_check(want + 16, 18, 1, 3), WEFT_EMALFORMED);
    want[33] ^= 1;
    CHECK_RC(weft__seg_record_check(want + 16, 19, 1, 3), WEFT_EMALFORMED);
}

static void names(void) {
    char name[WEFT__SEG_NAME_CAP];
    uint64_t first = 0;
    CHECK_OK(weft__seg_name(name, sizeof name, 52817));
    CHECK(strcmp(name, "00000000000000052817.seg") == 0);
    CHECK_OK(weft__seg_name_parse(&first, name));
    CHECK(first == 52817);
    CHECK_RC(weft__seg_name(name, sizeof name - 1, 1), WEFT_ENOSPACE);
    CHECK_OK(weft__seg_name(name, sizeof name, UINT64_MAX));
    CHECK(strcmp(name, "18446744073709551615.seg") == 0);
    CHECK_OK(weft__seg_name_parse(&first, name));
    CHECK(first == UINT64_MAX);
    static const char *bad[] = {
        "00000000000000000000.seg",     "0000000000000000001.seg",  "000000000000000000001.seg",
        "00000000000000000001.seg.tmp", "0000000000000000000a.seg", "18446744073709551616.seg",
        "99999999999999999999.seg",     "00000000000000000001.SEG", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_RC(weft__seg_name_parse(&first, bad[i]), WEFT_EMALFORMED);
}

typedef struct seen {
    uint64_t rseq[16], off[16];
    size_t n;
    int stop_at; /* return 7 on this record (1-based; 0: never) */
} seen;

static int on_record(void *ud, uint64_t rseq, uint64_t off, const uint8_t *rec, size_t len) {
    seen *s = ud;
    if (s->n < 16) {
        s->rseq[s->n] = rseq;
        s->off[s->n] = off;
    }
    s->n++;
    (void)rec;
    (void)len;
    return s->stop_at && (int)s->n == s->stop_at ? 7 : 0;
}

/* Builds a segment starting at `first` with records "r1".."rN" (record i
 * holds i+1 bytes) and a sync mark after record `mark` (0: none). */
static size_t build(uint8_t *dst, uint64_t first, int n, int mark) {
    size_t o = 16;
    weft__seg_header_put(dst, first);
    for (int i = 1; i <= n; i++) {
        uint8_t body[16];
        memset(body, 'a' + i, (size_t)i + 1);
        weft__seg_record_put(dst + o, first + (uint64_t)i - 1, body, (size_t)i + 1);
        memcpy(dst + o + 16, body, (size_t)i + 1);
        o += 16 + (size_t)i + 1;
        if (i == mark) {
            weft__seg_mark_put(dst + o, o);
            o += 16;
        }
    }
    return o;
}

static void scan_clean(void) {
    uint8_t seg[64];
    size_t n = unhex(seg, golden_hex);
    weft__seg_scan sc;
    seen s = {0};
    CHECK_OK(weft__seg_scan_mem(&sc, seg, n, 1, 1, on_record, &s));
    CHECK(sc.fault == WEFT__SEG_FINE && !sc.torn);
    CHECK(sc.first == 1 && sc.next == 2 && sc.end == 51 && sc.marked == 51);
    CHECK(s.n == 1 && s.rseq[0] == 1 && s.off[0] == 16);
    /* want 0 takes the header's first; any other must match it */
    CHECK_OK(weft__seg_scan_mem(&sc, seg, n, 0, 0, NULL, NULL));
    CHECK(sc.fault == WEFT__SEG_FINE && sc.next == 2);
    CHECK_OK(weft__seg_scan_mem(&sc, seg, n, 5, 1, NULL, NULL));
    CHECK(sc.fault == WEFT__SEG_GAP && !sc.torn && sc.end == 16);
    /* a segment with just its header */
    CHECK_OK(weft__seg_scan_mem(&sc, seg, 16, 1, 0, NULL, NULL));
    CHECK(sc.fault == WEFT__SEG_FINE && sc.end == 16 && sc.next == 1);
    /* fn's non-zero value ends the scan */
    uint8_t big[512];
    size_t bl = build(big, 1, 5, 0);
    seen st = {.stop_at = 2};
    CHECK_RC(weft__seg_scan_mem(&sc, big, bl, 1, 1, on_record, &st), 7);
    CHECK(st.n == 2 && sc.next == 3);
}

static void scan_headers(void) {
    uint8_t seg[64];
    size_t n = unhex(seg, golden_hex);
    weft__seg_scan sc;
    for (size_t cut = 0; cut < 16; cut++) {
        /* The header never made it: torn in the last segment only. */
        CHECK_OK(weft__seg_scan_mem(&sc, seg, cut, 1, 1, NULL, NULL));
        CHECK(sc.fault == WEFT__SEG_HEADER_SHORT && sc.torn && sc.end == 0);
        CHECK_OK(weft__seg_scan_mem(&sc, seg, cut, 1, 0, NULL, NULL));
        CHECK(sc.fault == WEFT__SEG_HEADER_SHORT && !sc.torn);
    }
    seg[0] = 'W';
    CHECK_OK(weft__seg_scan_mem(&sc, seg, n, 1, 1, NULL, NULL));
    CHECK(sc.fault == WEFT__SEG_BAD_MAGIC && !sc.torn && sc.end == 0);
}

/* Every cut of the last record of the last segment is a torn tail, at the
 * record's offset; the same cut in a sealed segment is damage. */
static void torn_tails(void) {
    uint8_t seg[512];
    size_t full = build(seg, 10, 4, 3), last_off = full - (16 + 5);
    weft__seg_scan sc;
    for (size_t cut = last_off + 1; cut < full; cut++) {
        CHECK_OK(weft__seg_scan_mem(&sc, seg, cut, 10, 1, NULL, NULL));
        CHECK(sc.fault != WEFT__SEG_FINE && sc.torn && sc.end == last_off && sc.next == 13);
        CHECK(sc.marked == last_off);
        CHECK_OK(weft__seg_scan_mem(&sc, seg, cut, 10, 0, NULL, NULL));
        CHECK(sc.fault != WEFT__SEG_FINE && !sc.torn && sc.end == last_off);
    }
    CHECK_OK(weft__seg_scan_mem(&sc, seg, last_off + 7, 10, 1, NULL, NULL));
    CHECK(sc.fault == WEFT__SEG_ITEM_SHORT);
    CHECK_OK(weft__seg_scan_mem(&sc, seg, full - 1, 10, 1, NULL, NULL));
    CHECK(sc.fault == WEFT__SEG_REC_SHORT);
    CHECK_OK(weft__seg_scan_mem(&sc, seg, full, 10, 1, NULL, NULL));
    CHECK(sc.fault == WEFT__SEG_FINE && sc.next == 14 && sc.end == full);
}

/* A bad record with a sync mark after it was durable: damage, even in the
 * last segment. Without a mark after it, a torn tail. */
static void damage(void) {
    uint8_t seg[512], orig[512];
    size_t full = build(orig, 1, 4, 3);
    size_t r2 = 16 + 16 + 2, r4 = full - (16 + 5);
    weft__seg_scan sc;
    struct {
        size_t at;
        uint8_t x;
        weft__seg_fault fault;
        int torn;
    } cases[] = {
        {r2 + 16 + 1, 1, WEFT__SEG_BAD_CRC, 0},  /* a body byte, before the mark */
        {r2 + 4, 1, WEFT__SEG_BAD_CRC, 0},       /* its CRC */
        {r2 + 8, 1, WEFT__SEG_BAD_RSEQ, 0},      /* its rseq */
        {r2 + 3, 0x80, WEFT__SEG_BAD_LEN, 1},    /* len > 64 MiB: nothing walks past it */
        {r2, 1, WEFT__SEG_BAD_CRC, 1},           /* len 3 -> 2: the walk loses step */
        {r4 + 16, 1, WEFT__SEG_BAD_CRC, 1},      /* after the mark */
        {r4 - 16 + 9, 1, WEFT__SEG_BAD_MARK, 1}, /* the mark itself: nothing marks past it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(seg, orig, full);
        seg[cases[i].at] ^= cases[i].x;
        CHECK_OK(weft__seg_scan_mem(&sc, seg, full, 1, 1, NULL, NULL));
        if (sc.fault != cases[i].fault || sc.torn != cases[i].torn)
            fprintf(stderr, "case %zu: fault %s torn %d\n", i, weft__seg_fault_str(sc.fault),
                    sc.torn);
        CHECK(sc.fault == cases[i].fault && sc.torn == cases[i].torn);
        CHECK_OK(weft__seg_scan_mem(&sc, seg, full, 1, 0, NULL, NULL));
        CHECK(sc.fault == cases[i].fault && !sc.torn);
    }
    /* A damaged mark followed by a good one: walked past, so damage. */
    uint8_t two[512];
    size_t o = build(two, 1, 1, 1);
    weft__seg_mark_put(two + o, o);
    two[o - 16 + 4] ^= 1;
    CHECK_OK(weft__seg_scan_mem(&sc, two, o + 16, 1, 1, NULL, NULL));
    CHECK(sc.fault == WEFT__SEG_BAD_MARK && !sc.torn && sc.end == o - 16);
    CHECK(strcmp(weft__seg_fault_str(WEFT__SEG_BAD_CRC), "CRC mismatch") == 0);
    CHECK(strcmp(weft__seg_fault_str((weft__seg_fault)99), "unknown") == 0);
}

RUN_TESTS(T(crc_vectors), T(golden_encode), T(names), T(scan_clean), T(scan_headers), T(torn_tails),
          T(damage))
