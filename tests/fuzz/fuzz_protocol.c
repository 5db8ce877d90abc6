/*
 * fuzz_protocol: the sync protocol's frame decoder (weft/protocol.h).
 *
 * Any input: weft_frame_decode must not crash. An accepted frame is walked
 * with its iterators (which must yield exactly f->n entries and end where
 * the frame does), re-encoded with the public encoders, and must come back
 * byte for byte (every varint is minimal, every flag known). A lower
 * max_changes accepts the same CHANGES frame iff it is within the bound.
 * HELLO and CHALLENGE with versions blocks (random levels and feature bits)
 * and HELLO with an admission (after the block) round-trip the same way.
 * What a receiver decodes next (change records, vectors) is decoded too.
 */
#include "fuzz_common.h"
#include "weft/protocol.h"

/* Re-encodes f into a buffer of `cap` bytes. OUT: *len. */
static uint8_t *reencode(const weft_frame *f, size_t cap, size_t *len) {
    uint8_t *dst = malloc(cap ? cap : 1);
    FUZZ_ASSERT(dst);
    size_t pos = 0;
    int rc = WEFT_EINVAL;
    switch (f->type) {
    case WEFT_FRAME_HELLO:
        rc = weft_frame_hello_encode_admitted(dst, cap, len, f->space, f->key, f->vv, f->vv_len,
                                              f->token, f->token_len, f->has_cursor, f->cursor,
                                              f->has_versions ? &f->versions : NULL, f->admission,
                                              f->admission_len);
        /* The membership and grant flags add no bytes: set on the encoded frame. */
        if (!rc && f->reads_members) rc = weft_frame_hello_mark_members(dst, *len);
        if (!rc && f->by_grant) rc = weft_frame_hello_mark_grant(dst, *len);
        break;
    case WEFT_FRAME_CHALLENGE:
        rc = weft_frame_challenge_encode_v(dst, cap, len, f->nonce, f->head, f->vv, f->vv_len,
                                           f->has_versions ? &f->versions : NULL);
        break;
    case WEFT_FRAME_PROOF:
        rc = weft_frame_proof_encode(dst, cap, len, f->sig);
        break;
    case WEFT_FRAME_CHANGES: {
        rc = weft_frame_changes_begin(dst, cap, len, f->with_rseq);
        uint64_t rseq;
        const uint8_t *rec;
        size_t rec_len;
        uint32_t n = 0;
        while (!rc && weft_frame_change_next(f, &pos, &rseq, &rec, &rec_len)) {
            FUZZ_ASSERT(rec_len > 0 && (f->with_rseq ? rseq > 0 : rseq == 0));
            weft_change c; /* what the receiver does next: must not crash */
            if (weft_change_decode(&c, rec, rec_len) == 0) FUZZ_ASSERT(c.total_len <= rec_len);
            rc = weft_frame_changes_add(dst, cap, len, rseq, rec, rec_len);
            n++;
        }
        FUZZ_ASSERT(n == f->n && pos == f->entries_len);
        break;
    }
    case WEFT_FRAME_ACK: {
        rc = weft_frame_ack_begin(dst, cap, len, f->cursor);
        uint8_t status;
        uint64_t value;
        uint32_t n = 0;
        while (!rc && weft_frame_ack_next(f, &pos, &status, &value)) {
            rc = weft_frame_ack_add(dst, cap, len, status, value);
            n++;
        }
        FUZZ_ASSERT(n == f->n && pos == f->entries_len);
        break;
    }
    case WEFT_FRAME_SIGNAL:
    case WEFT_FRAME_PRESENCE:
        rc = weft_frame_signal_encode(dst, cap, len, f->type, f->peer, f->data, f->data_len);
        break;
    case WEFT_FRAME_ERROR:
        rc = weft_frame_error_encode(dst, cap, len, f->code, f->fatal, f->message, f->message_len);
        break;
    case WEFT_FRAME_SNAPSHOT: {
        rc = weft_frame_snapshot_encode(dst, cap, len, f->snap_flags, f->snap_rseq, f->token,
                                        f->token_len, f->snap, f->snap_len);
        weft_snapshot_header h; /* what a receiver does next: must not crash */
        if (f->snap_len && weft_snapshot_header_decode(&h, f->snap, f->snap_len) == 0)
            FUZZ_ASSERT(h.total_len == f->snap_len);
        break;
    }
    case WEFT_FRAME_SNAPSHOT_GET:
        rc = weft_frame_snapshot_get_encode(dst, cap, len);
        break;
    case WEFT_FRAME_SNAPSHOT_ACK:
        rc = weft_frame_snapshot_ack_encode(dst, cap, len, f->status, f->value);
        break;
    default:
        FUZZ_ASSERT(!"weft_frame_decode accepted an unknown type");
    }
    if (rc) fprintf(stderr, "re-encoding frame type %d: %s\n", f->type, weft_err_name(rc));
    FUZZ_ASSERT(rc == 0);
    return dst;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    weft_frame f;
    int rc = weft_frame_decode(&f, data, size, 0);
    if (rc) {
        FUZZ_ASSERT(rc == WEFT_EVERSION || rc == WEFT_EMALFORMED || rc == WEFT_ETRUNCATED ||
                    rc == WEFT_ETOOBIG);
        return 0;
    }
    FUZZ_ASSERT(f.version == WEFT_PROTOCOL_VERSION && size >= WEFT_FRAME_HEADER_BYTES);
    /* A versions block is only ever read from HELLO and CHALLENGE, with both
     * levels at least 1; random feature bits are accepted as they are. */
    if (f.has_versions)
        FUZZ_ASSERT((f.type == WEFT_FRAME_HELLO || f.type == WEFT_FRAME_CHALLENGE) &&
                    f.versions.format_level >= 1 && f.versions.space_level >= 1);
    /* An admission only in HELLO, within its bound. */
    if (f.admission)
        FUZZ_ASSERT(f.type == WEFT_FRAME_HELLO && f.admission_len <= WEFT_PROTO_MAX_ADMISSION);
    if (f.vv && weft_vv_check(f.vv, f.vv_len) == 0) {
        size_t pos = 0;
        const uint8_t *a;
        uint64_t seq;
        while (weft_vv_next(f.vv, f.vv_len, &pos, &a, &seq))
            FUZZ_ASSERT(seq >= 1);
    }

    /* The same frame under a bound of 3 changes. */
    weft_frame g;
    int rc3 = weft_frame_decode(&g, data, size, 3);
    if (f.type == WEFT_FRAME_CHANGES && f.n > 3)
        FUZZ_ASSERT(rc3 == WEFT_ETOOBIG);
    else
        FUZZ_ASSERT(rc3 == 0 && g.n == f.n);

    /* Round trip: exactly the input's bytes, in a buffer of exactly its size. */
    size_t len = 0;
    uint8_t *out = reencode(&f, size, &len);
    FUZZ_ASSERT(len == size && memcmp(out, data, size) == 0);
    free(out);
    return 0;
}
