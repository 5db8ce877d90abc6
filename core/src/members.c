/*
 * Membership records and their fold (contract in weft/members.h, rules in
 * docs/SECURITY.md "Members").
 *
 * The fold is recomputed from the whole set on every add: membership
 * records are few next to changes, and a fold from scratch can only be a
 * function of the set. Passes run in the order authority flows, so no
 * pass reads what a later one decides:
 *
 *   A  owner records: admins, owner revocations, owner invites
 *   C  admins' revocations (they need only A)
 *   B1 admins' invites, B2 admins' grants and invite claims (need A, C)
 *   M  members' rights from the counting grants
 *   D  epochs (need the members)
 *
 * Records are kept sorted by hash, so "the smallest hash wins" is "the
 * first seen in order wins", and the digest needs no extra sort.
 */
#include "weft/members.h"
#include "weft/error.h"
#include "weft/hash.h"
#include "mem.h"

#include <assert.h>
#include <stdlib.h>

int weft_level_members(void) {
    return WEFT_LEVEL_MEMBERS;
}
size_t weft_grant_max_bytes(void) {
    return WEFT_GRANT_MAX_BYTES;
}
size_t weft_revoke_max_bytes(void) {
    return WEFT_REVOKE_MAX_BYTES;
}
size_t weft_epoch_bytes_bound(size_t n) {
    return WEFT_EPOCH_BYTES_BOUND(n);
}

/* ---- decoding ---- */

static int record_read(weft_member_record *o, size_t *signed_len, const uint8_t *p, size_t len,
                       size_t *used) {
    memset(o, 0, sizeof *o);
    wreader r;
    rd_init(&r, p, len);
    uint8_t version = rd_u8(&r), kind = rd_u8(&r);
    if (r.err) return r.err;
    if (version != WEFT_FORMAT_VERSION) return WEFT_EVERSION;
    if (kind < WEFT_RECORD_GRANT || kind > WEFT_RECORD_LINK || kind == WEFT_RECORD_LINK - 1)
        return WEFT_EMALFORMED;
    o->kind = kind;
    const uint8_t *space = rd_take(&r, 32), *issuer = rd_take(&r, 32), *member = NULL;
    const uint8_t *key_id = NULL;
    if (kind == WEFT_RECORD_GRANT) {
        member = rd_take(&r, 32);
        o->rights = rd_u8(&r);
        o->flags = rd_u8(&r);
        o->until = rd_varint(&r);
        o->wall_ms = rd_varint(&r);
    } else if (kind == WEFT_RECORD_REVOKE) {
        member = rd_take(&r, 32);
        o->last_seq = rd_varint(&r);
        o->epoch = rd_varint(&r);
        o->wall_ms = rd_varint(&r);
    } else if (kind == WEFT_RECORD_LINK) {
        member = rd_take(&r, 32);
        o->wall_ms = rd_varint(&r);
        o->device_sig = rd_take(&r, WEFT_SIGNBYTES);
    } else {
        o->epoch = rd_varint(&r);
        key_id = rd_take(&r, WEFT_EPOCH_KEYIDBYTES);
        o->wall_ms = rd_varint(&r);
        o->prev = rd_take(&r, WEFT_EPOCH_PREVBYTES);
        uint64_t n = rd_varint(&r);
        if (!r.err && (n == 0 || n > WEFT_EPOCH_MAX_MEMBERS)) return WEFT_EMALFORMED;
        o->n_envelopes = (size_t)n;
        o->envelopes = rd_take(&r, (size_t)n * WEFT_ENVELOPE_BYTES);
    }
    *signed_len = (size_t)(r.p - p);
    rd_take(&r, WEFT_SIGNBYTES);
    if (r.err) return r.err;
    if (used)
        *used = (size_t)(r.p - p);
    else if (rd_left(&r))
        return WEFT_EMALFORMED;
    memcpy(o->space, space, 32);
    memcpy(o->issuer, issuer, 32);
    if (member) memcpy(o->member, member, 32);
    if (key_id) memcpy(o->key_id, key_id, WEFT_EPOCH_KEYIDBYTES);
    /* Nobody grants to or removes the owner: it holds the space key. */
    if (member && memcmp(member, space, 32) == 0) return WEFT_EMALFORMED;
    if (kind == WEFT_RECORD_GRANT) {
        if (o->rights < WEFT_RIGHT_READ || o->rights > WEFT_RIGHT_ADMIN) return WEFT_EMALFORMED;
        if (o->flags & ~WEFT_GRANT_INVITE) return WEFT_EMALFORMED;
        if (memcmp(member, issuer, 32) == 0) return WEFT_EMALFORMED;
    } else if (kind == WEFT_RECORD_LINK) {
        if (memcmp(member, issuer, 32) == 0) return WEFT_EMALFORMED;
    } else if (o->epoch == 0) {
        return WEFT_EMALFORMED;
    }
    /* One envelope per member, in key order: one encoding per record. */
    for (size_t i = 1; i < o->n_envelopes; i++)
        if (memcmp(o->envelopes + (i - 1) * WEFT_ENVELOPE_BYTES,
                   o->envelopes + i * WEFT_ENVELOPE_BYTES, 32) >= 0)
            return WEFT_EMALFORMED;
    return 0;
}

int weft_member_record_decode(weft_member_record *out, const uint8_t *rec, size_t len) {
    validate_or_ret(out && (rec || !len), WEFT_EINVAL);
    size_t signed_len;
    return record_read(out, &signed_len, rec, len, NULL);
}

int weft_member_record_decode_prefix(weft_member_record *out, const uint8_t *rec, size_t len,
                                     size_t *rec_len) {
    validate_or_ret(out && rec_len && (rec || !len), WEFT_EINVAL);
    size_t signed_len;
    return record_read(out, &signed_len, rec, len, rec_len);
}

