/*
 * Membership as data: grants, revocations and key epochs (format level
 * WEFT_LEVEL_MEMBERS; rules in docs/SECURITY.md "Members", layouts in
 * docs/FORMAT.md §10).
 *
 * A space's membership is a set of signed records that travel through its
 * log like level records, and that a relay checks without the content key:
 *
 *   grant  (kind 5)  issuer gives `member` `rights` until `until` (Unix s,
 *                    0 = never); with WEFT_GRANT_INVITE the member is an
 *                    invite key whose secret travels in a link, and which
 *                    may sign exactly one grant: the claim, to the
 *                    newcomer's own key.
 *   revoke (kind 6)  issuer removes `member` for good: of its changes only
 *                    seq <= last_seq count, and no key envelope from epoch
 *                    `epoch` on may be sealed to it.
 *   epoch  (kind 7)  issuer starts content-key epoch `epoch`: the new key
 *                    sealed to each member's key (X25519 from Ed25519,
 *                    crypto_box_seal), its 16-byte id, and the previous key
 *                    sealed under the new one (so whoever holds a key can
 *                    walk back to every older one).
 *   link   (kind 9)  one person, several devices: `issuer` (the person's
 *                    key, a member or the owner) says `member` is another
 *                    device of theirs, and that device signs it too, so
 *                    nobody claims a device or a person that did not agree.
 *                    A link attributes, it grants nothing: rights still
 *                    come from grants (and tokens at the relay).
 *
 * Records are signed by their issuer over every byte before the signature;
 * the kind byte sits where a change's and a token's does, so no signature
 * can be passed off as another kind's.
 *
 * weft_members folds a set of records into who is a member with what
 * rights. The fold is a function of the set alone (never of the order the
 * records arrived in, nor of a clock), so every replica and relay holding
 * the same records decides the same: authority flows owner -> admins (owner
 * grants of admin rights, minus owner revocations) -> everything else, with
 * no cycle. Time enters only through weft_members_rights' `now`.
 *
 * Not thread-safe; one weft_members per space. Decoders read through the
 * bounded reader only.
 */
#ifndef WEFT_MEMBERS_H
#define WEFT_MEMBERS_H

#include "weft/alloc.h"
#include "weft/auth.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The format level that adds kinds 5-7 (docs/FORMAT.md §10). One constant,
 * so that it can be renumbered when levels from parallel work merge. */
#define WEFT_LEVEL_MEMBERS 4

#define WEFT_RECORD_GRANT  5
#define WEFT_RECORD_REVOKE 6
#define WEFT_RECORD_EPOCH  7
#define WEFT_RECORD_LINK   9
/* Whether a record kind is a membership record (8 is reserved for the
 * access work of issue 22 that runs beside this). */
#define WEFT_RECORD_IS_MEMBERSHIP(kind) ((kind) >= WEFT_RECORD_GRANT && (kind) <= WEFT_RECORD_LINK)

#define WEFT_GRANT_INVITE 0x01 /* the member is an invite key (one claim) */

/* Kind byte of a claim ticket: the secret half of a claimed invite, in a
 * link only (never in a log or a frame; a relay refuses the kind). */
#define WEFT_RECORD_TICKET    8
#define WEFT_TICKET_MAX_BYTES (2 + 32 + 1 + 10)

#define WEFT_EPOCH_KEYIDBYTES  16
#define WEFT_EPOCH_MAX_MEMBERS 1024
/* One envelope: member key, then the content key sealed to it. */
#define WEFT_ENVELOPE_BYTES (32 + WEFT_AEAD_KEYBYTES + WEFT_BOX_SEALBYTES)
/* The previous key under the new one: nonce, key, tag. */
#define WEFT_EPOCH_PREVBYTES (WEFT_AEAD_NPUBBYTES + WEFT_AEAD_KEYBYTES + WEFT_AEAD_ABYTES)

#define WEFT_GRANT_MAX_BYTES  (2 + 96 + 2 + 10 + 10 + WEFT_SIGNBYTES)
#define WEFT_REVOKE_MAX_BYTES (2 + 96 + 10 + 10 + 10 + WEFT_SIGNBYTES)
#define WEFT_LINK_MAX_BYTES   (2 + 96 + 10 + 2 * WEFT_SIGNBYTES)
#define WEFT_EPOCH_BYTES_BOUND(n)                                          \
    (2 + 64 + 10 + WEFT_EPOCH_KEYIDBYTES + 10 + WEFT_EPOCH_PREVBYTES + 3 + \
     (size_t)(n)*WEFT_ENVELOPE_BYTES + WEFT_SIGNBYTES)

