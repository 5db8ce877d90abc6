/*
 * Key backups (contract and layout in weft/backup.h, threat model in
 * docs/SECURITY.md "Key backup").
 *
 * Sealing computes the exact size first and writes the payload into one
 * scratch buffer that is wiped before it is freed; opening decrypts into
 * the caller's buffer and wipes it on every failure. Both decoders read
 * through the bounded reader only, so a hostile header or payload can at
 * worst be refused.
 */
#include "weft/backup.h"
#include "weft/error.h"
#include "weft/members.h"
#include "weft/auth.h"
#include "weft/level.h"
#include "mem.h"

#include <assert.h>

#define MAGIC_LEN      8
#define KDF_ARGON2ID13 1

static size_t lbytes_len(size_t n) {
    return varint_len(n) + n;
}

static int backup_valid(const weft_backup *b) {
    return b && b->n_keys >= 1 && b->n_keys <= WEFT_BACKUP_MAX_KEYS && b->keys &&
           (b->token || !b->token_len) && (b->records || !b->records_len) &&
           (b->level || !b->level_len) && (b->relay || !b->relay_len) &&
           b->token_len <= WEFT_TOKEN_MAX_BYTES && b->records_len <= WEFT_BACKUP_MAX_RECORDS &&
           b->level_len <= WEFT_LEVEL_MAX_BYTES && b->relay_len <= WEFT_BACKUP_MAX_RELAY;
}

size_t weft_backup_payload_bound(const weft_backup *b) {
    if (!backup_valid(b)) return 0;
    return 32 + WEFT_SIGN_SECRETKEYBYTES + 1 + (b->has_owner ? WEFT_SIGN_SECRETKEYBYTES : 0) +
           varint_len(b->key_epoch) + varint_len(b->n_keys) + 32 * b->n_keys +
           lbytes_len(b->token_len) + lbytes_len(b->records_len) + lbytes_len(b->level_len) +
           lbytes_len(b->relay_len);
}

static size_t header_len(uint64_t ops, size_t mem) {
    return MAGIC_LEN + 2 + varint_len(ops) + varint_len(mem >> 10) + WEFT_PWHASH_SALTBYTES +
           WEFT_AEAD_NPUBBYTES;
}

size_t weft_backup_bound(const weft_backup *b) {
    size_t n = weft_backup_payload_bound(b);
    return n ? header_len(WEFT_BACKUP_OPSLIMIT, WEFT_BACKUP_MEMLIMIT) + n + WEFT_AEAD_ABYTES : 0;
}

static uint8_t *put(uint8_t *p, const void *src, size_t n) {
    if (n) memcpy(p, src, n);
    return p + n;
}

static uint8_t *put_lbytes(uint8_t *p, const void *src, size_t n) {
    p += varint_put(p, n);
    return put(p, src, n);
}

