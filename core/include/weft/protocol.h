/*
 * The sync protocol's frames: encoding and decoding, nothing else.
 *
 * One protocol serves relay links and peer links (docs/PROTOCOL.md). A frame
 * is one transport message (a WebSocket binary message, a data-channel
 * message): `u8 version | u8 type | payload`. Every frame carries the
 * protocol version so that each one can be decoded on its own, whatever the
 * link and wherever a connection was picked up. The transport says where a
 * frame ends; payloads have no outer length.
 *
 * This module does no I/O and keeps no state. Decoding borrows: every
 * pointer in a weft_frame points into the buffer given to weft_frame_decode.
 * Decoding checks the whole frame's structure up front (lengths, bounds,
 * flags, trailing bytes), so the iterators below never fail on a frame that
 * decoded. It does not look inside change records, tokens or vectors beyond
 * framing them; the receiver checks those with weft_change_decode,
 * weft_token_verify and weft_vv_check.
 */
#ifndef WEFT_PROTOCOL_H
#define WEFT_PROTOCOL_H

#include "weft/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The protocol version this build speaks (byte 0 of every frame). */
#define WEFT_PROTOCOL_VERSION 1

/* Frame types (byte 1). Never renumbered; new types are appended. */
#define WEFT_FRAME_HELLO     1 /* client -> relay: who, where, what it holds */
#define WEFT_FRAME_CHALLENGE 2 /* relay -> client: nonce to sign, relay's head */
#define WEFT_FRAME_PROOF     3 /* client -> relay: signature of the nonce */
#define WEFT_FRAME_CHANGES   4 /* either way: change records */
#define WEFT_FRAME_ACK       5 /* relay -> client: what is durable */
#define WEFT_FRAME_SIGNAL    6 /* either way: opaque bytes for one peer (WebRTC) */
#define WEFT_FRAME_PRESENCE  7 /* either way: opaque ephemeral bytes, never stored */
#define WEFT_FRAME_ERROR     8 /* either way: code, fatal flag, message */
/* Sealed snapshots (docs/PROTOCOL.md, "Snapshots"): allocated without a
 * version bump, used only after PROOF. */
#define WEFT_FRAME_SNAPSHOT     9  /* either way: an upload, or the relay's newest */
#define WEFT_FRAME_SNAPSHOT_GET 10 /* client -> relay: send the newest snapshot */
#define WEFT_FRAME_SNAPSHOT_ACK 11 /* relay -> client: what became of an upload */

/* Fixed sizes and structural bounds every decoder enforces. */
#define WEFT_FRAME_HEADER_BYTES        2     /* version, type */
#define WEFT_NONCE_BYTES               32    /* CHALLENGE nonce */
#define WEFT_PROTO_MAX_TOKEN           1024  /* HELLO token bytes */
#define WEFT_PROTO_MAX_ADMISSION       256   /* HELLO admission bytes */
#define WEFT_PROTO_MAX_DATA            65536 /* SIGNAL / PRESENCE payload */
#define WEFT_PROTO_MAX_MESSAGE         1024  /* ERROR message */
#define WEFT_PROTO_DEFAULT_MAX_CHANGES 4096  /* change records per CHANGES frame */

/* HELLO flags. */
#define WEFT_HELLO_CURSOR    0x01 /* a relay-sequence cursor follows */
#define WEFT_HELLO_VERSIONS  0x02 /* a versions block follows (after the cursor) */
#define WEFT_HELLO_ADMISSION 0x04 /* an operator's admission follows (after the versions block) */
#define WEFT_HELLO_MEMBERS   0x08 /* the client reads membership records (kinds 5-7); no payload */
/* Admit the key by its grant, not a token: the token field then holds
 * either nothing or the key's invite claim (a grant record, kind 5). */
#define WEFT_HELLO_GRANT 0x10
/* CHANGES flags. */
#define WEFT_CHANGES_RSEQ 0x01 /* every record is preceded by its relay sequence */