/* The same numbers, for bindings that cannot read macros. */
WEFT_API int weft_level_members(void);
WEFT_API size_t weft_grant_max_bytes(void);
WEFT_API size_t weft_revoke_max_bytes(void);
WEFT_API size_t weft_epoch_bytes_bound(size_t n_members);

/* A decoded membership record. Pointers borrow from the record's bytes. */
typedef struct weft_member_record {
    uint8_t kind; /* WEFT_RECORD_GRANT, _REVOKE, _EPOCH or _LINK */
    uint8_t space[32];
    uint8_t issuer[32]; /* link: the person */
    uint8_t member[32]; /* grant, revoke; link: the device */
    uint8_t rights;     /* grant: 1..3 */
    uint8_t flags;      /* grant: WEFT_GRANT_INVITE or 0 */
    uint64_t until;     /* grant: Unix seconds, 0 = never */
    uint64_t last_seq;  /* revoke: the member's last change that counts (0: none) */
    uint64_t epoch;     /* revoke: first epoch without it; epoch: its number (>= 1) */
    uint64_t wall_ms;   /* when the issuer signed it */
    uint8_t key_id[WEFT_EPOCH_KEYIDBYTES]; /* epoch */
    const uint8_t *prev;                   /* epoch: WEFT_EPOCH_PREVBYTES */
    size_t n_envelopes;                    /* epoch */
    const uint8_t *envelopes;              /* epoch: n × WEFT_ENVELOPE_BYTES, by member key */
    const uint8_t *device_sig;             /* link: the device's signature (64 bytes) */
} weft_member_record;

/* ---- signing ---- */

/* Signs a grant of `rights` (1..3) to `member` until `until`. issuer_sk is
 * the issuer's 64-byte secret key (the owner's, an admin's, or for a claim
 * the invite key's). flags: 0 or WEFT_GRANT_INVITE. OUT: dst
 * (WEFT_GRANT_MAX_BYTES suffice), *len. Returns 0, WEFT_EINVAL (bad rights
 * or flags, member == space or == issuer), WEFT_ENOSPACE or a backend
 * error. Whether the issuer may grant this is the fold's question. */
WEFT_API int weft_grant_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap,
                             size_t *len, const uint8_t *space, const uint8_t *issuer_sk,
                             const uint8_t *member, uint8_t rights, uint8_t flags, uint64_t until,
                             uint64_t wall_ms);

/* Signs the removal of `member`: its changes with seq <= last_seq still
 * count, and epochs >= `epoch` (>= 1) may not be sealed to it. OUT: dst
 * (WEFT_REVOKE_MAX_BYTES suffice), *len. Returns 0, WEFT_EINVAL (member ==
 * space, epoch 0), WEFT_ENOSPACE or a backend error. */
WEFT_API int weft_revoke_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap,
                              size_t *len, const uint8_t *space, const uint8_t *issuer_sk,
                              const uint8_t *member, uint64_t last_seq, uint64_t epoch,
                              uint64_t wall_ms);

/* Signs epoch `epoch` (>= 1) of the content key: new_key (32 bytes) sealed
 * to each of the n member keys (1..WEFT_EPOCH_MAX_MEMBERS, any order, no
 * duplicates), prev_key under new_key. Nonces and the boxes' ephemeral
 * keys come from the backend. OUT: dst (WEFT_EPOCH_BYTES_BOUND(n)
 * suffices), *len. Returns 0, WEFT_EINVAL (epoch 0, n out of range, a
 * duplicate member), WEFT_ENOSPACE, WEFT_ENOMEM, WEFT_EUNAVAILABLE or a
 * backend error (WEFT_ECRYPTO: a member key that is not a point). */
WEFT_API int weft_epoch_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap,
                             size_t *len, const uint8_t *space, const uint8_t *issuer_sk,
                             uint64_t epoch, const uint8_t *new_key, const uint8_t *prev_key,
                             const uint8_t *members, size_t n, uint64_t wall_ms);

/* The 16-byte id an epoch record publishes for its key: BLAKE2b-128 of
 * "weft-key-id-v1" and the key. Safe to publish (the key is 32 random
 * bytes), and it commits every envelope to the same key. OUT: id[16]. */
WEFT_API int weft_epoch_key_id(uint8_t *id, const uint8_t *key);

