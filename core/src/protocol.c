/*
 * Sync protocol frames (docs/PROTOCOL.md): `u8 version | u8 type | payload`.
 *
 *   HELLO      space[32] key[32] bytes(vv) bytes(token) u8 flags [varint cursor]
 *              [varint format_level varint space_level varint features]
 *              [bytes(admission)]
 *   CHALLENGE  nonce[32] varint head bytes(vv)
 *              [varint format_level varint space_level varint features]
 *   PROOF      sig[64]
 *   CHANGES    u8 flags, then 1..max entries: [varint rseq] bytes(record)
 *   ACK        varint cursor, then 0..n entries: u8 status varint value
 *   SIGNAL     peer[32] bytes(data)           (peer never zeros)
 *   PRESENCE   peer[32] bytes(data)           (zeros = every peer)
 *   ERROR      varint code u8 fatal bytes(message)
 *
 * Decoding reads through the core's bounds-checked reader only and checks
 * every entry of a CHANGES or ACK frame before returning, so that the
 * iterators can walk them without re-checking. Encoders check capacity
 * before writing anything, so a failed call leaves no half frame behind.
 */
#include "weft/protocol.h"
#include "weft/change.h"
#include "weft/error.h"
#include "weft/snapshot.h"
#include "mem.h"

#include <assert.h>

static const uint8_t zero32[32];

const char *weft_proto_err_name(uint32_t code) {
    switch (code) {
#define WEFT_X_PNAME(name, value, msg) \
    case value:                        \
        return #name;
        WEFT_PROTO_ERRORS(WEFT_X_PNAME)
#undef WEFT_X_PNAME
    }
    return "UNKNOWN";
}

const char *weft_proto_strerror(uint32_t code) {
    switch (code) {
#define WEFT_X_PMSG(name, value, msg) \
    case value:                       \
        return msg;
        WEFT_PROTO_ERRORS(WEFT_X_PMSG)
#undef WEFT_X_PMSG
    }
    return "unknown error";
}

int weft_protocol_version(void) {
    return WEFT_PROTOCOL_VERSION;
}

/* ---- decoding ---- */

/* Reads `bytes` (varint length + content) bounded by max; a length beyond
 * the frame is a truncation, a length within it but above max is TOOBIG. */
static const uint8_t *rd_bounded(wreader *r, size_t *len, size_t max) {
    uint64_t n = rd_varint(r);
    if (r->err) return NULL;
    if (n > rd_left(r)) {
        rd_fail(r, WEFT_ETRUNCATED);
        return NULL;
    }
    if (n > max) {
        rd_fail(r, WEFT_ETOOBIG);
        return NULL;
    }
    *len = (size_t)n;
    return rd_take(r, (size_t)n);
}

/* The versions block of HELLO and CHALLENGE. Levels start at 1; feature
 * bits a receiver does not know are kept and ignored, so that a newer peer
 * can announce features without breaking this decoder. */
static int decode_versions(weft_frame *f, wreader *r) {
    uint64_t fl = rd_varint(r), sl = rd_varint(r);
    f->versions.features = rd_varint(r);
    if (r->err) return r->err;
    if (fl == 0 || sl == 0 || fl > UINT32_MAX || sl > UINT32_MAX) return WEFT_EMALFORMED;
    f->versions.format_level = (uint32_t)fl;
    f->versions.space_level = (uint32_t)sl;
    f->has_versions = 1;
    return 0;
}

static size_t versions_len(const weft_versions *v) {
    return v ? varint_len(v->format_level) + varint_len(v->space_level) + varint_len(v->features)
             : 0;
}

static int decode_changes(weft_frame *f, wreader *r, uint32_t max_changes) {
    uint8_t flags = rd_u8(r);
    if (r->err) return r->err;
    if (flags & ~WEFT_CHANGES_RSEQ) return WEFT_EMALFORMED;
    f->with_rseq = flags & WEFT_CHANGES_RSEQ;
    f->entries = r->p;
    f->entries_len = rd_left(r);
    uint32_t n = 0;
    while (rd_left(r) > 0) {
        if (n == max_changes) return WEFT_ETOOBIG;
        if (f->with_rseq && rd_varint(r) == 0 && !r->err) return WEFT_EMALFORMED;
        size_t len = 0;
        rd_bounded(r, &len, WEFT_MAX_CHANGE_BYTES);
        if (r->err) return r->err;
        if (len == 0) return WEFT_EMALFORMED;
        n++;
    }
    if (n == 0) return WEFT_EMALFORMED; /* an empty CHANGES frame says nothing */
    f->n = n;
    return 0;
}