int weft_member_record_verify(const weft_crypto_backend *be, const uint8_t *rec, size_t len,
                              const uint8_t *space, weft_member_record *out) {
    validate_or_ret(be && out && space && (rec || !len), WEFT_EINVAL);
    size_t signed_len;
    int rc = record_read(out, &signed_len, rec, len, NULL);
    if (rc) return rc;
    if (memcmp(out->space, space, 32) != 0) return WEFT_ESPACE;
    if (be->verify(be->ctx, rec + signed_len, rec, signed_len, out->issuer)) return WEFT_ECRYPTO;
    /* A link's device signed the same bytes up to its signature. */
    if (out->kind == WEFT_RECORD_LINK &&
        be->verify(be->ctx, out->device_sig, rec, (size_t)(out->device_sig - rec), out->member))
        return WEFT_ECRYPTO;
    return 0;
}

/* ---- grant chains ---- */

int weft_grant_chain_verify(const weft_crypto_backend *be, const uint8_t *chain, size_t len,
                            const uint8_t *space, const uint8_t *key, uint64_t at_s,
                            uint8_t *rights) {
    validate_or_ret(be && space && key && rights && (chain || !len), WEFT_EINVAL);
    if (!len || len > WEFT_GRANT_CHAIN_MAX_BYTES) return WEFT_EMALFORMED;
    weft_member_record g[2];
    size_t n = 0, off = 0;
    while (off < len) {
        if (n == 2) return WEFT_EMALFORMED;
        size_t used;
        int rc = weft_member_record_decode_prefix(&g[n], chain + off, len - off, &used);
        if (rc) return rc;
        if (g[n].kind != WEFT_RECORD_GRANT) return WEFT_EMALFORMED;
        weft_member_record v;
        rc = weft_member_record_verify(be, chain + off, used, space, &v);
        if (rc) return rc;
        if (g[n].until && at_s >= g[n].until) return WEFT_EEXPIRED;
        off += used;
        n++;
    }
    /* Authority starts at the owner; an invite's only grant is its claim. */
    const weft_member_record *last = &g[n - 1];
    if (memcmp(g[0].issuer, space, 32) != 0 || memcmp(last->member, key, 32) != 0 ||
        (last->flags & WEFT_GRANT_INVITE))
        return WEFT_EDELEGATION;
    if (n == 2 && (!(g[0].flags & WEFT_GRANT_INVITE) || memcmp(g[1].issuer, g[0].member, 32) != 0 ||
                   g[1].rights > g[0].rights))
        return WEFT_EDELEGATION;
    *rights = last->rights;
    return 0;
}

/* ---- signing ---- */

static int finish(const weft_crypto_backend *be, uint8_t *dst, uint8_t *p, size_t need, size_t *len,
                  const uint8_t *issuer_sk) {
    int rc = be->sign(be->ctx, p, dst, (size_t)(p - dst), issuer_sk);
    if (rc) return rc;
    assert((size_t)(p + WEFT_SIGNBYTES - dst) == need);
    *len = need;
    return 0;
}

static uint8_t *header(uint8_t *p, uint8_t kind, const uint8_t *space, const uint8_t *issuer) {
    *p++ = WEFT_FORMAT_VERSION;
    *p++ = kind;
    memcpy(p, space, 32);
    memcpy(p + 32, issuer, 32);
    return p + 64;
}

int weft_grant_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                    const uint8_t *space, const uint8_t *issuer_sk, const uint8_t *member,
                    uint8_t rights, uint8_t flags, uint64_t until, uint64_t wall_ms) {
    validate_or_ret(be && len && space && issuer_sk && member, WEFT_EINVAL);
    validate_or_ret(rights >= WEFT_RIGHT_READ && rights <= WEFT_RIGHT_ADMIN, WEFT_EINVAL);
    validate_or_ret(!(flags & ~WEFT_GRANT_INVITE), WEFT_EINVAL);
    /* An Ed25519 secret key holds its public key in its last 32 bytes. */
    const uint8_t *issuer = issuer_sk + 32;
    validate_or_ret(memcmp(member, space, 32) && memcmp(member, issuer, 32), WEFT_EINVAL);
    size_t need = 2 + 96 + 2 + varint_len(until) + varint_len(wall_ms) + WEFT_SIGNBYTES;
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = header(dst, WEFT_RECORD_GRANT, space, issuer);
    memcpy(p, member, 32);
    p += 32;
    *p++ = rights;
    *p++ = flags;
    p += varint_put(p, until);
    p += varint_put(p, wall_ms);
    return finish(be, dst, p, need, len, issuer_sk);
}

int weft_revoke_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                     const uint8_t *space, const uint8_t *issuer_sk, const uint8_t *member,
                     uint64_t last_seq, uint64_t epoch, uint64_t wall_ms) {
    validate_or_ret(be && len && space && issuer_sk && member && epoch, WEFT_EINVAL);
    validate_or_ret(memcmp(member, space, 32) != 0, WEFT_EINVAL);
    size_t need =
        2 + 96 + varint_len(last_seq) + varint_len(epoch) + varint_len(wall_ms) + WEFT_SIGNBYTES;
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = header(dst, WEFT_RECORD_REVOKE, space, issuer_sk + 32);
    memcpy(p, member, 32);
    p += 32;
    p += varint_put(p, last_seq);
    p += varint_put(p, epoch);
    p += varint_put(p, wall_ms);
    return finish(be, dst, p, need, len, issuer_sk);
}

/* ---- invites claimed by the newcomer's key ---- */