/* ---- invites claimed by the newcomer's key ---- */

/* Issues an invite: a fresh invite key (its seed from the backend), the
 * issuer's grant to it with WEFT_GRANT_INVITE (rights 1..3, until), and
 * the ticket that travels in the link: version, kind 8, the invite key's
 * seed[32], rights, varint until. OUT: grant (WEFT_GRANT_MAX_BYTES
 * suffice), *grant_len, ticket[WEFT_TICKET_MAX_BYTES], *ticket_len.
 * Returns 0, WEFT_EINVAL, WEFT_ENOSPACE or a backend error. Whether the
 * issuer may invite is the fold's question. */
WEFT_API int weft_invite_issue(const weft_crypto_backend *be, uint8_t *grant, size_t grant_cap,
                               size_t *grant_len, uint8_t *ticket, size_t *ticket_len,
                               const uint8_t *space, const uint8_t *issuer_sk, uint8_t rights,
                               uint64_t until, uint64_t wall_ms);

/* Reads a ticket. OUT: seed[32], *rights, *until. Returns 0,
 * WEFT_ETRUNCATED, WEFT_EVERSION or WEFT_EMALFORMED (another kind, rights
 * outside 1..3, a varint not minimal, trailing bytes). */
WEFT_API int weft_ticket_decode(const uint8_t *ticket, size_t len, uint8_t *seed, uint8_t *rights,
                                uint64_t *until);

/* The claim: the invite key (from the ticket's seed) grants `member` the
 * ticket's rights until its end. OUT: dst (WEFT_GRANT_MAX_BYTES suffice),
 * *len, invite_key[32] (may be NULL). Returns 0, a ticket decode error,
 * WEFT_EINVAL, WEFT_ENOSPACE or a backend error. */
WEFT_API int weft_invite_claim(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap,
                               size_t *len, const uint8_t *space, const uint8_t *ticket,
                               size_t ticket_len, const uint8_t *member, uint64_t wall_ms,
                               uint8_t *invite_key);

/* A device's half of a link (kind 9): its signature, with its secret key
 * device_sk, of the link of `device` (its own key) to `person` at wall_ms.
 * The device shows it to the person's device, which completes the record
 * with weft_link_sign. OUT: sig[64]. Returns 0, WEFT_EINVAL (device is the
 * person or the space) or a backend error. */
WEFT_API int weft_link_sign_device(const weft_crypto_backend *be, uint8_t *sig,
                                   const uint8_t *space, const uint8_t *person,
                                   const uint8_t *device_sk, uint64_t wall_ms);

/* Completes a link: checks the device's signature, then signs as the
 * person (person_sk). OUT: dst (WEFT_LINK_MAX_BYTES suffice), *len.
 * Returns 0, WEFT_EINVAL, WEFT_ECRYPTO (device_sig is not the device's for
 * this link), WEFT_ENOSPACE or a backend error. */
WEFT_API int weft_link_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap,
                            size_t *len, const uint8_t *space, const uint8_t *person_sk,
                            const uint8_t *device, uint64_t wall_ms, const uint8_t *device_sig);

/* ---- reading ---- */

/* Reads a membership record's structure (any of kinds 5-7 and 9). The record
 * must fill [rec, rec + len) exactly. OUT: *out. Returns 0,
 * WEFT_ETRUNCATED, WEFT_EVERSION or WEFT_EMALFORMED (another kind, rights
 * outside 1..3, unknown flags, a member equal to the space, an epoch 0,
 * envelopes not strictly sorted, trailing bytes). */
WEFT_API int weft_member_record_decode(weft_member_record *out, const uint8_t *rec, size_t len);

/* The same for a record at the start of a buffer that may hold more
 * records. OUT: *out, *rec_len. */
WEFT_API int weft_member_record_decode_prefix(weft_member_record *out, const uint8_t *rec,
                                              size_t len, size_t *rec_len);

/* Decodes and checks the signature (and a link's device signature) and
 * the space: what needs no other record. OUT: *out. Returns 0, a decode error, WEFT_ESPACE or
 * WEFT_ECRYPTO. */
WEFT_API int weft_member_record_verify(const weft_crypto_backend *be, const uint8_t *rec,
                                       size_t len, const uint8_t *space,
                                       weft_member_record *out) WEFT_WARN_UNUSED;