/* SNAPSHOT flags (from a relay). */
#define WEFT_SNAPSHOT_USE_REST \
    0x01 /* held, but too big for this link: no record; GET it over REST */

/* ACK entry statuses, one per change of the acknowledged CHANGES frame. */
#define WEFT_ACK_STORED    0 /* durable; value = its relay sequence */
#define WEFT_ACK_DUPLICATE 1 /* held already; value = 0 */
#define WEFT_ACK_PARKED    2 /* waiting for a dependency, not durable yet; value = 0 */
#define WEFT_ACK_REJECTED  3 /* refused; value = a WEFT_PROTO_E code */

/* Protocol error codes (ERROR frames, ACK rejections, HTTP error bodies).
 * X(name, value, message). Stable: never renumbered, new ones appended. */
#define WEFT_PROTO_ERRORS(X)                                                         \
    X(NONE, 0, "no error")                                                           \
    X(BAD_FRAME, 1, "malformed frame")                                               \
    X(VERSION, 2, "unsupported protocol version")                                    \
    X(UNEXPECTED, 3, "frame not valid in this state")                                \
    X(TOO_BIG, 4, "frame exceeds the maximum size")                                  \
    X(TOO_MANY_CHANGES, 5, "too many changes in one frame")                          \
    X(AUTH, 6, "token is invalid for this space")                                    \
    X(PROOF, 7, "proof of possession failed")                                        \
    X(RIGHTS, 8, "token does not grant this right")                                  \
    X(EXPIRED, 9, "token has expired or is not valid yet")                           \
    X(RATE_LIMITED, 10, "rate limit exceeded")                                       \
    X(SLOW_CONSUMER, 11, "reader fell too far behind")                               \
    X(WRONG_SPACE, 12, "change belongs to another space")                            \
    X(BAD_CHANGE, 13, "malformed change record")                                     \
    X(BAD_SIGNATURE, 14, "change signature or suite rejected")                       \
    X(CHAIN, 15, "change breaks its author's hash chain (fork, chain, clock)")       \
    X(PENDING_FULL, 16, "too many changes waiting for dependencies")                 \
    X(STORAGE, 17, "storage failure")                                                \
    X(GOING_AWAY, 18, "server is shutting down")                                     \
    X(OVERLOADED, 19, "too many connections")                                        \
    X(NOT_FOUND, 20, "no such space or resource")                                    \
    X(INTERNAL, 21, "internal error")                                                \
    X(NO_PEER, 22, "target peer is not connected")                                   \
    X(TIMEOUT, 23, "handshake took too long")                                        \
    X(UNCOVERED, 24, "snapshot names changes the relay does not hold")               \
    X(BAD_SNAPSHOT, 25, "malformed sealed snapshot")                                 \
    X(STALE_SNAPSHOT, 26, "snapshot older than the one held")                        \
    X(NOT_ADMITTED, 27, "this relay does not host the space")                        \
    X(QUOTA, 28, "space quota exceeded")                                             \
    X(TRIMMED, 30, "history before this point is trimmed: load the newest snapshot") \
    X(SNAPSHOT_WANTED, 31, "history grew past the newest snapshot: publish one")     \
    X(BAD_HASH, 32, "file chunk does not match its hash")                            \
    X(BAD_URL, 33, "signed file URL is forged or malformed")                         \
    X(URL_EXPIRED, 34, "signed file URL has expired")                                \
    X(RANGE, 35, "range outside the file chunk")                                     \
    X(REVOKED, 36, "this key was removed from the space: ask an admin")              \
    X(NOT_ADMIN, 37, "membership record signed without the right")                   \
    X(FORGED, 38, "forged key rotation")                                             \
    X(OUTLIVES, 39, "grant outlives its issuer's")                                   \
    X(REPLAY, 40, "invite already claimed")                                          \
    X(WRONG_MEMBER, 41, "key envelope for a key that is not a member")               \
    X(NOT_MEMBER, 43, "this key holds no grant in the space: ask an admin")

