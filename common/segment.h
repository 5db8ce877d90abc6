/*
 * The relay's segment file format (docs/RELAY.md, "Storage layout"), and the
 * only code that knows its bytes: relay/storage_file.c writes and reopens
 * segments through it, `weft log verify|inspect|export` reads them through
 * it, and tests/fuzz/fuzz_segment.c feeds it arbitrary bytes. It does no
 * I/O and allocates nothing: the caller hands it bytes (a whole segment in
 * memory, or one view at a time from a file).
 *
 *   <space dir>/<first relay seq, 20 digits>.seg
 *   segment = "weftseg1" | u64 first_rseq                 (16-byte header)
 *             then items, each with a 16-byte item header:
 *   record  = u32 len (1..WEFT__SEG_MAX_REC) | u32 crc | u64 rseq | len bytes
 *   mark    = u32 0 | u32 crc | u64 its own offset in the file
 *
 * Integers are little-endian. A record's crc is the CRC32C of its rseq
 * (8 bytes) followed by its bytes; a sync mark's is the CRC32C of its
 * offset (8 bytes). A mark is written after each fdatasync: the bytes
 * before it were durable, hence acknowledged.
 *
 * Torn tail or damage. Scanning stops at the first bad item (a header cut
 * short, a damaged mark, an impossible length, a record cut short, a relay
 * sequence out of order, a CRC mismatch). It is a TORN TAIL when it lies in
 * the last (active) segment and no valid sync mark follows it: a crash may
 * persist unsynced pages in any order, nothing from there on was
 * acknowledged, and the relay truncates the file there. Anything else is
 * DAMAGE: a bad item followed by a sync mark was durable, and a sealed
 * segment was synced before the next one started. A segment shorter than
 * its header is a torn tail when it is the last one (its header never made
 * it); a wrong magic, or a first relay sequence other than the one the
 * previous segment leads to, is always damage. To find a following mark the
 * scan walks item headers from just past the bad item while their lengths
 * are possible, stepping over damaged marks.
 */
#ifndef WEFT_COMMON_SEGMENT_H
#define WEFT_COMMON_SEGMENT_H

#include "weft/change.h"

#include <stddef.h>
#include <stdint.h>

#define WEFT__SEG_MAGIC    "weftseg1"
#define WEFT__SEG_HDR      16u /* segment header */
#define WEFT__SEG_ITEM     16u /* record or sync-mark header */
#define WEFT__SEG_MAX_REC  WEFT_MAX_CHANGE_BYTES
#define WEFT__SEG_NAME_CAP 25u /* "<20 digits>.seg" and its NUL */

/* What is wrong at the offset a scan stopped at. The names are the words
 * the relay logs and `weft log verify` prints. */
#define WEFT__SEG_FAULTS(X)                          \
    X(FINE, "fine")                                  \
    X(HEADER_SHORT, "cut-short segment header")      \
    X(BAD_MAGIC, "not a segment")                    \
    X(GAP, "relay sequence gap before this segment") \
    X(ITEM_SHORT, "cut-short record header")         \
    X(BAD_MARK, "damaged sync mark")                 \
    X(BAD_LEN, "impossible record length")           \
    X(REC_SHORT, "cut-short record")                 \
    X(BAD_RSEQ, "relay sequence out of order")       \
    X(BAD_CRC, "CRC mismatch")

typedef enum weft__seg_fault {
#define WEFT__SEG_X_ENUM(name, msg) WEFT__SEG_##name,
    WEFT__SEG_FAULTS(WEFT__SEG_X_ENUM)
#undef WEFT__SEG_X_ENUM
} weft__seg_fault;

/* A static description of f ("unknown" for values outside the enum). */
const char *weft__seg_fault_str(weft__seg_fault f);

/* ---- file names ---- */

/* Writes "<first, 20 digits>.seg" and a NUL into dst. Returns 0, or
 * WEFT_ENOSPACE when dst_cap < WEFT__SEG_NAME_CAP (dst untouched). */
int weft__seg_name(char *dst, size_t dst_cap, uint64_t first);

/* Parses a segment file name as weft__seg_name writes it. OUT: *first.
 * Returns 0, or WEFT_EMALFORMED for any other name (including first 0). */
int weft__seg_name_parse(uint64_t *first, const char *name);

/* ---- writing ---- */

/* The segment header for a segment whose first record will be `first`. */
void weft__seg_header_put(uint8_t dst[WEFT__SEG_HDR], uint64_t first);

/* The item header of a record: the record's len bytes follow it. len must
 * be 1..WEFT__SEG_MAX_REC (asserted; callers check their input). */
void weft__seg_record_put(uint8_t dst[WEFT__SEG_ITEM], uint64_t rseq, const uint8_t *rec,
                          size_t len);

/* A sync mark to be written at offset off. */
void weft__seg_mark_put(uint8_t dst[WEFT__SEG_ITEM], uint64_t off);

/* ---- reading ---- */

/* Checks one record as stored: src holds its item header and its bytes
 * (src_len = WEFT__SEG_ITEM + len), which must say length len, relay
 * sequence rseq, and carry a matching CRC. Returns 0 or WEFT_EMALFORMED.
 * This is the check every read does again, after the open-time scan. */
int weft__seg_record_check(const uint8_t *src, size_t src_len, uint64_t rseq, size_t len);

/* Gives the n bytes at offset off of the segment being scanned (the scan
 * never asks past the size it was given), valid until the next call. On
 * failure returns NULL and sets *err to a negative WEFT_E code, which ends
 * the scan with that code. */
typedef const uint8_t *(*weft__seg_view_fn)(void *ud, uint64_t off, size_t n, int *err);

/* Called for each good record, in order: its relay sequence, the offset of
 * its item header, its bytes (borrowed for the call). A non-zero return
 * ends the scan with that value. */
typedef int (*weft__seg_record_fn)(void *ud, uint64_t rseq, uint64_t off, const uint8_t *rec,
                                   size_t len);

typedef struct weft__seg_scan {
    uint64_t first;        /* the header's first relay sequence (0: unread) */
    uint64_t next;         /* the relay sequence after the last good record */
    uint64_t end;          /* just past the last good item: where a fault is */
    uint64_t marked;       /* just past the last valid sync mark, else the header */
    weft__seg_fault fault; /* WEFT__SEG_FINE: every byte up to the size is good */
    int torn;              /* with a fault: 1 for a torn tail, 0 for damage */
} weft__seg_scan;

/* Scans a segment of `size` bytes: its header, then every item, calling fn
 * (may be NULL) for each good record. want: the relay sequence its first
 * record must have (0: any, taken from the header). last: whether it is the
 * space's last (active) segment, which decides torn tail or damage (see
 * the top). OUT: *out, filled in every case.
 *
 * Returns 0 when the segment was classified (out->fault and out->torn say
 * how it ends), view's error code, or fn's non-zero value (then *out
 * describes the scan up to that record). */
int weft__seg_scan_run(weft__seg_scan *out, uint64_t size, uint64_t want, int last,
                       weft__seg_view_fn view, void *view_ud, weft__seg_record_fn fn, void *fn_ud);

/* weft__seg_scan_run over a segment held whole in memory (seg, seg_len). */
int weft__seg_scan_mem(weft__seg_scan *out, const uint8_t *seg, size_t seg_len, uint64_t want,
                       int last, weft__seg_record_fn fn, void *fn_ud);

#endif