/* A grant chain: what a device admitted by grant shows where a token
 * would go (a level record's parent, the proof kept with a sealed
 * snapshot): the grants that give `key` its rights, checkable without the
 * space's other membership records. Either the owner's grant to `key`, or
 * the owner's invite grant (WEFT_GRANT_INVITE) followed by the invite
 * key's claim to `key` (rights no more than the invite's), concatenated.
 * Every grant must verify for `space` and hold at `at_s` (until 0 or
 * above it). Like a token it says nothing of a later removal: readers that
 * hold the records fold them for that. At most WEFT_GRANT_CHAIN_MAX_BYTES.
 * OUT: *rights (the last grant's). Returns 0, a decode error (WEFT_EMALFORMED
 * also for another kind or more than two records), WEFT_ESPACE,
 * WEFT_ECRYPTO, WEFT_EDELEGATION (not such a chain: another issuer, key
 * or shape) or WEFT_EEXPIRED. */
#define WEFT_GRANT_CHAIN_MAX_BYTES (2 * WEFT_GRANT_MAX_BYTES)
WEFT_API int weft_grant_chain_verify(const weft_crypto_backend *be, const uint8_t *chain,
                                     size_t len, const uint8_t *space, const uint8_t *key,
                                     uint64_t at_s, uint8_t *rights) WEFT_WARN_UNUSED;

/* Opens the envelope an epoch record holds for the key pair member_sk (64
 * bytes), and checks the key against the record's key id. OUT: key[32]
 * (wiped on failure). Returns 0, a decode error, WEFT_EWRONGMEMBER (no
 * envelope for this key), WEFT_EFORGED (it opens to another key than the
 * id commits to) or WEFT_ECRYPTO (it does not open). */
WEFT_API int weft_epoch_open(const weft_crypto_backend *be, const uint8_t *rec, size_t len,
                             const uint8_t *member_sk, uint8_t *key) WEFT_WARN_UNUSED;

/* Opens an epoch record's previous key with its key (from weft_epoch_open,
 * or a link). OUT: prev[32]. Returns 0, a decode error, WEFT_EFORGED (key
 * is not the record's key) or WEFT_ECRYPTO (altered). */
WEFT_API int weft_epoch_prev_key(const weft_crypto_backend *be, const uint8_t *rec, size_t len,
                                 const uint8_t *key, uint8_t *prev) WEFT_WARN_UNUSED;

/* ---- the fold ---- */

typedef struct weft_members weft_members;

#define WEFT_MEMBERS_MAX_RECORDS (1u << 20)

/* A member as the fold sees it (not counting time). */
typedef struct weft_member {
    uint8_t key[32];
    uint8_t rights;     /* the highest rights any valid grant gives, 0 if none */
    uint64_t until;     /* the latest end among those grants, 0 = never */
    int admin;          /* holds an owner-signed admin grant */
    int revoked;        /* removed (then rights and until describe the past) */
    uint64_t last_seq;  /* revoked: its changes with seq <= last_seq count */
    uint64_t out_epoch; /* revoked: the first epoch it may not receive */
    int linked;         /* a counting link names it as a device of `person` */
    uint8_t person[32];
} weft_member;

/* Creates an empty fold for `space` (the owner's key). alloc may be NULL
 * (malloc). OUT: *out. Returns 0, WEFT_EINVAL or WEFT_ENOMEM. */
WEFT_API int weft_members_new(weft_members **out, const uint8_t *space,
                              const weft_allocator *alloc);
/* NULL is a no-op. */
WEFT_API void weft_members_free(weft_members *m);

/* Adds a record: verifies it (weft_member_record_verify), keeps a copy
 * and refolds. A record whose issuer has no authority yet is kept too
 * (another record may give it some). OUT: *status (may be NULL): the
 * record's status in the new fold, 0 or a code as weft_members_status.
 * Returns 0 (also for a record already held: nothing changes), a verify
 * error (nothing kept), WEFT_ENOMEM or WEFT_ETOOBIG (more than
 * WEFT_MEMBERS_MAX_RECORDS records). */
WEFT_API int weft_members_add(weft_members *m, const weft_crypto_backend *be, const uint8_t *rec,
                              size_t len, int *status);

/* What a relay runs before storing a record: weft_members_add, then keeps
 * the record only if its status is 0 and no record that counted before
 * stops counting for a replayed invite. Returns 0 (kept, or already held
 * and valid), a verify error, WEFT_ENOMEM, or the refusal: WEFT_ENOTADMIN,
 * WEFT_EOUTLIVES, WEFT_EREPLAY, WEFT_EWRONGMEMBER, WEFT_EREVOKED,
 * WEFT_EEXPIRED. Nothing held changes on a refusal. */