typedef enum weft_proto_error {
#define WEFT_X_PENUM(name, value, msg) WEFT_PROTO_E##name = value,
    WEFT_PROTO_ERRORS(WEFT_X_PENUM)
#undef WEFT_X_PENUM
} weft_proto_error;

/* The code's name without prefix ("SLOW_CONSUMER") and message; "UNKNOWN"
 * and "unknown error" for codes this build does not know. Never NULL. */
WEFT_API const char *weft_proto_err_name(uint32_t code);
WEFT_API const char *weft_proto_strerror(uint32_t code);

/* What a replica or relay speaks, sent in HELLO (flag WEFT_HELLO_VERSIONS)
 * and answered at the end of CHALLENGE (docs/PROTOCOL.md §6). A peer that
 * sends no block speaks format level 1 and no features. */
typedef struct weft_versions {
    uint32_t format_level; /* highest format level it reads (>= 1) */
    uint32_t space_level;  /* the space's format level as it knows it (>= 1) */
    uint64_t features;     /* feature bits; unknown bits are ignored, never errors */
} weft_versions;

/* A decoded frame. Only the members of its type are set; the rest are 0.
 * Pointers borrow from the decoded buffer. */
typedef struct weft_frame {
    uint8_t version, type;
    /* HELLO */
    const uint8_t *space; /* 32 bytes */
    const uint8_t *key;   /* 32 bytes: the client's public key (it proves it) */
    const uint8_t *token; /* capability token */
    size_t token_len;
    int has_cursor;
    uint64_t cursor; /* HELLO: resume after this relay sequence; ACK: send cursor */
    /* HELLO and CHALLENGE: the sender's versions block, when it sent one */
    int has_versions;
    weft_versions versions;
    /* HELLO: the relay operator's admission of the space (opaque to the
     * codec; docs/RELAY.md "Admission"), or NULL and 0. */
    const uint8_t *admission;
    size_t admission_len;
    /* HELLO: WEFT_HELLO_MEMBERS was set */
    int reads_members;
    /* HELLO: WEFT_HELLO_GRANT was set (token holds a claim, or nothing) */
    int by_grant;
    /* HELLO (the client's) and CHALLENGE (the relay's): version vector */
    const uint8_t *vv;
    size_t vv_len;
    /* CHALLENGE */
    const uint8_t *nonce; /* WEFT_NONCE_BYTES */
    uint64_t head;        /* the relay's highest relay sequence in the space */
    /* PROOF */
    const uint8_t *sig; /* 64 bytes */
    /* CHANGES: n entries in [entries, entries + entries_len); ACK likewise */
    int with_rseq;
    uint32_t n;
    const uint8_t *entries;
    size_t entries_len;
    /* SIGNAL, PRESENCE */
    const uint8_t *peer; /* 32 bytes; PRESENCE: zeros = every peer of the space */
    const uint8_t *data;
    size_t data_len;
    /* ERROR */
    uint32_t code;
    int fatal;
    const char *message; /* not NUL-terminated; UTF-8 by convention */
    size_t message_len;
    /* SNAPSHOT: flags, the relay's base relay sequence (0 from a client),
     * the token that admitted it (token, token_len above; empty from a
     * client) and the sealed record (empty: none held, or USE_REST) */
    uint8_t snap_flags;
    uint64_t snap_rseq;
    const uint8_t *snap;
    size_t snap_len;
    /* SNAPSHOT_ACK: a WEFT_ACK_STORED (value: the base) or
     * WEFT_ACK_REJECTED (value: a WEFT_PROTO_E code) */
    uint8_t status;
    uint64_t value;
} weft_frame;

/* Decodes one whole frame (src_len is the transport message's length).
 * max_changes bounds a CHANGES frame's records (0: the default). OUT: *f.
 * Returns 0, WEFT_EVERSION (another protocol version: f->version is set),
 * WEFT_EMALFORMED (unknown type or flag, bad field, trailing bytes),
 * WEFT_ETRUNCATED (ends early) or WEFT_ETOOBIG (a bound above exceeded,
 * more than max_changes records). */