int weft_backup_seal(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *out_len,
                     const weft_backup *b, const char *pw, size_t pwlen) {
    validate_or_ret(be && out_len && (dst || !dst_cap) && (pw || !pwlen), WEFT_EINVAL);
    *out_len = 0;
    validate_or_ret(backup_valid(b) && pwlen >= WEFT_BACKUP_MIN_PASSPHRASE, WEFT_EINVAL);
    validate_or_ret(!b->has_owner || weft__bytes_eq(b->owner_sk + 32, b->space, 32), WEFT_EINVAL);
    if (!be->pwhash) return WEFT_EUNAVAILABLE;
    size_t plen = weft_backup_payload_bound(b), total = weft_backup_bound(b);
    if (dst_cap < total) return WEFT_ENOSPACE;

    /* Header: it is also the associated data. */
    uint8_t *h = dst;
    h = put(h, WEFT_BACKUP_MAGIC, MAGIC_LEN);
    *h++ = WEFT_BACKUP_VERSION;
    *h++ = KDF_ARGON2ID13;
    h += varint_put(h, WEFT_BACKUP_OPSLIMIT);
    h += varint_put(h, WEFT_BACKUP_MEMLIMIT >> 10);
    uint8_t *salt = h, *nonce = h + WEFT_PWHASH_SALTBYTES;
    int rc = be->random(be->ctx, salt, WEFT_PWHASH_SALTBYTES + WEFT_AEAD_NPUBBYTES);
    if (rc) return rc;
    h = nonce + WEFT_AEAD_NPUBBYTES;
    size_t hlen = (size_t)(h - dst);

    uint8_t *pt = weft__alloc(NULL, plen);
    if (!pt) return WEFT_ENOMEM;
    uint8_t *p = pt;
    p = put(p, b->space, 32);
    p = put(p, b->author_sk, WEFT_SIGN_SECRETKEYBYTES);
    *p++ = b->has_owner ? WEFT_BACKUP_FLAG_OWNER : 0;
    if (b->has_owner) p = put(p, b->owner_sk, WEFT_SIGN_SECRETKEYBYTES);
    p += varint_put(p, b->key_epoch);
    p += varint_put(p, b->n_keys);
    p = put(p, b->keys, 32 * b->n_keys);
    p = put_lbytes(p, b->token, b->token_len);
    p = put_lbytes(p, b->records, b->records_len);
    p = put_lbytes(p, b->level, b->level_len);
    p = put_lbytes(p, b->relay, b->relay_len);
    assert((size_t)(p - pt) == plen);

    uint8_t key[WEFT_AEAD_KEYBYTES];
    rc = be->pwhash(be->ctx, key, sizeof key, pw, pwlen, salt, WEFT_BACKUP_OPSLIMIT,
                    WEFT_BACKUP_MEMLIMIT);
    if (!rc) rc = be->aead_encrypt(be->ctx, h, pt, plen, dst, hlen, nonce, key);
    weft__wipe(key, sizeof key);
    weft__wipe(pt, plen);
    weft__free(NULL, pt);
    if (rc) return rc;
    *out_len = total;
    return WEFT_OK;
}

int weft_backup_header_decode(weft_backup_header *h, const uint8_t *blob, size_t len) {
    validate_or_ret(h && (blob || !len), WEFT_EINVAL);
    memset(h, 0, sizeof *h);
    wreader r;
    rd_init(&r, blob, len);
    const uint8_t *magic = rd_take(&r, MAGIC_LEN);
    if (r.err) return r.err;
    if (memcmp(magic, WEFT_BACKUP_MAGIC, MAGIC_LEN)) return WEFT_EMALFORMED;
    uint8_t version = rd_u8(&r), kdf = rd_u8(&r);
    if (r.err) return r.err;
    if (version != WEFT_BACKUP_VERSION) return version ? WEFT_EVERSION : WEFT_EMALFORMED;
    if (kdf != KDF_ARGON2ID13) return WEFT_EMALFORMED;
    uint64_t ops = rd_varint(&r), kib = rd_varint(&r);
    h->salt = rd_take(&r, WEFT_PWHASH_SALTBYTES);
    h->nonce = rd_take(&r, WEFT_AEAD_NPUBBYTES);
    if (r.err) return r.err;
    if (!ops || kib < 8) return WEFT_EMALFORMED; /* Argon2id's own minima */
    if (ops > WEFT_BACKUP_MAX_OPSLIMIT || kib > (WEFT_BACKUP_MAX_MEMLIMIT >> 10))
        return WEFT_ETOOBIG;
    if (rd_left(&r) < WEFT_AEAD_ABYTES) return WEFT_ETRUNCATED;
    h->version = version;
    h->opslimit = ops;
    h->memlimit = (size_t)kib << 10;
    h->header_len = len - rd_left(&r);
    return WEFT_OK;
}

/* Every membership record in recs decodes and they fill it exactly. */
static int records_valid(const uint8_t *recs, size_t len) {
    for (size_t off = 0; off < len;) {
        weft_member_record m;
        size_t used = 0;
        int rc = weft_member_record_decode_prefix(&m, recs + off, len - off, &used);
        if (rc || !used) return WEFT_EMALFORMED;
        off += used;
    }
    return WEFT_OK;
}