static int decode_ack(weft_frame *f, wreader *r) {
    f->cursor = rd_varint(r);
    if (r->err) return r->err;
    f->entries = r->p;
    f->entries_len = rd_left(r);
    uint32_t n = 0;
    while (rd_left(r) > 0) {
        uint8_t status = rd_u8(r);
        rd_varint(r);
        if (r->err) return r->err;
        if (status > WEFT_ACK_REJECTED) return WEFT_EMALFORMED;
        if (n == UINT32_MAX) return WEFT_ETOOBIG;
        n++;
    }
    f->n = n;
    return 0;
}

int weft_frame_decode(weft_frame *f, const uint8_t *src, size_t src_len, uint32_t max_changes) {
    validate_or_ret(f && (src || src_len == 0), WEFT_EINVAL);
    memset(f, 0, sizeof *f);
    if (max_changes == 0) max_changes = WEFT_PROTO_DEFAULT_MAX_CHANGES;
    wreader r;
    rd_init(&r, src, src_len);
    f->version = rd_u8(&r);
    f->type = rd_u8(&r);
    if (r.err) return r.err;
    if (f->version != WEFT_PROTOCOL_VERSION) return WEFT_EVERSION;
    switch (f->type) {
    case WEFT_FRAME_HELLO: {
        f->space = rd_take(&r, 32);
        f->key = rd_take(&r, 32);
        f->vv = rd_bounded(&r, &f->vv_len, SIZE_MAX);
        f->token = rd_bounded(&r, &f->token_len, WEFT_PROTO_MAX_TOKEN);
        uint8_t flags = rd_u8(&r);
        if (r.err) return r.err;
        if (flags & ~(WEFT_HELLO_CURSOR | WEFT_HELLO_VERSIONS | WEFT_HELLO_ADMISSION |
                      WEFT_HELLO_MEMBERS | WEFT_HELLO_GRANT))
            return WEFT_EMALFORMED;
        f->reads_members = !!(flags & WEFT_HELLO_MEMBERS);
        f->by_grant = !!(flags & WEFT_HELLO_GRANT);
        if (flags & WEFT_HELLO_CURSOR) {
            f->has_cursor = 1;
            f->cursor = rd_varint(&r);
        }
        /* Fixed order after the flags: cursor, versions block, admission. */
        if (flags & WEFT_HELLO_VERSIONS) {
            int rc = decode_versions(f, &r);
            if (rc) return rc;
        }
        if (flags & WEFT_HELLO_ADMISSION)
            f->admission = rd_bounded(&r, &f->admission_len, WEFT_PROTO_MAX_ADMISSION);
        break;
    }
    case WEFT_FRAME_CHALLENGE:
        f->nonce = rd_take(&r, WEFT_NONCE_BYTES);
        f->head = rd_varint(&r);
        f->vv = rd_bounded(&r, &f->vv_len, SIZE_MAX);
        /* The answering versions block has no flag: a relay appends it only
         * for a HELLO that carried one, so its presence is the signal. */
        if (!r.err && rd_left(&r) > 0) {
            int rc = decode_versions(f, &r);
            if (rc) return rc;
        }
        break;
    case WEFT_FRAME_PROOF:
        f->sig = rd_take(&r, 64);
        break;
    case WEFT_FRAME_CHANGES: {
        int rc = decode_changes(f, &r, max_changes);
        if (rc) return rc;
        break;
    }
    case WEFT_FRAME_ACK: {
        int rc = decode_ack(f, &r);
        if (rc) return rc;
        break;
    }
    case WEFT_FRAME_SIGNAL:
    case WEFT_FRAME_PRESENCE:
        f->peer = rd_take(&r, 32);
        f->data = rd_bounded(&r, &f->data_len, WEFT_PROTO_MAX_DATA);
        if (r.err) return r.err;
        /* A signal is always for one peer; presence may go to all. */
        if (f->type == WEFT_FRAME_SIGNAL && memcmp(f->peer, zero32, 32) == 0)
            return WEFT_EMALFORMED;
        break;
    case WEFT_FRAME_ERROR: {
        uint64_t code = rd_varint(&r);
        uint8_t fatal = rd_u8(&r);
        f->message = (const char *)rd_bounded(&r, &f->message_len, WEFT_PROTO_MAX_MESSAGE);
        if (r.err) return r.err;
        if (code > UINT32_MAX || fatal > 1) return WEFT_EMALFORMED;
        f->code = (uint32_t)code;
        f->fatal = fatal;
        break;
    }
    case WEFT_FRAME_SNAPSHOT: {
        uint8_t flags = rd_u8(&r);
        f->snap_rseq = rd_varint(&r);
        f->token = rd_bounded(&r, &f->token_len, WEFT_PROTO_MAX_TOKEN);
        f->snap = rd_bounded(&r, &f->snap_len, WEFT_MAX_SEALED_SNAPSHOT_BYTES);
        if (r.err) return r.err;
        /* A relay that says "use REST" sends no record with it. */
        if ((flags & ~WEFT_SNAPSHOT_USE_REST) || ((flags & WEFT_SNAPSHOT_USE_REST) && f->snap_len))
            return WEFT_EMALFORMED;
        f->snap_flags = flags;
        break;
    }
    case WEFT_FRAME_SNAPSHOT_GET:
        break;
    case WEFT_FRAME_SNAPSHOT_ACK:
        f->status = rd_u8(&r);
        f->value = rd_varint(&r);
        if (r.err) return r.err;
        if (f->status != WEFT_ACK_STORED && f->status != WEFT_ACK_REJECTED) return WEFT_EMALFORMED;
        break;
    default:
        return WEFT_EMALFORMED; /* unknown types are errors, never skipped */
    }
    if (r.err) return r.err;
    if (rd_left(&r) != 0) return WEFT_EMALFORMED;
    return 0;
}