WEFT_API int weft_frame_decode(weft_frame *f, const uint8_t *src, size_t src_len,
                               uint32_t max_changes);

/* Walks a decoded CHANGES frame. *pos starts at 0. Returns 1 with *rseq (0
 * when the frame has none), *rec and *len (borrowed) filled, 0 at the end. */
WEFT_API int weft_frame_change_next(const weft_frame *f, size_t *pos, uint64_t *rseq,
                                    const uint8_t **rec, size_t *len);

/* Walks a decoded ACK frame. *pos starts at 0. Returns 1 with *status and
 * *value filled, 0 at the end. */
WEFT_API int weft_frame_ack_next(const weft_frame *f, size_t *pos, uint8_t *status,
                                 uint64_t *value);

/* ---- encoding: dst, dst_cap, OUT *len; each returns 0, WEFT_EINVAL or
 * WEFT_ENOSPACE (nothing useful written then) ---- */

/* Bytes a HELLO with these lengths takes at most (with an admission: add
 * 10 + its length). */
WEFT_API size_t weft_frame_hello_bound(size_t vv_len, size_t token_len);
WEFT_API int weft_frame_hello_encode(uint8_t *dst, size_t dst_cap, size_t *len,
                                     const uint8_t *space, const uint8_t *key, const uint8_t *vv,
                                     size_t vv_len, const uint8_t *token, size_t token_len,
                                     int has_cursor, uint64_t cursor);
/* The same HELLO with a versions block when v is not NULL (both levels >= 1,
 * else WEFT_EINVAL). Send it only to a relay or peer known to speak it, or
 * be ready for a version-1 decoder's BAD_FRAME (docs/PROTOCOL.md §6). The
 * hello bound covers the block. */
WEFT_API int weft_frame_hello_encode_v(uint8_t *dst, size_t dst_cap, size_t *len,
                                       const uint8_t *space, const uint8_t *key, const uint8_t *vv,
                                       size_t vv_len, const uint8_t *token, size_t token_len,
                                       int has_cursor, uint64_t cursor, const weft_versions *v);

/* The same HELLO with a versions block when v is not NULL (as above) and an
 * operator's admission when admission is not NULL (flag
 * WEFT_HELLO_ADMISSION, admission_len <= WEFT_PROTO_MAX_ADMISSION, else
 * WEFT_EINVAL). The fields follow the flags in a fixed order: cursor,
 * versions block, admission. With v and admission NULL it is exactly
 * weft_frame_hello_encode's frame. A relay without admission support
 * refuses the flag with BAD_FRAME. */
WEFT_API int weft_frame_hello_encode_admitted(
    uint8_t *dst, size_t dst_cap, size_t *len, const uint8_t *space, const uint8_t *key,
    const uint8_t *vv, size_t vv_len, const uint8_t *token, size_t token_len, int has_cursor,
    uint64_t cursor, const weft_versions *v, const uint8_t *admission, size_t admission_len);

/* Sets WEFT_HELLO_MEMBERS on an encoded HELLO (any of the encoders
 * above): the client reads membership records (weft/members.h), so a relay
 * may send them. The flag adds no bytes. Returns 0, WEFT_EINVAL (not a
 * HELLO) or a decode error. */
WEFT_API int weft_frame_hello_mark_members(uint8_t *hello, size_t len);

/* Sets WEFT_HELLO_GRANT on an encoded HELLO: its token field holds the
 * key's invite claim or nothing, and the relay admits the key by its
 * grant (docs/PROTOCOL.md, HELLO flags). Returns as the above. */
WEFT_API int weft_frame_hello_mark_grant(uint8_t *hello, size_t len);

WEFT_API size_t weft_frame_challenge_bound(size_t vv_len);
WEFT_API int weft_frame_challenge_encode(uint8_t *dst, size_t dst_cap, size_t *len,
                                         const uint8_t *nonce, uint64_t head, const uint8_t *vv,
                                         size_t vv_len);