WEFT_API int weft_members_admit(weft_members *m, const weft_crypto_backend *be, const uint8_t *rec,
                                size_t len) WEFT_WARN_UNUSED;

/* The status of the held record whose BLAKE2b-256 is hash: 0 (it counts),
 * WEFT_ENOTADMIN (its issuer may not sign it), WEFT_EOUTLIVES (a grant
 * ending after its issuer's, or an open-ended one by an admin whose grant
 * ends), WEFT_EREPLAY (an invite's second claim: the claim with the
 * smallest hash counts), WEFT_EEXPIRED (a claim signed after its invite
 * ended), WEFT_EWRONGMEMBER (an envelope for a key that holds no grant or
 * was removed before this epoch), WEFT_EREVOKED (signed by an admin or
 * invite key that was removed: its grants and epochs lapse, its
 * revocations stay), or WEFT_ENOTFOUND. A link (kind 9) counts when its
 * person is the owner or holds a counting grant and is not removed
 * (WEFT_ENOTADMIN, WEFT_EREVOKED), no such link makes its person a device
 * or its device a person (WEFT_ENOTADMIN: one level deep), and no other
 * one links its device with a smaller hash (WEFT_EREPLAY). A relay
 * refuses a link that would unseat a counted one. */
WEFT_API int weft_members_status(const weft_members *m, const uint8_t *hash);

/* Rights of `key` at time `now` (Unix s): the owner has admin rights
 * always; otherwise the highest rights among its valid grants that have
 * not ended at `now` (invite keys have none). OUT: *rights (0 = none),
 * *until (may be NULL; 0 = never). Returns 0, WEFT_EREVOKED (then *rights
 * is 0) or WEFT_EEXPIRED (it had grants, all ended). */
WEFT_API int weft_members_rights(const weft_members *m, const uint8_t *key, uint64_t now,
                                 uint8_t *rights, uint64_t *until);

/* Whether `key` is an invite that may still be claimed at `now`: 0 (a
 * counting invite grant names it, no claim of it counts, it is not
 * removed and has not ended), WEFT_EREPLAY (claimed), WEFT_EEXPIRED,
 * WEFT_EREVOKED or WEFT_ENOTFOUND (no counting invite names it). */
WEFT_API int weft_members_invite_open(const weft_members *m, const uint8_t *key, uint64_t now);

/* Whether the change (author, seq) counts: 0, or WEFT_EREVOKED when the
 * author was removed and seq is past its revocations' smallest last_seq. */
WEFT_API int weft_members_change_counts(const weft_members *m, const uint8_t *author, uint64_t seq);

/* The current epoch: the counting epoch record with the highest number
 * (ties: the smallest hash). OUT: *epoch (0 when none: the space's first
 * key), key_id[16] and hash[32] (either may be NULL; untouched when 0). */
WEFT_API int weft_members_epoch(const weft_members *m, uint64_t *epoch, uint8_t *key_id,
                                uint8_t *hash);

/* The person a device key belongs to: the issuer of the counting link
 * that names it. OUT: person[32]. Returns 0 or WEFT_ENOTFOUND (no link:
 * the key is its own person). */
WEFT_API int weft_members_person(const weft_members *m, const uint8_t *device, uint8_t *person);

/* Members in key order: the owner (an admin that is never revoked), and
 * every key a counting grant or link names or a counting revocation
 * removed; invite keys left out. Returns the count; `i` below
 * it fills *out and returns 0, else WEFT_ENOTFOUND. */
WEFT_API size_t weft_members_count(const weft_members *m);
WEFT_API int weft_members_get(const weft_members *m, size_t i, weft_member *out);

/* The number of held records, and the i-th in hash order (borrowed until
 * the next add or free). Returns 0 or WEFT_ENOTFOUND. */
WEFT_API size_t weft_members_records(const weft_members *m);
WEFT_API int weft_members_record(const weft_members *m, size_t i, const uint8_t **rec, size_t *len,
                                 int *status);

/* BLAKE2b-256 over the fold's result: every record's hash and status, the
 * members and the current epoch, in a canonical order. Two folds with equal
 * digests decide everything alike. OUT: digest[32]. */
WEFT_API int weft_members_digest(const weft_members *m, uint8_t *digest);

#ifdef __cplusplus
}
#endif
#endif