int weft_frame_change_next(const weft_frame *f, size_t *pos, uint64_t *rseq, const uint8_t **rec,
                           size_t *len) {
    if (!f || f->type != WEFT_FRAME_CHANGES || *pos >= f->entries_len) return 0;
    wreader r;
    rd_init(&r, f->entries + *pos, f->entries_len - *pos);
    *rseq = f->with_rseq ? rd_varint(&r) : 0;
    uint64_t n = rd_varint(&r);
    *rec = rd_take(&r, (size_t)n);
    assert(!r.err); /* weft_frame_decode walked these entries already */
    *len = (size_t)n;
    *pos = (size_t)(r.p - f->entries);
    return 1;
}

int weft_frame_ack_next(const weft_frame *f, size_t *pos, uint8_t *status, uint64_t *value) {
    if (!f || f->type != WEFT_FRAME_ACK || *pos >= f->entries_len) return 0;
    wreader r;
    rd_init(&r, f->entries + *pos, f->entries_len - *pos);
    *status = rd_u8(&r);
    *value = rd_varint(&r);
    assert(!r.err);
    *pos = (size_t)(r.p - f->entries);
    return 1;
}

/* ---- encoding ---- */

/* Each encoder computes the exact size first, fails with ENOSPACE before
 * writing, then writes with these unchecked helpers. */
static uint8_t *put_header(uint8_t *p, uint8_t type) {
    *p++ = WEFT_PROTOCOL_VERSION;
    *p++ = type;
    return p;
}
static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n) {
    if (n) memcpy(p, src, n);
    return p + n;
}
static uint8_t *put_varint(uint8_t *p, uint64_t v) {
    return p + varint_put(p, v);
}
static uint8_t *put_lbytes(uint8_t *p, const void *src, size_t n) {
    return put_bytes(put_varint(p, n), src, n);
}

static uint8_t *put_versions(uint8_t *p, const weft_versions *v) {
    if (!v) return p;
    p = put_varint(p, v->format_level);
    p = put_varint(p, v->space_level);
    return put_varint(p, v->features);
}

static int versions_ok(const weft_versions *v) {
    return !v || (v->format_level >= 1 && v->space_level >= 1);
}

/* A versions block is at most 5 + 5 + 10 bytes. */
#define VERSIONS_BOUND 20

size_t weft_frame_hello_bound(size_t vv_len, size_t token_len) {
    return WEFT_FRAME_HEADER_BYTES + 64 + 10 + vv_len + 10 + token_len + 1 + 10 + VERSIONS_BOUND;
}

