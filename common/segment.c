/*
 * The segment codec (segment.h). Every byte of a segment is read through a
 * view of exactly the length the scan has checked fits in the segment, and
 * each 16-byte item header is copied out before the next view is asked
 * for, so a view may reuse one buffer. Offsets are u64 and only compared
 * as "bytes left" (size - off), which cannot wrap.
 */
#include "segment.h"

#include "crc32c.h"

#include "weft/error.h"

#include <assert.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

const char *weft__seg_fault_str(weft__seg_fault f) {
    switch (f) {
#define WEFT__SEG_X_STR(name, msg) \
    case WEFT__SEG_##name:         \
        return msg;
        WEFT__SEG_FAULTS(WEFT__SEG_X_STR)
#undef WEFT__SEG_X_STR
    }
    return "unknown";
}

int weft__seg_name(char *dst, size_t dst_cap, uint64_t first) {
    if (dst_cap < WEFT__SEG_NAME_CAP) return WEFT_ENOSPACE;
    char digits[20];
    for (int i = 19; i >= 0; i--, first /= 10)
        digits[i] = (char)('0' + first % 10);
    memcpy(dst, digits, 20);
    memcpy(dst + 20, ".seg", 5);
    return 0;
}

int weft__seg_name_parse(uint64_t *first, const char *name) {
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return WEFT_EMALFORMED;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return WEFT_EMALFORMED;
        v = v * 10 + d;
    }
    if (strcmp(name + 20, ".seg") != 0 || v == 0) return WEFT_EMALFORMED;
    *first = v;
    return 0;
}

void weft__seg_header_put(uint8_t dst[WEFT__SEG_HDR], uint64_t first) {
    memcpy(dst, WEFT__SEG_MAGIC, 8);
    put64(dst + 8, first);
}

static uint32_t rec_crc(uint64_t rseq, const uint8_t *p, size_t n) {
    uint8_t s[8];
    put64(s, rseq);
    return weft__crc32c(weft__crc32c(0, s, 8), p, n);
}

void weft__seg_record_put(uint8_t dst[WEFT__SEG_ITEM], uint64_t rseq, const uint8_t *rec,
                          size_t len) {
    assert(len > 0 && len <= WEFT__SEG_MAX_REC);
    put32(dst, (uint32_t)len);
    put32(dst + 4, rec_crc(rseq, rec, len));
    put64(dst + 8, rseq);
}

void weft__seg_mark_put(uint8_t dst[WEFT__SEG_ITEM], uint64_t off) {
    uint8_t v[8];
    put64(v, off);
    put32(dst, 0);
    put32(dst + 4, weft__crc32c(0, v, 8));
    put64(dst + 8, off);
}

/* Whether the item header h, read at offset off, is a valid sync mark. */
static int mark_valid(const uint8_t h[WEFT__SEG_ITEM], uint64_t off) {
    uint8_t want[WEFT__SEG_ITEM];
    weft__seg_mark_put(want, off);
    return memcmp(h, want, WEFT__SEG_ITEM) == 0;
}

int weft__seg_record_check(const uint8_t *src, size_t src_len, uint64_t rseq, size_t len) {
    if (len == 0 || len > WEFT__SEG_MAX_REC || src_len < WEFT__SEG_ITEM ||
        src_len - WEFT__SEG_ITEM != len)
        return WEFT_EMALFORMED;
    if (get32(src) != len || get64(src + 8) != rseq ||
        rec_crc(rseq, src + WEFT__SEG_ITEM, len) != get32(src + 4))
        return WEFT_EMALFORMED;
    return 0;
}

/* Whether a valid sync mark lies at or after `from`, walking item headers
 * while their lengths are possible and stepping over damaged marks. OUT:
 * *found. Returns 0 or view's error. */
static int mark_after(int *found, uint64_t from, uint64_t size, weft__seg_view_fn view, void *ud) {
    *found = 0;
    for (uint64_t off = from; off <= size && size - off >= WEFT__SEG_ITEM;) {
        int err = 0;
        const uint8_t *h = view(ud, off, WEFT__SEG_ITEM, &err);
        if (!h) return err ? err : WEFT_EINVAL;
        uint32_t len = get32(h);
        if (len == 0) {
            if (mark_valid(h, off)) {
                *found = 1;
                return 0;
            }
            off += WEFT__SEG_ITEM; /* a damaged mark: look past it */
        } else if (len <= WEFT__SEG_MAX_REC && size - off - WEFT__SEG_ITEM >= len) {
            off += WEFT__SEG_ITEM + len;
        } else {
            break;
        }
    }
    return 0;
}

