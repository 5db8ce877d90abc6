/*
 * fuzz_segment: the relay's segment codec (common/segment.h), which reads
 * segment files from disk at every relay start and in `weft log verify`.
 *
 * Input: one flags byte (bit 0: scan it as the last segment; bit 1: take
 * the first relay sequence from the header instead of expecting 1), then
 * the segment's bytes. The scan must classify any input without reading
 * out of bounds, and:
 * - what it reports is consistent: end within the input, the last sync
 *   mark at or before end, a fault exactly when bytes remain after end, a
 *   torn tail only in the last segment;
 * - every record it hands out sits at the offset it names, passes the
 *   per-read check, has the next relay sequence and re-encodes to the same
 *   item header;
 * - the prefix it keeps (what the relay truncates a torn tail to) scans
 *   clean with the same records, and as a sealed segment the fault is the
 *   same but never a torn tail.
 */
#include "fuzz_common.h"

#include "segment.h"

typedef struct walk {
    const uint8_t *seg;
    size_t size;
    uint64_t first, n, last_off;
} walk;

static int on_record(void *ud, uint64_t rseq, uint64_t off, const uint8_t *rec, size_t len) {
    walk *w = ud;
    FUZZ_ASSERT(rseq == w->first + w->n);
    FUZZ_ASSERT(w->n == 0 || off > w->last_off);
    FUZZ_ASSERT(off >= WEFT__SEG_HDR && off <= w->size && w->size - off >= WEFT__SEG_ITEM + len);
    FUZZ_ASSERT(rec == w->seg + off + WEFT__SEG_ITEM);
    FUZZ_ASSERT(len >= 1 && len <= WEFT__SEG_MAX_REC);
    FUZZ_ASSERT(weft__seg_record_check(w->seg + off, WEFT__SEG_ITEM + len, rseq, len) == 0);
    uint8_t h[WEFT__SEG_ITEM];
    weft__seg_record_put(h, rseq, rec, len);
    FUZZ_ASSERT(memcmp(h, w->seg + off, WEFT__SEG_ITEM) == 0);
    w->n++;
    w->last_off = off;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int last = data[0] & 1;
    uint64_t want = data[0] & 2 ? 0 : 1;
    const uint8_t *seg = data + 1;
    size_t len = size - 1;

    weft__seg_scan sc;
    walk w = {seg, len, want, 0, 0};
    if (!want && len >= WEFT__SEG_HDR && memcmp(seg, WEFT__SEG_MAGIC, 8) == 0) {
        uint64_t first = 0;
        for (int i = 7; i >= 0; i--)
            first = first << 8 | seg[8 + i];
        w.first = first;
    }
    FUZZ_ASSERT(weft__seg_scan_mem(&sc, seg, len, want, last, on_record, &w) == 0);
    FUZZ_ASSERT(sc.end <= len && sc.marked <= sc.end);
    FUZZ_ASSERT(!sc.torn || (last && sc.fault != WEFT__SEG_FINE));
    FUZZ_ASSERT(strcmp(weft__seg_fault_str(sc.fault), "unknown") != 0);
    int header_fault = sc.fault == WEFT__SEG_HEADER_SHORT || sc.fault == WEFT__SEG_BAD_MAGIC ||
                       sc.fault == WEFT__SEG_GAP;
    if (header_fault) {
        FUZZ_ASSERT(w.n == 0);
        FUZZ_ASSERT(sc.fault != WEFT__SEG_HEADER_SHORT || len < WEFT__SEG_HDR);
        return 0;
    }
    FUZZ_ASSERT(sc.first == w.first && sc.next == w.first + w.n);
    FUZZ_ASSERT(sc.marked >= WEFT__SEG_HDR);
    FUZZ_ASSERT((sc.fault == WEFT__SEG_FINE) == (sc.end == len));

    /* The same bytes as a sealed segment: the same line, never torn. */
    weft__seg_scan sealed;
    FUZZ_ASSERT(weft__seg_scan_mem(&sealed, seg, len, want, 0, NULL, NULL) == 0);
    FUZZ_ASSERT(sealed.fault == sc.fault && sealed.end == sc.end && !sealed.torn);
    FUZZ_ASSERT(sealed.next == sc.next && sealed.marked == sc.marked);

    /* What the relay keeps after cutting a torn tail scans clean. */
    if (sc.fault != WEFT__SEG_FINE) {
        weft__seg_scan kept;
        walk w2 = {seg, (size_t)sc.end, w.first, 0, 0};
        FUZZ_ASSERT(weft__seg_scan_mem(&kept, seg, (size_t)sc.end, want, 1, on_record, &w2) == 0);
        FUZZ_ASSERT(kept.fault == WEFT__SEG_FINE && kept.end == sc.end);
        FUZZ_ASSERT(w2.n == w.n && kept.next == sc.next && kept.marked == sc.marked);
    }
    return 0;
}