/* Every HELLO is written here: the flags say which optional fields follow
 * the cursor slot, always in this order (versions block, then admission). */
int weft_frame_hello_encode_admitted(uint8_t *dst, size_t dst_cap, size_t *len,
                                     const uint8_t *space, const uint8_t *key, const uint8_t *vv,
                                     size_t vv_len, const uint8_t *token, size_t token_len,
                                     int has_cursor, uint64_t cursor, const weft_versions *v,
                                     const uint8_t *admission, size_t admission_len) {
    validate_or_ret(len && space && key && (vv || !vv_len) && (token || !token_len), WEFT_EINVAL);
    validate_or_ret(token_len <= WEFT_PROTO_MAX_TOKEN && versions_ok(v), WEFT_EINVAL);
    validate_or_ret((admission || !admission_len) && admission_len <= WEFT_PROTO_MAX_ADMISSION,
                    WEFT_EINVAL);
    size_t need = WEFT_FRAME_HEADER_BYTES + 64 + varint_len(vv_len) + vv_len +
                  varint_len(token_len) + token_len + 1 + (has_cursor ? varint_len(cursor) : 0) +
                  versions_len(v) + (admission ? varint_len(admission_len) + admission_len : 0);
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = put_header(dst, WEFT_FRAME_HELLO);
    p = put_bytes(p, space, 32);
    p = put_bytes(p, key, 32);
    p = put_lbytes(p, vv, vv_len);
    p = put_lbytes(p, token, token_len);
    *p++ = (uint8_t)((has_cursor ? WEFT_HELLO_CURSOR : 0) | (v ? WEFT_HELLO_VERSIONS : 0) |
                     (admission ? WEFT_HELLO_ADMISSION : 0));
    if (has_cursor) p = put_varint(p, cursor);
    p = put_versions(p, v);
    if (admission) p = put_lbytes(p, admission, admission_len);
    assert((size_t)(p - dst) == need);
    *len = need;
    return 0;
}

static int hello_mark(uint8_t *hello, size_t len, uint8_t flag) {
    validate_or_ret(hello || !len, WEFT_EINVAL);
    weft_frame f;
    int rc = weft_frame_decode(&f, hello, len, 1);
    if (rc) return rc;
    if (f.type != WEFT_FRAME_HELLO) return WEFT_EINVAL;
    /* The flags byte follows the token, which the decoder borrowed in place. */
    hello[(size_t)(f.token - hello) + f.token_len] |= flag;
    return 0;
}

int weft_frame_hello_mark_members(uint8_t *hello, size_t len) {
    return hello_mark(hello, len, WEFT_HELLO_MEMBERS);
}

int weft_frame_hello_mark_grant(uint8_t *hello, size_t len) {
    return hello_mark(hello, len, WEFT_HELLO_GRANT);
}

int weft_frame_hello_encode(uint8_t *dst, size_t dst_cap, size_t *len, const uint8_t *space,
                            const uint8_t *key, const uint8_t *vv, size_t vv_len,
                            const uint8_t *token, size_t token_len, int has_cursor,
                            uint64_t cursor) {
    return weft_frame_hello_encode_admitted(dst, dst_cap, len, space, key, vv, vv_len, token,
                                            token_len, has_cursor, cursor, NULL, NULL, 0);
}

int weft_frame_hello_encode_v(uint8_t *dst, size_t dst_cap, size_t *len, const uint8_t *space,
                              const uint8_t *key, const uint8_t *vv, size_t vv_len,
                              const uint8_t *token, size_t token_len, int has_cursor,
                              uint64_t cursor, const weft_versions *v) {
    return weft_frame_hello_encode_admitted(dst, dst_cap, len, space, key, vv, vv_len, token,
                                            token_len, has_cursor, cursor, v, NULL, 0);
}

size_t weft_frame_challenge_bound(size_t vv_len) {
    return WEFT_FRAME_HEADER_BYTES + WEFT_NONCE_BYTES + 10 + 10 + vv_len + VERSIONS_BOUND;
}