int weft__seg_scan_run(weft__seg_scan *out, uint64_t size, uint64_t want, int last,
                       weft__seg_view_fn view, void *view_ud, weft__seg_record_fn fn, void *fn_ud) {
    memset(out, 0, sizeof *out);
    out->next = want;
    int err = 0;
    if (size < WEFT__SEG_HDR) {
        /* The header never made it: only the newest segment can be so. */
        out->fault = WEFT__SEG_HEADER_SHORT;
        out->torn = last;
        return 0;
    }
    const uint8_t *p = view(view_ud, 0, WEFT__SEG_HDR, &err);
    if (!p) return err ? err : WEFT_EINVAL;
    if (memcmp(p, WEFT__SEG_MAGIC, 8) != 0) {
        out->fault = WEFT__SEG_BAD_MAGIC;
        return 0;
    }
    out->first = get64(p + 8);
    out->end = out->marked = WEFT__SEG_HDR;
    if (want && out->first != want) {
        out->fault = WEFT__SEG_GAP;
        return 0;
    }
    out->next = out->first;
    uint64_t off = WEFT__SEG_HDR;
    while (off < size) {
        weft__seg_fault why = WEFT__SEG_FINE;
        uint8_t h[WEFT__SEG_ITEM];
        uint32_t len = 0;
        if (size - off < WEFT__SEG_ITEM) {
            why = WEFT__SEG_ITEM_SHORT;
        } else {
            if (!(p = view(view_ud, off, WEFT__SEG_ITEM, &err))) return err ? err : WEFT_EINVAL;
            memcpy(h, p, WEFT__SEG_ITEM);
            len = get32(h);
            if (len == 0) {
                if (mark_valid(h, off)) {
                    off += WEFT__SEG_ITEM;
                    out->end = out->marked = off;
                    continue;
                }
                why = WEFT__SEG_BAD_MARK;
            } else if (len > WEFT__SEG_MAX_REC) {
                why = WEFT__SEG_BAD_LEN;
            } else if (size - off - WEFT__SEG_ITEM < len) {
                why = WEFT__SEG_REC_SHORT;
            } else if (get64(h + 8) != out->next) {
                why = WEFT__SEG_BAD_RSEQ;
            }
        }
        const uint8_t *rec = NULL;
        if (!why) {
            if (!(rec = view(view_ud, off + WEFT__SEG_ITEM, len, &err)))
                return err ? err : WEFT_EINVAL;
            if (rec_crc(out->next, rec, len) != get32(h + 4)) why = WEFT__SEG_BAD_CRC;
        }
        if (why) {
            out->fault = why;
            /* Past the bad item, when its length is sane (a cut-short one
             * reaches past the end, so nothing can follow it). */
            uint64_t past = off + WEFT__SEG_ITEM + len;
            int synced = 0;
            if (last && why != WEFT__SEG_ITEM_SHORT && past <= size &&
                (err = mark_after(&synced, past, size, view, view_ud)))
                return err;
            out->torn = last && !synced;
            return 0;
        }
        int rc = fn ? fn(fn_ud, out->next, off, rec, len) : 0;
        off += WEFT__SEG_ITEM + len;
        out->end = off;
        out->next++;
        if (rc) return rc;
    }
    return 0;
}

typedef struct mem_seg {
    const uint8_t *p;
    size_t len;
} mem_seg;

static const uint8_t *mem_view(void *ud, uint64_t off, size_t n, int *err) {
    const mem_seg *m = ud;
    if (off > m->len || m->len - off < n) { /* the scan never asks: a bug */
        assert(0);
        *err = WEFT_EINVAL;
        return NULL;
    }
    return m->p + off;
}

int weft__seg_scan_mem(weft__seg_scan *out, const uint8_t *seg, size_t seg_len, uint64_t want,
                       int last, weft__seg_record_fn fn, void *fn_ud) {
    mem_seg m = {seg, seg_len};
    return weft__seg_scan_run(out, seg_len, want, last, mem_view, &m, fn, fn_ud);
}