int weft_invite_issue(const weft_crypto_backend *be, uint8_t *grant, size_t grant_cap,
                      size_t *grant_len, uint8_t *ticket, size_t *ticket_len, const uint8_t *space,
                      const uint8_t *issuer_sk, uint8_t rights, uint64_t until, uint64_t wall_ms) {
    validate_or_ret(be && grant_len && ticket && ticket_len && space && issuer_sk, WEFT_EINVAL);
    validate_or_ret(rights >= WEFT_RIGHT_READ && rights <= WEFT_RIGHT_ADMIN, WEFT_EINVAL);
    uint8_t seed[32], pk[32], sk[64];
    int rc = be->random(be->ctx, seed, sizeof seed);
    if (!rc) rc = be->sign_seed_keypair(be->ctx, pk, sk, seed);
    if (!rc)
        rc = weft_grant_sign(be, grant, grant_cap, grant_len, space, issuer_sk, pk, rights,
                             WEFT_GRANT_INVITE, until, wall_ms);
    if (!rc) {
        uint8_t *p = ticket;
        *p++ = WEFT_FORMAT_VERSION;
        *p++ = WEFT_RECORD_TICKET;
        memcpy(p, seed, 32);
        p += 32;
        *p++ = rights;
        p += varint_put(p, until);
        *ticket_len = (size_t)(p - ticket);
    }
    weft__wipe(seed, sizeof seed);
    weft__wipe(sk, sizeof sk);
    return rc;
}

int weft_ticket_decode(const uint8_t *ticket, size_t len, uint8_t *seed, uint8_t *rights,
                       uint64_t *until) {
    validate_or_ret(seed && rights && until && (ticket || !len), WEFT_EINVAL);
    wreader r;
    rd_init(&r, ticket, len);
    uint8_t version = rd_u8(&r), kind = rd_u8(&r);
    if (r.err) return r.err;
    if (version != WEFT_FORMAT_VERSION) return WEFT_EVERSION;
    if (kind != WEFT_RECORD_TICKET) return WEFT_EMALFORMED;
    const uint8_t *s = rd_take(&r, 32);
    uint8_t rt = rd_u8(&r);
    uint64_t u = rd_varint(&r);
    if (r.err) return r.err;
    if (rd_left(&r) || rt < WEFT_RIGHT_READ || rt > WEFT_RIGHT_ADMIN) return WEFT_EMALFORMED;
    memcpy(seed, s, 32);
    *rights = rt;
    *until = u;
    return 0;
}

int weft_invite_claim(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                      const uint8_t *space, const uint8_t *ticket, size_t ticket_len,
                      const uint8_t *member, uint64_t wall_ms, uint8_t *invite_key) {
    validate_or_ret(be && len && space && member, WEFT_EINVAL);
    uint8_t seed[32], pk[32], sk[64], rights;
    uint64_t until;
    int rc = weft_ticket_decode(ticket, ticket_len, seed, &rights, &until);
    if (!rc) rc = be->sign_seed_keypair(be->ctx, pk, sk, seed);
    if (!rc)
        rc = weft_grant_sign(be, dst, dst_cap, len, space, sk, member, rights, 0, until, wall_ms);
    if (!rc && invite_key) memcpy(invite_key, pk, 32);
    weft__wipe(seed, sizeof seed);
    weft__wipe(sk, sizeof sk);
    return rc;
}

/* The bytes both halves of a link sign. OUT: body; returns its length. */
static size_t link_body(uint8_t *body, const uint8_t *space, const uint8_t *person,
                        const uint8_t *device, uint64_t wall_ms) {
    uint8_t *p = header(body, WEFT_RECORD_LINK, space, person);
    memcpy(p, device, 32);
    p += 32;
    p += varint_put(p, wall_ms);
    return (size_t)(p - body);
}

int weft_link_sign_device(const weft_crypto_backend *be, uint8_t *sig, const uint8_t *space,
                          const uint8_t *person, const uint8_t *device_sk, uint64_t wall_ms) {
    validate_or_ret(be && sig && space && person && device_sk, WEFT_EINVAL);
    const uint8_t *device = device_sk + 32;
    validate_or_ret(memcmp(device, space, 32) && memcmp(device, person, 32), WEFT_EINVAL);
    uint8_t body[2 + 96 + 10];
    size_t n = link_body(body, space, person, device, wall_ms);
    return be->sign(be->ctx, sig, body, n, device_sk);
}

int weft_link_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                   const uint8_t *space, const uint8_t *person_sk, const uint8_t *device,
                   uint64_t wall_ms, const uint8_t *device_sig) {
    validate_or_ret(be && len && space && person_sk && device && device_sig, WEFT_EINVAL);
    const uint8_t *person = person_sk + 32;
    validate_or_ret(memcmp(device, space, 32) && memcmp(device, person, 32), WEFT_EINVAL);
    size_t need = 2 + 96 + varint_len(wall_ms) + 2 * WEFT_SIGNBYTES;
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    size_t n = link_body(dst, space, person, device, wall_ms);
    if (be->verify(be->ctx, device_sig, dst, n, device)) return WEFT_ECRYPTO;
    memcpy(dst + n, device_sig, WEFT_SIGNBYTES);
    return finish(be, dst, dst + n + WEFT_SIGNBYTES, need, len, person_sk);
}

int weft_epoch_key_id(uint8_t *id, const uint8_t *key) {
    validate_or_ret(id && key, WEFT_EINVAL);
    static const char domain[] = "weft-key-id-v1";
    weft_blake2b_state s;
    int rc = weft_blake2b_init(&s, WEFT_EPOCH_KEYIDBYTES, NULL, 0);
    if (rc) return rc;
    weft_blake2b_update(&s, domain, sizeof domain - 1);
    weft_blake2b_update(&s, key, WEFT_AEAD_KEYBYTES);
    weft_blake2b_final(&s, id);
    return 0;
}