/* The same CHALLENGE with the answering versions block when v is not NULL
 * (both levels >= 1, else WEFT_EINVAL). Only in answer to a HELLO that
 * carried a block: a version-1 decoder refuses the extra bytes. The
 * challenge bound covers the block. */
WEFT_API int weft_frame_challenge_encode_v(uint8_t *dst, size_t dst_cap, size_t *len,
                                           const uint8_t *nonce, uint64_t head, const uint8_t *vv,
                                           size_t vv_len, const weft_versions *v);

WEFT_API int weft_frame_proof_encode(uint8_t *dst, size_t dst_cap, size_t *len, const uint8_t *sig);

/* A CHANGES frame is built incrementally: begin, then add records. *len is
 * the frame's length so far (begin sets it, add grows it). */
WEFT_API int weft_frame_changes_begin(uint8_t *dst, size_t dst_cap, size_t *len, int with_rseq);
/* Bytes one record of rec_len bytes adds to a CHANGES frame at most. */
WEFT_API size_t weft_frame_change_entry_bound(size_t rec_len);
/* Appends one record; rseq must be 0 unless the frame was begun with_rseq.
 * On WEFT_ENOSPACE the frame is left as it was. */
WEFT_API int weft_frame_changes_add(uint8_t *dst, size_t dst_cap, size_t *len, uint64_t rseq,
                                    const uint8_t *rec, size_t rec_len);

/* An ACK: begin with the sender's cursor, then one entry per change. */
WEFT_API int weft_frame_ack_begin(uint8_t *dst, size_t dst_cap, size_t *len, uint64_t cursor);
WEFT_API int weft_frame_ack_add(uint8_t *dst, size_t dst_cap, size_t *len, uint8_t status,
                                uint64_t value);

/* SIGNAL or PRESENCE (type), to or from `peer` (32 bytes; zeros allowed for
 * PRESENCE only). data_len <= WEFT_PROTO_MAX_DATA. */
WEFT_API size_t weft_frame_signal_bound(size_t data_len);
WEFT_API int weft_frame_signal_encode(uint8_t *dst, size_t dst_cap, size_t *len, uint8_t type,
                                      const uint8_t *peer, const uint8_t *data, size_t data_len);

/* ERROR. message_len <= WEFT_PROTO_MAX_MESSAGE (longer messages are cut). */
WEFT_API size_t weft_frame_error_bound(size_t message_len);
WEFT_API int weft_frame_error_encode(uint8_t *dst, size_t dst_cap, size_t *len, uint32_t code,
                                     int fatal, const char *message, size_t message_len);

/* SNAPSHOT: flags (WEFT_SNAPSHOT_USE_REST or 0), rseq (a relay's base; 0
 * from a client), token (<= WEFT_PROTO_MAX_TOKEN; may be empty), rec (the
 * sealed snapshot, <= WEFT_MAX_SEALED_SNAPSHOT_BYTES; may be empty). */
WEFT_API size_t weft_frame_snapshot_bound(size_t token_len, size_t rec_len);
WEFT_API int weft_frame_snapshot_encode(uint8_t *dst, size_t dst_cap, size_t *len, uint8_t flags,
                                        uint64_t rseq, const uint8_t *token, size_t token_len,
                                        const uint8_t *rec, size_t rec_len);
/* SNAPSHOT_GET: no payload (WEFT_FRAME_HEADER_BYTES). */
WEFT_API int weft_frame_snapshot_get_encode(uint8_t *dst, size_t dst_cap, size_t *len);
/* SNAPSHOT_ACK: status WEFT_ACK_STORED or WEFT_ACK_REJECTED, and value. At
 * most WEFT_FRAME_HEADER_BYTES + 11 bytes. */
WEFT_API int weft_frame_snapshot_ack_encode(uint8_t *dst, size_t dst_cap, size_t *len,
                                            uint8_t status, uint64_t value);

/* The protocol version, for bindings that cannot read macros. */
WEFT_API int weft_protocol_version(void);

#ifdef __cplusplus
}
#endif
#endif
