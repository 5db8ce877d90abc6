/*
 * Sealed snapshots (weft/snapshot.h): kind 2, suite V1. Layout
 * (docs/FORMAT.md, "Sealed snapshot"):
 *
 *   u8 version | u8 kind = 2 | u8 suite = 1 | space[32] | publisher[32]
 *   varint rseq | varint wall_ms | varint vv_len | vv          <- header ends
 *   varint body_len | body = nonce[24] || AEAD(PLAIN snapshot) || tag[16]
 *   sig[64] over every byte before it
 *
 * It is the change record's shape (plaintext header as associated data,
 * then the signature over header and ciphertext), so a relay checks it with
 * the publisher's public key alone. The vector in the header is the one the
 * sealed state covers; loading checks that the state inside agrees, so a
 * relay that checked the header against its log checked the state's too.
 * Plaintext is wiped on every path once it has been loaded or refused.
 */
#include "weft/snapshot.h"
#include "replica_int.h"

int weft_snapshot_header_decode(weft_snapshot_header *h, const uint8_t *rec, size_t len) {
    validate_or_ret(h && (rec || len == 0), WEFT_EINVAL);
    memset(h, 0, sizeof *h);
    if (len > WEFT_MAX_SEALED_SNAPSHOT_BYTES) return WEFT_ETOOBIG;
    wreader r;
    rd_init(&r, rec, len);
    h->record = rec;
    h->version = rd_u8(&r);
    h->kind = rd_u8(&r);
    h->suite = rd_u8(&r);
    if (r.err) return r.err;
    if (h->version != WEFT_FORMAT_VERSION) return WEFT_EVERSION;
    if (h->kind != WEFT_RECORD_SNAPSHOT) return WEFT_EMALFORMED;
    if (h->suite != WEFT_SUITE_V1) return WEFT_ESUITE;
    h->space = rd_take(&r, 32);
    h->publisher = rd_take(&r, 32);
    h->rseq = rd_varint(&r);
    h->wall_ms = rd_varint(&r);
    h->vv = rd_lbytes(&r, &h->vv_len, WEFT_MAX_SEALED_SNAPSHOT_BYTES);
    if (r.err) return r.err;
    /* A vector that does not parse is a malformed record, not one cut
     * short: its length was given and the bytes are all there. */
    if (weft_vv_check(h->vv, h->vv_len)) return WEFT_EMALFORMED;
    h->header_len = (size_t)(r.p - rec);
    h->body = rd_lbytes(&r, &h->body_len, WEFT_MAX_SEALED_SNAPSHOT_BYTES);
    h->signed_len = (size_t)(r.p - rec);
    h->sig = rd_take(&r, WEFT_SIGNBYTES);
    if (r.err) return r.err;
    if (h->body_len < WEFT_SUITE_V1_OVERHEAD) return WEFT_EMALFORMED;
    if (rd_left(&r)) return WEFT_EMALFORMED;
    h->total_len = len;
    return WEFT_OK;
}

int weft_snapshot_verify(const weft_crypto_backend *be, const uint8_t *space, const uint8_t *rec,
                         size_t len, weft_snapshot_header *out) {
    validate_or_ret(be && be->verify && space, WEFT_EINVAL);
    weft_snapshot_header h;
    int rc = weft_snapshot_header_decode(&h, rec, len);
    if (rc) return rc;
    if (memcmp(h.space, space, 32) != 0) return WEFT_ESPACE;
    if (be->verify(be->ctx, h.sig, rec, h.signed_len, h.publisher)) return WEFT_ESIGNATURE;
    if (out) *out = h;
    return WEFT_OK;
}

int weft_log_covers(const weft_log *log, const uint8_t *vv, size_t vv_len) {
    validate_or_ret(log && (vv || vv_len == 0), WEFT_EINVAL);
    int rc = weft_vv_check(vv, vv_len);
    if (rc) return rc;
    size_t pos = 0;
    const uint8_t *author;
    uint64_t seq;
    while (weft_vv_next(vv, vv_len, &pos, &author, &seq))
        if (weft_log_seq(log, author) < seq) return WEFT_EUNCOVERED;
    return WEFT_OK;
}