static int cmp_key(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

int weft_epoch_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                    const uint8_t *space, const uint8_t *issuer_sk, uint64_t epoch,
                    const uint8_t *new_key, const uint8_t *prev_key, const uint8_t *members,
                    size_t n, uint64_t wall_ms) {
    validate_or_ret(be && len && space && issuer_sk && new_key && prev_key && members, WEFT_EINVAL);
    validate_or_ret(epoch && n && n <= WEFT_EPOCH_MAX_MEMBERS, WEFT_EINVAL);
    size_t need = 2 + 64 + varint_len(epoch) + WEFT_EPOCH_KEYIDBYTES + varint_len(wall_ms) +
                  WEFT_EPOCH_PREVBYTES + varint_len(n) + n * WEFT_ENVELOPE_BYTES + WEFT_SIGNBYTES;
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t(*sorted)[32] = malloc(n * 32);
    if (!sorted) return WEFT_ENOMEM;
    memcpy(sorted, members, n * 32);
    qsort(sorted, n, 32, cmp_key);
    int rc = 0;
    for (size_t i = 1; i < n && !rc; i++)
        if (memcmp(sorted[i - 1], sorted[i], 32) == 0) rc = WEFT_EINVAL;
    uint8_t *p = header(dst, WEFT_RECORD_EPOCH, space, issuer_sk + 32);
    p += varint_put(p, epoch);
    if (!rc) rc = weft_epoch_key_id(p, new_key);
    p += WEFT_EPOCH_KEYIDBYTES;
    p += varint_put(p, wall_ms);
    /* The previous key under the new one, bound to the space: whoever holds
     * this epoch's key reads the history sealed before it. */
    if (!rc) rc = be->random(be->ctx, p, WEFT_AEAD_NPUBBYTES);
    if (!rc)
        rc = be->aead_encrypt(be->ctx, p + WEFT_AEAD_NPUBBYTES, prev_key, WEFT_AEAD_KEYBYTES, space,
                              32, p, new_key);
    p += WEFT_EPOCH_PREVBYTES;
    p += varint_put(p, n);
    for (size_t i = 0; i < n && !rc; i++) {
        memcpy(p, sorted[i], 32);
        rc = weft_box_seal_to(be, p + 32, new_key, WEFT_AEAD_KEYBYTES, sorted[i]);
        p += WEFT_ENVELOPE_BYTES;
    }
    free(sorted);
    if (rc) {
        weft__wipe(dst, need);
        return rc;
    }
    return finish(be, dst, p, need, len, issuer_sk);
}

int weft_epoch_open(const weft_crypto_backend *be, const uint8_t *rec, size_t len,
                    const uint8_t *member_sk, uint8_t *key) {
    validate_or_ret(be && member_sk && key && (rec || !len), WEFT_EINVAL);
    weft_member_record r;
    int rc = weft_member_record_decode(&r, rec, len);
    if (rc) return rc;
    if (r.kind != WEFT_RECORD_EPOCH) return WEFT_EINVAL;
    const uint8_t *env =
        bsearch(member_sk + 32, r.envelopes, r.n_envelopes, WEFT_ENVELOPE_BYTES, cmp_key);
    if (!env) return WEFT_EWRONGMEMBER;
    rc = weft_box_open_with(be, key, env + 32, WEFT_AEAD_KEYBYTES + WEFT_BOX_SEALBYTES, member_sk);
    uint8_t id[WEFT_EPOCH_KEYIDBYTES];
    if (!rc) rc = weft_epoch_key_id(id, key);
    /* An admin who sealed different keys to different members is caught
     * here: only the key the signed id commits to is accepted. */
    if (!rc && memcmp(id, r.key_id, sizeof id) != 0) rc = WEFT_EFORGED;
    if (rc) weft__wipe(key, WEFT_AEAD_KEYBYTES);
    return rc;
}

int weft_epoch_prev_key(const weft_crypto_backend *be, const uint8_t *rec, size_t len,
                        const uint8_t *key, uint8_t *prev) {
    validate_or_ret(be && key && prev && (rec || !len), WEFT_EINVAL);
    weft_member_record r;
    int rc = weft_member_record_decode(&r, rec, len);
    if (rc) return rc;
    if (r.kind != WEFT_RECORD_EPOCH) return WEFT_EINVAL;
    uint8_t id[WEFT_EPOCH_KEYIDBYTES];
    rc = weft_epoch_key_id(id, key);
    if (rc) return rc;
    if (memcmp(id, r.key_id, sizeof id) != 0) return WEFT_EFORGED;
    rc = be->aead_decrypt(be->ctx, prev, r.prev + WEFT_AEAD_NPUBBYTES,
                          WEFT_AEAD_KEYBYTES + WEFT_AEAD_ABYTES, r.space, 32, r.prev, key);
    if (rc) {
        weft__wipe(prev, WEFT_AEAD_KEYBYTES);
        return WEFT_ECRYPTO;
    }
    return 0;
}

/* ---- the fold ---- */

typedef struct mrec {
    uint8_t hash[32];
    uint8_t *bytes;
    size_t len;
    weft_member_record r; /* pointers into bytes */
    int status;
} mrec;

/* What the fold knows about one key. */
typedef struct kinfo {
    uint8_t key[32];
    int admin;            /* an owner-signed admin grant (non-invite) */
    uint64_t admin_until; /* the latest end of those, 0 = never */
    int owner_revoked;    /* removed by the owner */
    int revoked;          /* removed by anyone who may */
    uint64_t last_seq;    /* smallest last_seq of counting revocations */
    uint64_t out_epoch;   /* smallest epoch of counting revocations */
    int invite;           /* a counting invite grant names it */
    uint8_t inv_rights;   /* the highest rights of those */
    uint64_t inv_until;   /* the latest end of those, 0 = never */
    int claimed;          /* an invite claim of this key counts */
    int member;           /* a counting non-invite grant names it */
    uint8_t rights;       /* the highest rights of those */
    uint64_t until;       /* the latest end of those, 0 = never */
    int as_person;        /* the person of a link whose person may link */
    int as_device;        /* the device of such a link */
    int linked;           /* a counting link names it as a device */
    uint8_t person[32];   /* linked: whose device it is */
} kinfo;

