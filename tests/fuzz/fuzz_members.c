/*
 * fuzz_members: membership records and their fold (weft/members.h).
 *
 * The input is a list of records, each behind a 2-byte little-endian
 * length. Every record goes to:
 *
 * - weft_member_record_decode and _verify (libsodium, the fixed owner's
 *   space): verify decodes first, so both refuse alike; an accepted record
 *   decodes to fields the layout allows, and its prefix form reads the same
 *   length;
 * - two folds over a backend whose signatures always verify, so that any
 *   structure reaches the rules: one adds the records first to last, the
 *   other last to first, and both must reach the same digest (the fold is
 *   a function of the set); a third admits them as a relay does, and a
 *   refusal must leave its digest unchanged;
 * - a device link (kind 9) keeps its device's signature just before the
 *   person's;
 * - weft_epoch_open with the member key: it never reports success for a
 *   key that the record's id does not commit to;
 * - weft_ticket_decode (claim tickets, kind 8): an accepted ticket has
 *   rights 1..3, fits WEFT_TICKET_MAX_BYTES and, claimed, gives a grant
 *   that decodes with the ticket's rights and end.
 */
#include "fuzz_common.h"
#include "weft/members.h"
#include "weft/sodium.h"

static weft_crypto_backend be, trusting;
static uint8_t space[32], member_sk[64];
static int ready;

static int always(void *ctx, const uint8_t *sig, const uint8_t *msg, size_t len,
                  const uint8_t *pk) {
    (void)ctx, (void)sig, (void)msg, (void)len, (void)pk;
    return 0;
}

static void setup(void) {
    if (ready) return;
    uint8_t seed[32], sk[64], pk[32];
    FUZZ_ASSERT(weft_sodium_backend(&be) == 0);
    fuzz_key(seed, FUZZ_SEED_OWNER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, space, sk, seed) == 0);
    fuzz_key(seed, FUZZ_SEED_MEMBER);
    FUZZ_ASSERT(be.sign_seed_keypair(be.ctx, pk, member_sk, seed) == 0);
    trusting = be;
    trusting.verify = always;
    ready = 1;
}

static void one_ticket(const uint8_t *p, size_t len) {
    uint8_t seed[32], rights, rec[WEFT_GRANT_MAX_BYTES], member[32] = {7};
    uint64_t until;
    size_t rl;
    int rc = weft_ticket_decode(p, len, seed, &rights, &until);
    if (rc) {
        FUZZ_ASSERT(rc < 0);
        FUZZ_ASSERT(weft_invite_claim(&be, rec, sizeof rec, &rl, space, p, len, member, 1, NULL) ==
                    rc);
        return;
    }
    FUZZ_ASSERT(len <= WEFT_TICKET_MAX_BYTES && rights >= 1 && rights <= 3);
    weft_member_record d;
    FUZZ_ASSERT(weft_invite_claim(&be, rec, sizeof rec, &rl, space, p, len, member, 1, NULL) == 0);
    FUZZ_ASSERT(weft_member_record_verify(&be, rec, rl, space, &d) == 0);
    FUZZ_ASSERT(d.rights == rights && d.until == until && !d.flags);
}

/* The same bytes as a grant chain (weft_grant_chain_verify), for the key
 * the last record names and with signatures trusted, so that the chain's
 * own rules are reached: rights 1..3 or a negative error, never a crash. */
static void one_chain(const uint8_t *p, size_t len) {
    uint8_t rights = 0, key[32] = {0};
    weft_member_record r;
    size_t off = 0, used;
    while (off < len && weft_member_record_decode_prefix(&r, p + off, len - off, &used) == 0) {
        memcpy(key, r.member, 32);
        off += used;
    }
    int rc = weft_grant_chain_verify(&trusting, p, len, space, key, FUZZ_AUTH_NOW, &rights);
    FUZZ_ASSERT(rc <= 0);
    if (!rc) FUZZ_ASSERT(rights >= 1 && rights <= 3 && len <= WEFT_GRANT_CHAIN_MAX_BYTES);
}