int weft_backup_decode(weft_backup *b, const uint8_t *payload, size_t len) {
    validate_or_ret(b && (payload || !len), WEFT_EINVAL);
    memset(b, 0, sizeof *b);
    wreader r;
    rd_init(&r, payload, len);
    const uint8_t *space = rd_take(&r, 32), *author = rd_take(&r, WEFT_SIGN_SECRETKEYBYTES);
    uint8_t flags = rd_u8(&r);
    if (r.err) return r.err;
    if (flags & ~WEFT_BACKUP_FLAG_OWNER) return WEFT_EMALFORMED;
    memcpy(b->space, space, 32);
    memcpy(b->author_sk, author, WEFT_SIGN_SECRETKEYBYTES);
    if (flags & WEFT_BACKUP_FLAG_OWNER) {
        const uint8_t *owner = rd_take(&r, WEFT_SIGN_SECRETKEYBYTES);
        if (r.err) return r.err;
        memcpy(b->owner_sk, owner, WEFT_SIGN_SECRETKEYBYTES);
        b->has_owner = 1;
    }
    b->key_epoch = rd_varint(&r);
    uint64_t n_keys = rd_varint(&r);
    if (r.err) return r.err;
    if (n_keys < 1) return WEFT_EMALFORMED;
    if (n_keys > WEFT_BACKUP_MAX_KEYS) return WEFT_ETOOBIG;
    b->n_keys = (size_t)n_keys;
    b->keys = rd_take(&r, 32 * b->n_keys);
    b->token = rd_lbytes(&r, &b->token_len, WEFT_TOKEN_MAX_BYTES);
    b->records = rd_lbytes(&r, &b->records_len, WEFT_BACKUP_MAX_RECORDS);
    b->level = rd_lbytes(&r, &b->level_len, WEFT_LEVEL_MAX_BYTES);
    b->relay = (const char *)rd_lbytes(&r, &b->relay_len, WEFT_BACKUP_MAX_RELAY);
    int rc = r.err;
    if (!rc && rd_left(&r)) rc = WEFT_EMALFORMED;
    if (!rc && b->has_owner && !weft__bytes_eq(b->owner_sk + 32, b->space, 32))
        rc = WEFT_EMALFORMED;
    if (!rc) rc = records_valid(b->records, b->records_len);
    if (rc) {
        weft__wipe(b, sizeof *b);
        memset(b, 0, sizeof *b);
    }
    return rc;
}

/* sk (64 bytes) is the key pair its seed makes. */
static int keypair_matches(const weft_crypto_backend *be, const uint8_t *sk) {
    uint8_t pk[WEFT_SIGN_PUBLICKEYBYTES], full[WEFT_SIGN_SECRETKEYBYTES];
    int ok = !be->sign_seed_keypair(be->ctx, pk, full, sk) &&
             weft__bytes_eq(full, sk, WEFT_SIGN_SECRETKEYBYTES);
    weft__wipe(full, sizeof full);
    return ok;
}

int weft_backup_open(const weft_crypto_backend *be, uint8_t *payload, size_t payload_cap,
                     weft_backup *b, const uint8_t *blob, size_t len, const char *pw,
                     size_t pwlen) {
    validate_or_ret(be && payload && b && (blob || !len) && (pw || !pwlen), WEFT_EINVAL);
    memset(b, 0, sizeof *b);
    weft_backup_header h;
    int rc = weft_backup_header_decode(&h, blob, len);
    if (rc) return rc;
    size_t plen = len - h.header_len - WEFT_AEAD_ABYTES;
    validate_or_ret(payload_cap >= plen, WEFT_EINVAL);
    if (!be->pwhash) return WEFT_EUNAVAILABLE;
    uint8_t key[WEFT_AEAD_KEYBYTES];
    rc = be->pwhash(be->ctx, key, sizeof key, pw, pwlen, h.salt, h.opslimit, h.memlimit);
    if (!rc) {
        rc = be->aead_decrypt(be->ctx, payload, blob + h.header_len, len - h.header_len, blob,
                              h.header_len, h.nonce, key);
        if (rc == WEFT_ECRYPTO) rc = WEFT_EPASSPHRASE;
    }
    weft__wipe(key, sizeof key);
    if (!rc) rc = weft_backup_decode(b, payload, plen);
    if (!rc &&
        (!keypair_matches(be, b->author_sk) || (b->has_owner && !keypair_matches(be, b->owner_sk))))
        rc = WEFT_EMALFORMED;
    if (rc) {
        weft__wipe(payload, plen);
        weft__wipe(b, sizeof *b);
        memset(b, 0, sizeof *b);
    }
    return rc;
}