struct weft_members {
    const weft_allocator *a;
    uint8_t space[32];
    mrec *recs; /* sorted by hash */
    size_t n, cap;
    kinfo *keys; /* sorted by key */
    size_t n_keys;
    uint32_t *grants; /* indices of counting non-invite grants, by member key */
    size_t n_grants;
    int have_epoch;
    size_t epoch_at; /* index of the current epoch record */
};

int weft_members_new(weft_members **out, const uint8_t *space, const weft_allocator *alloc) {
    validate_or_ret(out && space, WEFT_EINVAL);
    weft_members *m = weft__alloc(alloc, sizeof *m);
    if (!m) return WEFT_ENOMEM;
    memset(m, 0, sizeof *m);
    m->a = alloc;
    memcpy(m->space, space, 32);
    *out = m;
    return 0;
}

void weft_members_free(weft_members *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++)
        weft__free(m->a, m->recs[i].bytes);
    weft__free(m->a, m->recs);
    weft__free(m->a, m->keys);
    weft__free(m->a, m->grants);
    weft__free(m->a, m);
}

/* Later ends win; 0 (never) beats every end. */
static uint64_t later(uint64_t a, uint64_t b) {
    return (a == 0 || b == 0) ? 0 : (a > b ? a : b);
}

static kinfo *key_find(const weft_members *m, const uint8_t *key) {
    return m->keys ? bsearch(key, m->keys, m->n_keys, sizeof *m->keys, cmp_key) : NULL;
}

static int cmp_kinfo(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

/* Every key a record names, sorted and unique, with nothing known yet. */
static int collect_keys(weft_members *m) {
    weft__free(m->a, m->keys);
    m->keys = NULL;
    m->n_keys = 0;
    size_t cap = 2 * m->n + 1;
    kinfo *k = weft__alloc(m->a, cap * sizeof *k);
    if (!k) return WEFT_ENOMEM;
    memset(k, 0, cap * sizeof *k);
    size_t n = 0;
    memcpy(k[n++].key, m->space, 32);
    for (size_t i = 0; i < m->n; i++) {
        memcpy(k[n++].key, m->recs[i].r.issuer, 32);
        if (m->recs[i].r.kind != WEFT_RECORD_EPOCH) memcpy(k[n++].key, m->recs[i].r.member, 32);
    }
    qsort(k, n, sizeof *k, cmp_kinfo);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || memcmp(k[u - 1].key, k[i].key, 32)) k[u++] = k[i];
    m->keys = k;
    m->n_keys = u;
    return 0;
}

/* May `issuer` act as an admin at wall_ms? The owner always may; an admin
 * while one of its owner grants has not ended, and until the owner removes
 * it. */
static int authority(const weft_members *m, const uint8_t *issuer, uint64_t wall_ms) {
    if (memcmp(issuer, m->space, 32) == 0) return 0;
    const kinfo *k = key_find(m, issuer);
    if (!k || !k->admin) return WEFT_ENOTADMIN;
    if (k->owner_revoked) return WEFT_EREVOKED;
    if (k->admin_until && wall_ms / 1000 >= k->admin_until) return WEFT_EEXPIRED;
    return 0;
}

/* A grant by an admin may not outlive the admin's own grant. */
static int within(uint64_t until, uint64_t issuer_until) {
    if (!issuer_until) return 0;
    return (until == 0 || until > issuer_until) ? WEFT_EOUTLIVES : 0;
}

static void revoke_apply(kinfo *k, const weft_member_record *r) {
    if (!k->revoked || r->last_seq < k->last_seq) k->last_seq = r->last_seq;
    if (!k->revoked || r->epoch < k->out_epoch) k->out_epoch = r->epoch;
    k->revoked = 1;
}

static int is_owner(const weft_members *m, const uint8_t *key) {
    return memcmp(key, m->space, 32) == 0;
}

static int grant_member_cmp_ctx_keys(const weft_members *m, uint32_t a, uint32_t b) {
    int c = memcmp(m->recs[a].r.member, m->recs[b].r.member, 32);
    return c ? c : (a < b ? -1 : a > b);
}