static void one_record(const uint8_t *p, size_t len) {
    one_ticket(p, len);
    one_chain(p, len);
    weft_member_record d, v;
    int rc = weft_member_record_decode(&d, p, len);
    int rv = weft_member_record_verify(&be, p, len, space, &v);
    if (rc) {
        FUZZ_ASSERT(rc < 0 && rv == rc);
        return;
    }
    FUZZ_ASSERT((d.kind >= WEFT_RECORD_GRANT && d.kind <= WEFT_RECORD_EPOCH) ||
                d.kind == WEFT_RECORD_LINK);
    FUZZ_ASSERT(memcmp(d.member, d.space, 32) != 0 || d.kind == WEFT_RECORD_EPOCH);
    if (d.kind == WEFT_RECORD_GRANT) {
        FUZZ_ASSERT(len <= WEFT_GRANT_MAX_BYTES);
        FUZZ_ASSERT(d.rights >= 1 && d.rights <= 3 && !(d.flags & ~WEFT_GRANT_INVITE));
    } else if (d.kind == WEFT_RECORD_REVOKE) {
        FUZZ_ASSERT(len <= WEFT_REVOKE_MAX_BYTES && d.epoch >= 1);
    } else if (d.kind == WEFT_RECORD_LINK) {
        FUZZ_ASSERT(len <= WEFT_LINK_MAX_BYTES && memcmp(d.member, d.issuer, 32) != 0);
        FUZZ_ASSERT(d.device_sig == p + len - 128);
    } else {
        FUZZ_ASSERT(d.epoch >= 1 && d.n_envelopes >= 1 && d.n_envelopes <= WEFT_EPOCH_MAX_MEMBERS);
        FUZZ_ASSERT(len <= WEFT_EPOCH_BYTES_BOUND(d.n_envelopes));
        uint8_t key[32], id[WEFT_EPOCH_KEYIDBYTES];
        if (weft_epoch_open(&be, p, len, member_sk, key) == 0) {
            FUZZ_ASSERT(weft_epoch_key_id(id, key) == 0);
            FUZZ_ASSERT(memcmp(id, d.key_id, sizeof id) == 0);
        }
    }
    size_t used;
    FUZZ_ASSERT(weft_member_record_decode_prefix(&d, p, len, &used) == 0 && used == len);
    if (rv == 0) FUZZ_ASSERT(memcmp(v.space, space, 32) == 0 && v.kind == d.kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    const uint8_t *recs[64];
    size_t lens[64], n = 0;
    while (size >= 2 && n < 64) {
        size_t len = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (len > size) len = size;
        recs[n] = data;
        lens[n++] = len;
        data += len;
        size -= len;
    }
    weft_members *fwd, *back, *relay;
    FUZZ_ASSERT(weft_members_new(&fwd, space, NULL) == 0);
    FUZZ_ASSERT(weft_members_new(&back, space, NULL) == 0);
    FUZZ_ASSERT(weft_members_new(&relay, space, NULL) == 0);
    for (size_t i = 0; i < n; i++) {
        one_record(recs[i], lens[i]);
        int st;
        int rc = weft_members_add(fwd, &trusting, recs[i], lens[i], &st);
        FUZZ_ASSERT(rc <= 0);
        rc = weft_members_add(back, &trusting, recs[n - 1 - i], lens[n - 1 - i], NULL);
        FUZZ_ASSERT(rc <= 0);
        uint8_t before[32], after[32];
        FUZZ_ASSERT(weft_members_digest(relay, before) == 0);
        size_t held = weft_members_records(relay);
        rc = weft_members_admit(relay, &trusting, recs[i], lens[i]);
        FUZZ_ASSERT(weft_members_digest(relay, after) == 0);
        if (rc) FUZZ_ASSERT(weft_members_records(relay) == held && !memcmp(before, after, 32));
    }
    uint8_t a[32], b[32];
    FUZZ_ASSERT(weft_members_digest(fwd, a) == 0 && weft_members_digest(back, b) == 0);
    FUZZ_ASSERT(memcmp(a, b, 32) == 0);
    /* Every listed member answers, and a removed one has no rights. */
    for (size_t i = 0; i < weft_members_count(fwd); i++) {
        weft_member m;
        FUZZ_ASSERT(weft_members_get(fwd, i, &m) == 0);
        uint8_t r;
        int rc = weft_members_rights(fwd, m.key, FUZZ_AUTH_NOW, &r, NULL);
        if (m.revoked) FUZZ_ASSERT(rc == WEFT_EREVOKED && r == 0);
    }
    weft_members_free(fwd);
    weft_members_free(back);
    weft_members_free(relay);
    return 0;
}