int weft_frame_challenge_encode_v(uint8_t *dst, size_t dst_cap, size_t *len, const uint8_t *nonce,
                                  uint64_t head, const uint8_t *vv, size_t vv_len,
                                  const weft_versions *v) {
    validate_or_ret(len && nonce && (vv || !vv_len) && versions_ok(v), WEFT_EINVAL);
    size_t need = WEFT_FRAME_HEADER_BYTES + WEFT_NONCE_BYTES + varint_len(head) +
                  varint_len(vv_len) + vv_len + versions_len(v);
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = put_header(dst, WEFT_FRAME_CHALLENGE);
    p = put_bytes(p, nonce, WEFT_NONCE_BYTES);
    p = put_varint(p, head);
    p = put_lbytes(p, vv, vv_len);
    p = put_versions(p, v);
    assert((size_t)(p - dst) == need);
    *len = need;
    return 0;
}

int weft_frame_challenge_encode(uint8_t *dst, size_t dst_cap, size_t *len, const uint8_t *nonce,
                                uint64_t head, const uint8_t *vv, size_t vv_len) {
    return weft_frame_challenge_encode_v(dst, dst_cap, len, nonce, head, vv, vv_len, NULL);
}

int weft_frame_proof_encode(uint8_t *dst, size_t dst_cap, size_t *len, const uint8_t *sig) {
    validate_or_ret(len && sig, WEFT_EINVAL);
    if (!dst || dst_cap < WEFT_FRAME_HEADER_BYTES + 64) return WEFT_ENOSPACE;
    put_bytes(put_header(dst, WEFT_FRAME_PROOF), sig, 64);
    *len = WEFT_FRAME_HEADER_BYTES + 64;
    return 0;
}

int weft_frame_changes_begin(uint8_t *dst, size_t dst_cap, size_t *len, int with_rseq) {
    validate_or_ret(len, WEFT_EINVAL);
    if (!dst || dst_cap < WEFT_FRAME_HEADER_BYTES + 1) return WEFT_ENOSPACE;
    uint8_t *p = put_header(dst, WEFT_FRAME_CHANGES);
    *p = with_rseq ? WEFT_CHANGES_RSEQ : 0;
    *len = WEFT_FRAME_HEADER_BYTES + 1;
    return 0;
}

size_t weft_frame_change_entry_bound(size_t rec_len) {
    return 10 + 10 + rec_len;
}

int weft_frame_changes_add(uint8_t *dst, size_t dst_cap, size_t *len, uint64_t rseq,
                           const uint8_t *rec, size_t rec_len) {
    validate_or_ret(dst && len && *len >= WEFT_FRAME_HEADER_BYTES + 1 && *len <= dst_cap &&
                        dst[1] == WEFT_FRAME_CHANGES && rec && rec_len > 0 &&
                        rec_len <= WEFT_MAX_CHANGE_BYTES,
                    WEFT_EINVAL);
    int with_rseq = dst[2] & WEFT_CHANGES_RSEQ;
    validate_or_ret(with_rseq ? rseq > 0 : rseq == 0, WEFT_EINVAL);
    size_t need = (with_rseq ? varint_len(rseq) : 0) + varint_len(rec_len) + rec_len;
    if (dst_cap - *len < need) return WEFT_ENOSPACE;
    uint8_t *p = dst + *len;
    if (with_rseq) p = put_varint(p, rseq);
    p = put_lbytes(p, rec, rec_len);
    *len = (size_t)(p - dst);
    return 0;
}

int weft_frame_ack_begin(uint8_t *dst, size_t dst_cap, size_t *len, uint64_t cursor) {
    validate_or_ret(len, WEFT_EINVAL);
    size_t need = WEFT_FRAME_HEADER_BYTES + varint_len(cursor);
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    put_varint(put_header(dst, WEFT_FRAME_ACK), cursor);
    *len = need;
    return 0;
}

int weft_frame_ack_add(uint8_t *dst, size_t dst_cap, size_t *len, uint8_t status, uint64_t value) {
    validate_or_ret(dst && len && *len >= WEFT_FRAME_HEADER_BYTES + 1 && *len <= dst_cap &&
                        dst[1] == WEFT_FRAME_ACK && status <= WEFT_ACK_REJECTED,
                    WEFT_EINVAL);
    size_t need = 1 + varint_len(value);
    if (dst_cap - *len < need) return WEFT_ENOSPACE;
    uint8_t *p = dst + *len;
    *p++ = status;
    p = put_varint(p, value);
    *len = (size_t)(p - dst);
    return 0;
}