static int fold(weft_members *m) {
    int rc = collect_keys(m);
    if (rc) return rc;
    m->have_epoch = 0;
    m->n_grants = 0;
    mrec *R = m->recs;
    for (size_t i = 0; i < m->n; i++)
        R[i].status = WEFT_ENOTADMIN;
    /* A: the owner's records. */
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (!is_owner(m, r->issuer) || r->kind == WEFT_RECORD_EPOCH || r->kind == WEFT_RECORD_LINK)
            continue;
        kinfo *k = key_find(m, r->member);
        assert(k);
        R[i].status = 0;
        if (r->kind == WEFT_RECORD_REVOKE) {
            k->owner_revoked = 1;
            revoke_apply(k, r);
        } else if (r->flags & WEFT_GRANT_INVITE) {
            k->inv_until = k->invite ? later(k->inv_until, r->until) : r->until;
            if (r->rights > k->inv_rights) k->inv_rights = r->rights;
            k->invite = 1;
        } else if (r->rights == WEFT_RIGHT_ADMIN) {
            k->admin_until = k->admin ? later(k->admin_until, r->until) : r->until;
            k->admin = 1;
        }
    }
    /* A2: claims of the owner's admin invites make admins too (an admin
     * who joined by link may invite and remove). They depend on owner
     * records only, so the admin set still comes from the owner alone. */
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (r->kind != WEFT_RECORD_GRANT || r->rights != WEFT_RIGHT_ADMIN ||
            (r->flags & WEFT_GRANT_INVITE) || is_owner(m, r->issuer))
            continue;
        kinfo *iss = key_find(m, r->issuer);
        if (iss->admin || !iss->invite || iss->inv_rights != WEFT_RIGHT_ADMIN) continue;
        int st = iss->owner_revoked ? WEFT_EREVOKED : 0;
        if (!st && iss->inv_until && r->wall_ms / 1000 >= iss->inv_until) st = WEFT_EEXPIRED;
        if (!st) st = within(r->until, iss->inv_until);
        if (!st && iss->claimed) st = WEFT_EREPLAY;
        R[i].status = st;
        if (st) continue;
        iss->claimed = 1;
        kinfo *k = key_find(m, r->member);
        k->admin_until = k->admin ? later(k->admin_until, r->until) : r->until;
        k->admin = 1;
    }
    /* C: admins' revocations. They stay when the admin is removed later:
     * a removal only ever takes access away. Admins do not remove admins. */
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (r->kind != WEFT_RECORD_REVOKE || is_owner(m, r->issuer)) continue;
        int st = authority(m, r->issuer, r->wall_ms);
        if (st == WEFT_EREVOKED) st = 0;
        kinfo *k = key_find(m, r->member);
        if (!st && k->admin && memcmp(r->member, r->issuer, 32) != 0) st = WEFT_ENOTADMIN;
        R[i].status = st;
        if (!st) revoke_apply(k, r);
    }
    /* B1: admins' invites. */
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (r->kind != WEFT_RECORD_GRANT || is_owner(m, r->issuer) ||
            !(r->flags & WEFT_GRANT_INVITE))
            continue;
        int st = authority(m, r->issuer, r->wall_ms);
        if (!st && r->rights == WEFT_RIGHT_ADMIN) st = WEFT_ENOTADMIN;
        if (!st) st = within(r->until, key_find(m, r->issuer)->admin_until);
        R[i].status = st;
        if (st) continue;
        kinfo *k = key_find(m, r->member);
        k->inv_until = k->invite ? later(k->inv_until, r->until) : r->until;
        if (r->rights > k->inv_rights) k->inv_rights = r->rights;
        k->invite = 1;
    }
    /* B2: admins' grants, and claims signed by invite keys. In hash order,
     * so the first counting claim of an invite is its smallest. */
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (r->kind != WEFT_RECORD_GRANT || is_owner(m, r->issuer) ||
            (r->flags & WEFT_GRANT_INVITE))
            continue;
        kinfo *iss = key_find(m, r->issuer);
        int st;
        if (!iss->admin && iss->invite && iss->inv_rights == WEFT_RIGHT_ADMIN &&
            r->rights == WEFT_RIGHT_ADMIN)
            continue; /* decided in A2 */
        if (!iss->admin && iss->invite) {
            if (iss->revoked)
                st = WEFT_EREVOKED;
            else if (r->rights > iss->inv_rights)
                st = WEFT_ENOTADMIN;
            else if (iss->inv_until && r->wall_ms / 1000 >= iss->inv_until)
                st = WEFT_EEXPIRED;
            else
                st = within(r->until, iss->inv_until);
            if (!st && iss->claimed) st = WEFT_EREPLAY;
            if (!st) iss->claimed = 1;
        } else {
            st = authority(m, r->issuer, r->wall_ms);
            if (!st && r->rights == WEFT_RIGHT_ADMIN) st = WEFT_ENOTADMIN;
            if (!st) st = within(r->until, iss->admin_until);
        }
        R[i].status = st;
    }
    /* M: members from the counting grants (an owner admin grant too). */
    uint32_t *g = weft__alloc(m->a, (m->n + 1) * sizeof *g);
    if (!g) return WEFT_ENOMEM;
    size_t ng = 0;
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (r->kind != WEFT_RECORD_GRANT || R[i].status || (r->flags & WEFT_GRANT_INVITE)) continue;
        kinfo *k = key_find(m, r->member);
        k->until = k->member ? later(k->until, r->until) : r->until;
        if (r->rights > k->rights) k->rights = r->rights;
        k->member = 1;
        g[ng++] = (uint32_t)i;
    }
    /* Index the counting grants by member key (insertion sort: grants per
     * fold are few, and this keeps the order total without a context). */
    for (size_t i = 1; i < ng; i++) {
        uint32_t v = g[i];
        size_t j = i;
        while (j && grant_member_cmp_ctx_keys(m, g[j - 1], v) > 0) {
            g[j] = g[j - 1];
            j--;
        }
        g[j] = v;
    }
    weft__free(m->a, m->grants);
    m->grants = g;
    m->n_grants = ng;
    /* D: epochs. Each envelope must go to a member not removed before this
     * epoch (the owner always qualifies). */
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (r->kind != WEFT_RECORD_EPOCH) continue;
        int st = authority(m, r->issuer, r->wall_ms);
        for (size_t e = 0; e < r->n_envelopes && !st; e++) {
            const uint8_t *who = r->envelopes + e * WEFT_ENVELOPE_BYTES;
            if (is_owner(m, who)) continue;
            const kinfo *k = key_find(m, who);
            if (!k || !k->member || (k->revoked && k->out_epoch <= r->epoch))
                st = WEFT_EWRONGMEMBER;
        }
        R[i].status = st;
        if (!st && (!m->have_epoch || r->epoch > R[m->epoch_at].r.epoch)) {
            m->have_epoch = 1;
            m->epoch_at = i;
        }
    }
    /* L: links (they need the members). Decided from the set alone: first
     * who may link (a person that is the owner or a member, not removed),
     * then one level deep among those candidates (no device is a person,
     * no person a device: both links fail), then one person per device in
     * hash order (the smallest counts). */
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (r->kind != WEFT_RECORD_LINK) continue;
        kinfo *p = key_find(m, r->issuer);
        int st = p->revoked                                ? WEFT_EREVOKED
                 : (!is_owner(m, r->issuer) && !p->member) ? WEFT_ENOTADMIN
                                                           : 0;
        R[i].status = st;
        if (st) continue;
        p->as_person = 1;
        key_find(m, r->member)->as_device = 1;
    }
    for (size_t i = 0; i < m->n; i++) {
        const weft_member_record *r = &R[i].r;
        if (r->kind != WEFT_RECORD_LINK || R[i].status) continue;
        kinfo *p = key_find(m, r->issuer), *d = key_find(m, r->member);
        if (p->as_device || d->as_person) {
            R[i].status = WEFT_ENOTADMIN;
        } else if (d->linked) {
            R[i].status = WEFT_EREPLAY;
        } else {
            d->linked = 1;
            memcpy(d->person, r->issuer, 32);
        }
    }
    return 0;
}

