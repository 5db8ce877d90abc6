/*
 * Key backups: one device's key material for one space, sealed under a
 * passphrase (docs/SECURITY.md "Key backup", layout in docs/FORMAT.md §11).
 *
 * A backup is what a new device needs to open the space again with the same
 * rights: the space id, this device's author key pair, the owner's secret
 * when held, the content keys of every epoch held (oldest first, the last
 * one seals), the membership records, the level record, the capability
 * token and the relay's URL. It is sealed with XChaCha20-Poly1305 under a
 * key Argon2id derives from the passphrase and a random salt; the header
 * (magic, version, Argon2id limits, salt, nonce) is the associated data, so
 * none of it can be altered either:
 *
 *   "WEFTBKUP" | u8 version=1 | u8 kdf=1 (Argon2id13) | varint opslimit
 *   | varint memlimit_kib | salt[16] | nonce[24] | sealed payload + tag[16]
 *
 *   payload: space[32] | author_sk[64] | u8 flags (0x01 owner secret)
 *   | owner_sk[64] if 0x01 | varint key_epoch | varint n_keys (1..33)
 *   | keys[32 * n_keys] | lbytes token | lbytes records (membership
 *   records back to back) | lbytes level record (empty: none)
 *   | lbytes relay URL (UTF-8, empty: none)
 *
 * Pure functions apart from the backend's randomness and Argon2id: no
 * state, no I/O, no clock.
 */
#ifndef WEFT_BACKUP_H
#define WEFT_BACKUP_H

#include "weft/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_BACKUP_VERSION 1
#define WEFT_BACKUP_MAGIC   "WEFTBKUP" /* 8 bytes, no terminator in the blob */
/* Argon2id limits new backups use: 3 passes over 64 MiB (about 0.1 s
 * natively, 0.2 s with libsodium.js's sumo build in Node 20). A backup is a file an attacker may
 * hold for years, so it gets more passes than libsodium's INTERACTIVE (2). */
#define WEFT_BACKUP_OPSLIMIT 3
#define WEFT_BACKUP_MEMLIMIT ((size_t)64 << 20)
/* What a backup may ask of its reader: a hostile file must not make a
 * browser allocate gigabytes or spin for minutes. */
#define WEFT_BACKUP_MAX_OPSLIMIT   10
#define WEFT_BACKUP_MAX_MEMLIMIT   ((size_t)1 << 30)
#define WEFT_BACKUP_MIN_PASSPHRASE 8 /* bytes; longer is much better */
#define WEFT_BACKUP_MAX_KEYS       (WEFT_SUITE_V1_MAX_OLD_KEYS + 1)
#define WEFT_BACKUP_MAX_RECORDS    ((size_t)64 << 20) /* bytes of membership records */
#define WEFT_BACKUP_MAX_RELAY      2048               /* bytes of the relay URL */
#define WEFT_BACKUP_FLAG_OWNER     0x01

/* What a backup holds. Pointers borrow the caller's buffers (seal) or the
 * opened payload (open). */
typedef struct weft_backup {
    uint8_t space[32];
    uint8_t author_sk[WEFT_SIGN_SECRETKEYBYTES]; /* public key in its last 32 bytes */
    uint8_t owner_sk[WEFT_SIGN_SECRETKEYBYTES];  /* when has_owner */
    int has_owner;
    uint64_t key_epoch;  /* the epoch of the last key (0: the space's first key) */
    const uint8_t *keys; /* n_keys × 32, oldest first; the last one seals */
    size_t n_keys;
    const uint8_t *token; /* the capability token; may be empty */
    size_t token_len;
    const uint8_t *records; /* membership records back to back; may be empty */
    size_t records_len;
    const uint8_t *level; /* the level record; may be empty */
    size_t level_len;
    const char *relay; /* UTF-8, not terminated; may be empty */
    size_t relay_len;
} weft_backup;

/* The header's fields (what weft_backup_header_decode reads). */
typedef struct weft_backup_header {
    uint8_t version;
    uint64_t opslimit;
    size_t memlimit;      /* bytes */
    const uint8_t *salt;  /* WEFT_PWHASH_SALTBYTES, inside the blob */
    const uint8_t *nonce; /* WEFT_AEAD_NPUBBYTES, inside the blob */
    size_t header_len;    /* bytes before the sealed payload */
} weft_backup_header;

/* The exact length of the sealed backup of *b (0 when it exceeds a limit),
 * and of its payload. */
WEFT_API size_t weft_backup_bound(const weft_backup *b);
WEFT_API size_t weft_backup_payload_bound(const weft_backup *b);

/* Seals *b under `pw` with the default Argon2id limits, a random salt and
 * nonce. OUT: dst (weft_backup_bound bytes), *out_len. Returns 0,
 * WEFT_EINVAL (a passphrase shorter than WEFT_BACKUP_MIN_PASSPHRASE, no
 * key, more than WEFT_BACKUP_MAX_KEYS, an owner secret of another space),
 * WEFT_ETOOBIG, WEFT_ENOSPACE, WEFT_EUNAVAILABLE (no Argon2id in this
 * backend), WEFT_ENOMEM or another backend error. Secrets in the scratch
 * payload are wiped. */
WEFT_API int weft_backup_seal(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap,
                              size_t *out_len, const weft_backup *b, const char *pw, size_t pwlen);

/* Reads the header of a sealed backup. Returns 0, WEFT_ETRUNCATED,
 * WEFT_EMALFORMED (not a backup, unknown kdf), WEFT_EVERSION (a newer
 * format) or WEFT_ETOOBIG (limits above the maxima). */
WEFT_API int weft_backup_header_decode(weft_backup_header *h, const uint8_t *blob, size_t len);

/* Reads an opened payload. OUT: *b, pointing into `payload`. Returns 0,
 * WEFT_ETRUNCATED, WEFT_EMALFORMED (unknown flags, no key, too many,
 * trailing bytes, a membership record that does not decode, an owner
 * secret of another space) or WEFT_ETOOBIG. */
WEFT_API int weft_backup_decode(weft_backup *b, const uint8_t *payload, size_t len);

/* Opens a sealed backup: header, Argon2id, AEAD, payload, and the key
 * pairs checked against their public halves. OUT: payload (at least len
 * bytes; a secret: the caller wipes it), *b pointing into it. Returns 0,
 * WEFT_EPASSPHRASE (wrong passphrase, or the blob was altered), the codes
 * of the two decoders, WEFT_EINVAL, WEFT_EUNAVAILABLE or WEFT_ENOMEM.
 * On failure nothing is left in payload. */
WEFT_API int weft_backup_open(const weft_crypto_backend *be, uint8_t *payload, size_t payload_cap,
                              weft_backup *b, const uint8_t *blob, size_t len, const char *pw,
                              size_t pwlen) WEFT_WARN_UNUSED;

#ifdef __cplusplus
}
#endif
#endif