int weft_replica_publish_snapshot(weft_replica *r, uint64_t rseq, uint64_t wall_ms,
                                  const uint8_t **rec, size_t *len) {
    validate_or_ret(r && rec && len, WEFT_EINVAL);
    if (!r->crypto || r->crypto->suite != WEFT_SUITE_V1) return WEFT_ESUITE;
    if (r->txn_n || r->txn_text) return WEFT_ESTATE;
    const uint8_t *vv, *plain;
    size_t vv_len, plain_len;
    int rc = weft_replica_vv(r, &vv, &vv_len);
    if (!rc) rc = weft_replica_snapshot(r, &plain, &plain_len);
    if (rc) return rc;
    /* 512 bytes cover the fixed fields, varints, nonce, tag and signature. */
    if (vv_len > WEFT_MAX_SEALED_SNAPSHOT_BYTES / 2 ||
        plain_len > WEFT_MAX_SEALED_SNAPSHOT_BYTES - 512 - vv_len) {
        rc = WEFT_ETOOBIG;
        goto out;
    }
    wbuf *b = &r->sealed;
    b->len = 0;
    b->err = 0;
    uint8_t head[3] = {WEFT_FORMAT_VERSION, WEFT_RECORD_SNAPSHOT, WEFT_SUITE_V1};
    wbuf_put(b, head, 3);
    wbuf_put(b, r->space, 32);
    wbuf_put(b, r->author, 32);
    wbuf_varint(b, rseq);
    wbuf_varint(b, wall_ms);
    wbuf_lbytes(b, vv, vv_len);
    size_t header_len = b->len;
    size_t body_len = plain_len + r->crypto->seal_overhead;
    wbuf_varint(b, body_len);
    if (b->err || wbuf_reserve(b, body_len + WEFT_SIGNBYTES)) {
        b->err = 0;
        rc = WEFT_ENOMEM;
        goto out;
    }
    rc = r->crypto->seal(r->crypto->ctx, b->p + b->len, plain, plain_len, b->p, header_len);
    if (rc) goto out;
    b->len += body_len;
    rc = r->crypto->sign(r->crypto->ctx, b->p + b->len, b->p, b->len);
    if (rc) goto out;
    b->len += WEFT_SIGNBYTES;
    *rec = b->p;
    *len = b->len;
out:
    /* The plaintext state is no secret from this replica, but a borrowed
     * buffer of it should not outlive the call that sealed it. */
    weft__wipe(r->snap.p, r->snap.len);
    r->snap.len = 0;
    if (rc) r->sealed.len = 0;
    return rc;
}

int weft_replica_load_sealed_snapshot(weft_replica *r, const uint8_t *rec, size_t len) {
    validate_or_ret(r && (rec || len == 0), WEFT_EINVAL);
    weft_snapshot_header h;
    int rc = weft_snapshot_header_decode(&h, rec, len);
    if (rc) return rc;
    if (!r->crypto || r->crypto->suite != WEFT_SUITE_V1) return WEFT_ESUITE;
    if (memcmp(h.space, r->space, 32) != 0) return WEFT_ESPACE;
    if (weft_log_count(r->log) || weft_log_pending_count(r->log) || r->state.n_docs || r->txn_n)
        return WEFT_ESTATE;
    if (r->crypto->verify(r->crypto->ctx, h.publisher, h.sig, rec, h.signed_len))
        return WEFT_ESIGNATURE;
    size_t plain_len = h.body_len - r->crypto->seal_overhead;
    uint8_t *plain = weft__alloc(r->a, plain_len + 1);
    if (!plain) return WEFT_ENOMEM;
    rc = r->crypto->open(r->crypto->ctx, plain, h.body, h.body_len, rec, h.header_len);
    if (rc) rc = WEFT_ECRYPTO;
    if (!rc) rc = weft__replica_load_snapshot(r, plain, plain_len, h.vv, h.vv_len);
    weft__wipe(plain, plain_len);
    weft__free(r->a, plain);
    return rc;
}

size_t weft_sealed_snapshot_max_bytes(void) {
    return WEFT_MAX_SEALED_SNAPSHOT_BYTES;
}