static int cmp_hash(const void *key, const void *elem) {
    return memcmp(key, ((const mrec *)elem)->hash, 32);
}

/* Where a record with this hash is or would go. */
static size_t rec_pos(const weft_members *m, const uint8_t *hash, int *found) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(m->recs[mid].hash, hash, 32);
        if (!c) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static void rec_remove(weft_members *m, size_t at) {
    weft__free(m->a, m->recs[at].bytes);
    memmove(m->recs + at, m->recs + at + 1, (m->n - at - 1) * sizeof *m->recs);
    m->n--;
}

/* Inserts a verified record. OUT: *at (its index), *fresh (0 if held). */
static int rec_insert(weft_members *m, const weft_crypto_backend *be, const uint8_t *rec,
                      size_t len, size_t *at, int *fresh) {
    weft_member_record r;
    int rc = weft_member_record_verify(be, rec, len, m->space, &r);
    if (rc) return rc;
    uint8_t hash[32];
    weft_blake2b(hash, 32, rec, len);
    int found;
    size_t pos = rec_pos(m, hash, &found);
    *at = pos;
    *fresh = !found;
    if (found) return 0;
    if (m->n >= WEFT_MEMBERS_MAX_RECORDS) return WEFT_ETOOBIG;
    if (weft__grow(m->a, (void **)&m->recs, &m->cap, m->n + 1, sizeof *m->recs)) return WEFT_ENOMEM;
    uint8_t *copy = weft__alloc(m->a, len);
    if (!copy) return WEFT_ENOMEM;
    memcpy(copy, rec, len);
    rc = weft_member_record_decode(&r, copy, len);
    assert(!rc);
    memmove(m->recs + pos + 1, m->recs + pos, (m->n - pos) * sizeof *m->recs);
    m->recs[pos] = (mrec){.bytes = copy, .len = len, .r = r, .status = WEFT_ENOTADMIN};
    memcpy(m->recs[pos].hash, hash, 32);
    m->n++;
    return 0;
}

int weft_members_add(weft_members *m, const weft_crypto_backend *be, const uint8_t *rec, size_t len,
                     int *status) {
    validate_or_ret(m && be && (rec || !len), WEFT_EINVAL);
    size_t at;
    int fresh;
    int rc = rec_insert(m, be, rec, len, &at, &fresh);
    if (rc) return rc;
    if (fresh && (rc = fold(m))) {
        rec_remove(m, at);
        int rc2 = fold(m);
        (void)rc2; /* the fold before this add succeeded with these records */
        return rc;
    }
    if (status) *status = m->recs[at].status;
    return 0;
}

int weft_members_admit(weft_members *m, const weft_crypto_backend *be, const uint8_t *rec,
                       size_t len) {
    validate_or_ret(m && be && (rec || !len), WEFT_EINVAL);
    int *before = weft__alloc(m->a, (m->n + 1) * sizeof *before);
    if (!before) return WEFT_ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        before[i] = m->recs[i].status;
    size_t at;
    int fresh;
    int rc = rec_insert(m, be, rec, len, &at, &fresh);
    if (!rc && !fresh) rc = m->recs[at].status;
    if (rc || !fresh) {
        weft__free(m->a, before);
        return rc;
    }
    rc = fold(m);
    int st = rc ? rc : m->recs[at].status;
    /* A later claim with a smaller hash would unseat a counted one: the
     * relay keeps the first it saw, so that nobody's access flips. */
    for (size_t i = 0; i < m->n && !st; i++) {
        size_t old = i < at ? i : i - 1;
        if (i != at && before[old] == 0 && m->recs[i].status == WEFT_EREPLAY) st = WEFT_EREPLAY;
        /* Nor may a new link turn a counted link's person into a device. */
        if (i != at && before[old] == 0 && m->recs[i].status == WEFT_ENOTADMIN &&
            m->recs[i].r.kind == WEFT_RECORD_LINK && m->recs[at].r.kind == WEFT_RECORD_LINK)
            st = WEFT_ENOTADMIN;
    }
    weft__free(m->a, before);
    if (st) {
        rec_remove(m, at);
        rc = fold(m);
        return rc ? rc : st;
    }
    return 0;
}

int weft_members_status(const weft_members *m, const uint8_t *hash) {
    validate_or_ret(m && hash, WEFT_EINVAL);
    const mrec *r = m->n ? bsearch(hash, m->recs, m->n, sizeof *m->recs, cmp_hash) : NULL;
    return r ? r->status : WEFT_ENOTFOUND;
}

int weft_members_rights(const weft_members *m, const uint8_t *key, uint64_t now, uint8_t *rights,
                        uint64_t *until) {
    validate_or_ret(m && key && rights, WEFT_EINVAL);
    *rights = 0;
    if (until) *until = 0;
    if (is_owner(m, key)) {
        *rights = WEFT_RIGHT_ADMIN;
        return 0;
    }
    const kinfo *k = key_find(m, key);
    if (k && k->revoked) return WEFT_EREVOKED;
    if (!k || !k->member) return 0;
    /* The counting grants to this key, found by binary search. */
    size_t lo = 0, hi = m->n_grants;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(m->recs[m->grants[mid]].r.member, key, 32) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int any = 0;
    uint64_t end = 0;
    for (size_t i = lo; i < m->n_grants; i++) {
        const weft_member_record *r = &m->recs[m->grants[i]].r;
        if (memcmp(r->member, key, 32) != 0) break;
        if (r->until && now >= r->until) continue;
        end = any ? later(end, r->until) : r->until;
        any = 1;
        if (r->rights > *rights) *rights = r->rights;
    }
    if (!any) return WEFT_EEXPIRED;
    if (until) *until = end;
    return 0;
}