size_t weft_frame_signal_bound(size_t data_len) {
    return WEFT_FRAME_HEADER_BYTES + 32 + 10 + data_len;
}

int weft_frame_signal_encode(uint8_t *dst, size_t dst_cap, size_t *len, uint8_t type,
                             const uint8_t *peer, const uint8_t *data, size_t data_len) {
    validate_or_ret(len && peer && (data || !data_len) && data_len <= WEFT_PROTO_MAX_DATA,
                    WEFT_EINVAL);
    validate_or_ret(type == WEFT_FRAME_PRESENCE ||
                        (type == WEFT_FRAME_SIGNAL && memcmp(peer, zero32, 32) != 0),
                    WEFT_EINVAL);
    size_t need = WEFT_FRAME_HEADER_BYTES + 32 + varint_len(data_len) + data_len;
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = put_header(dst, type);
    p = put_bytes(p, peer, 32);
    put_lbytes(p, data, data_len);
    *len = need;
    return 0;
}

size_t weft_frame_error_bound(size_t message_len) {
    if (message_len > WEFT_PROTO_MAX_MESSAGE) message_len = WEFT_PROTO_MAX_MESSAGE;
    return WEFT_FRAME_HEADER_BYTES + 10 + 1 + 10 + message_len;
}

int weft_frame_error_encode(uint8_t *dst, size_t dst_cap, size_t *len, uint32_t code, int fatal,
                            const char *message, size_t message_len) {
    validate_or_ret(len && (message || !message_len), WEFT_EINVAL);
    if (message_len > WEFT_PROTO_MAX_MESSAGE) message_len = WEFT_PROTO_MAX_MESSAGE;
    size_t need =
        WEFT_FRAME_HEADER_BYTES + varint_len(code) + 1 + varint_len(message_len) + message_len;
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = put_header(dst, WEFT_FRAME_ERROR);
    p = put_varint(p, code);
    *p++ = fatal ? 1 : 0;
    put_lbytes(p, message, message_len);
    *len = need;
    return 0;
}

size_t weft_frame_snapshot_bound(size_t token_len, size_t rec_len) {
    return WEFT_FRAME_HEADER_BYTES + 1 + 10 + 10 + token_len + 10 + rec_len;
}

int weft_frame_snapshot_encode(uint8_t *dst, size_t dst_cap, size_t *len, uint8_t flags,
                               uint64_t rseq, const uint8_t *token, size_t token_len,
                               const uint8_t *rec, size_t rec_len) {
    validate_or_ret(
        len && (token || !token_len) && (rec || !rec_len) && token_len <= WEFT_PROTO_MAX_TOKEN &&
            rec_len <= WEFT_MAX_SEALED_SNAPSHOT_BYTES && !(flags & ~WEFT_SNAPSHOT_USE_REST) &&
            !((flags & WEFT_SNAPSHOT_USE_REST) && rec_len),
        WEFT_EINVAL);
    size_t need = WEFT_FRAME_HEADER_BYTES + 1 + varint_len(rseq) + varint_len(token_len) +
                  token_len + varint_len(rec_len) + rec_len;
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = put_header(dst, WEFT_FRAME_SNAPSHOT);
    *p++ = flags;
    p = put_varint(p, rseq);
    p = put_lbytes(p, token, token_len);
    put_lbytes(p, rec, rec_len);
    *len = need;
    return 0;
}

int weft_frame_snapshot_get_encode(uint8_t *dst, size_t dst_cap, size_t *len) {
    validate_or_ret(len, WEFT_EINVAL);
    if (!dst || dst_cap < WEFT_FRAME_HEADER_BYTES) return WEFT_ENOSPACE;
    put_header(dst, WEFT_FRAME_SNAPSHOT_GET);
    *len = WEFT_FRAME_HEADER_BYTES;
    return 0;
}

int weft_frame_snapshot_ack_encode(uint8_t *dst, size_t dst_cap, size_t *len, uint8_t status,
                                   uint64_t value) {
    validate_or_ret(len && (status == WEFT_ACK_STORED || status == WEFT_ACK_REJECTED), WEFT_EINVAL);
    size_t need = WEFT_FRAME_HEADER_BYTES + 1 + varint_len(value);
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = put_header(dst, WEFT_FRAME_SNAPSHOT_ACK);
    *p++ = status;
    put_varint(p, value);
    *len = need;
    return 0;
}