int weft_members_invite_open(const weft_members *m, const uint8_t *key, uint64_t now) {
    validate_or_ret(m && key, WEFT_EINVAL);
    const kinfo *k = key_find(m, key);
    if (!k || !k->invite) return WEFT_ENOTFOUND;
    if (k->revoked) return WEFT_EREVOKED;
    if (k->claimed) return WEFT_EREPLAY;
    if (k->inv_until && now >= k->inv_until) return WEFT_EEXPIRED;
    return 0;
}

int weft_members_change_counts(const weft_members *m, const uint8_t *author, uint64_t seq) {
    validate_or_ret(m && author, WEFT_EINVAL);
    const kinfo *k = key_find(m, author);
    return (k && k->revoked && seq > k->last_seq) ? WEFT_EREVOKED : 0;
}

int weft_members_epoch(const weft_members *m, uint64_t *epoch, uint8_t *key_id, uint8_t *hash) {
    validate_or_ret(m && epoch, WEFT_EINVAL);
    *epoch = 0;
    if (!m->have_epoch) return 0;
    const mrec *r = &m->recs[m->epoch_at];
    *epoch = r->r.epoch;
    if (key_id) memcpy(key_id, r->r.key_id, WEFT_EPOCH_KEYIDBYTES);
    if (hash) memcpy(hash, r->hash, 32);
    return 0;
}

static int listed(const weft_members *m, const kinfo *k) {
    return is_owner(m, k->key) || k->member || k->revoked || k->linked;
}

int weft_members_person(const weft_members *m, const uint8_t *device, uint8_t *person) {
    validate_or_ret(m && device && person, WEFT_EINVAL);
    const kinfo *k = key_find(m, device);
    if (!k || !k->linked) return WEFT_ENOTFOUND;
    memcpy(person, k->person, 32);
    return 0;
}

size_t weft_members_count(const weft_members *m) {
    size_t n = 0;
    if (!m) return 0;
    if (!m->keys) return 1; /* the owner, before any record */
    for (size_t i = 0; i < m->n_keys; i++)
        n += listed(m, &m->keys[i]) && !(m->keys[i].invite && !m->keys[i].member);
    return n;
}

int weft_members_get(const weft_members *m, size_t i, weft_member *out) {
    validate_or_ret(m && out, WEFT_EINVAL);
    memset(out, 0, sizeof *out);
    if (!m->keys) {
        if (i) return WEFT_ENOTFOUND;
        memcpy(out->key, m->space, 32);
        out->rights = WEFT_RIGHT_ADMIN;
        out->admin = 1;
        return 0;
    }
    for (size_t j = 0; j < m->n_keys; j++) {
        const kinfo *k = &m->keys[j];
        if (!listed(m, k) || (k->invite && !k->member)) continue;
        if (i--) continue;
        memcpy(out->key, k->key, 32);
        int owner = is_owner(m, k->key);
        out->rights = owner ? WEFT_RIGHT_ADMIN : k->rights;
        out->until = owner ? 0 : k->until;
        out->admin = owner || (k->admin && !k->owner_revoked);
        out->revoked = k->revoked;
        out->last_seq = k->last_seq;
        out->out_epoch = k->out_epoch;
        out->linked = k->linked;
        if (k->linked) memcpy(out->person, k->person, 32);
        return 0;
    }
    return WEFT_ENOTFOUND;
}

size_t weft_members_records(const weft_members *m) {
    return m ? m->n : 0;
}

int weft_members_record(const weft_members *m, size_t i, const uint8_t **rec, size_t *len,
                        int *status) {
    validate_or_ret(m && rec && len, WEFT_EINVAL);
    if (i >= m->n) return WEFT_ENOTFOUND;
    *rec = m->recs[i].bytes;
    *len = m->recs[i].len;
    if (status) *status = m->recs[i].status;
    return 0;
}

static void put_u64(weft_blake2b_state *s, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    weft_blake2b_update(s, b, 8);
}

int weft_members_digest(const weft_members *m, uint8_t *digest) {
    validate_or_ret(m && digest, WEFT_EINVAL);
    static const char domain[] = "weft-members-v1";
    weft_blake2b_state s;
    int rc = weft_blake2b_init(&s, 32, NULL, 0);
    if (rc) return rc;
    weft_blake2b_update(&s, domain, sizeof domain - 1);
    put_u64(&s, m->n);
    for (size_t i = 0; i < m->n; i++) {
        weft_blake2b_update(&s, m->recs[i].hash, 32);
        put_u64(&s, (uint64_t)(int64_t)m->recs[i].status);
    }
    size_t n = weft_members_count(m);
    put_u64(&s, n);
    for (size_t i = 0; i < n; i++) {
        weft_member w;
        rc = weft_members_get(m, i, &w);
        assert(!rc);
        weft_blake2b_update(&s, w.key, 32);
        uint8_t flags[3] = {w.rights, (uint8_t)w.admin, (uint8_t)w.revoked};
        weft_blake2b_update(&s, flags, 3);
        put_u64(&s, w.until);
        put_u64(&s, w.last_seq);
        put_u64(&s, w.out_epoch);
    }
    uint64_t epoch;
    uint8_t hash[32] = {0};
    weft_members_epoch(m, &epoch, NULL, hash);
    put_u64(&s, epoch);
    weft_blake2b_update(&s, hash, 32);
    weft_blake2b_final(&s, digest);
    return 0;
}
