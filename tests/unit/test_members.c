/*
 * Membership records and their fold (weft/members.h): layouts and
 * rejections of the decoder, then one test per rule of the fold, each
 * with the error code a replica and a relay give.
 */
#include "check.h"
#include "weft/sodium.h"

static weft_crypto_backend BE;
static uint8_t owner_pk[32], owner_sk[64];

#define T0    1700000000ull /* Unix seconds */
#define MS(s) ((s)*1000ull)

typedef struct rec {
    uint8_t b[WEFT_EPOCH_BYTES_BOUND(8)];
    size_t len;
} rec;

typedef struct who {
    uint8_t pk[32], sk[64];
} who;

static who person(void) {
    who w;
    if (weft_keypair_generate(&BE, w.pk, w.sk)) abort();
    return w;
}

static rec grant(const uint8_t *issuer_sk, const uint8_t *member, uint8_t rights, uint8_t flags,
                 uint64_t until, uint64_t wall_ms) {
    rec r;
    CHECK_OK(weft_grant_sign(&BE, r.b, sizeof r.b, &r.len, owner_pk, issuer_sk, member, rights,
                             flags, until, wall_ms));
    return r;
}

static rec revoke(const uint8_t *issuer_sk, const uint8_t *member, uint64_t last_seq,
                  uint64_t epoch) {
    rec r;
    CHECK_OK(weft_revoke_sign(&BE, r.b, sizeof r.b, &r.len, owner_pk, issuer_sk, member, last_seq,
                              epoch, MS(T0)));
    return r;
}

static rec epoch(const uint8_t *issuer_sk, uint64_t n, const uint8_t *key, const uint8_t *prev,
                 const uint8_t *members, size_t count) {
    rec r;
    CHECK_OK(weft_epoch_sign(&BE, r.b, sizeof r.b, &r.len, owner_pk, issuer_sk, n, key, prev,
                             members, count, MS(T0)));
    return r;
}

/* Adds a record and returns its status in the fold. */
static int add(weft_members *m, const rec *r) {
    int st = 12345;
    CHECK_OK(weft_members_add(m, &BE, r->b, r->len, &st));
    return st;
}

static weft_members *fresh(void) {
    weft_members *m;
    CHECK_OK(weft_members_new(&m, owner_pk, NULL));
    return m;
}

static uint8_t rights_now(weft_members *m, const uint8_t *key, uint64_t now, int want_rc) {
    uint8_t r = 99;
    CHECK_RC(weft_members_rights(m, key, now, &r, NULL), want_rc);
    return r;
}

static void layouts_and_decoder(void) {
    who a = person();
    rec g = grant(owner_sk, a.pk, WEFT_RIGHT_WRITE, 0, T0 + 10, MS(T0));
    CHECK(g.len <= WEFT_GRANT_MAX_BYTES && g.len <= weft_grant_max_bytes());
    CHECK(g.b[0] == 1 && g.b[1] == WEFT_RECORD_GRANT && g.b[98] == WEFT_RIGHT_WRITE &&
          g.b[99] == 0);
    weft_member_record r;
    CHECK_OK(weft_member_record_verify(&BE, g.b, g.len, owner_pk, &r));
    CHECK(r.kind == WEFT_RECORD_GRANT && r.until == T0 + 10 && r.wall_ms == MS(T0) &&
          !memcmp(r.member, a.pk, 32) && !memcmp(r.issuer, owner_pk, 32));
    /* Every flipped byte and every truncation is refused. */
    for (size_t i = 0; i < g.len; i++) {
        g.b[i] ^= 1;
        CHECK(weft_member_record_verify(&BE, g.b, g.len, owner_pk, &r) < 0);
        g.b[i] ^= 1;
    }
    for (size_t i = 0; i < g.len; i++)
        CHECK(weft_member_record_verify(&BE, g.b, i, owner_pk, &r) < 0);
    CHECK_RC(weft_member_record_decode(&r, g.b, g.len + 1), WEFT_EMALFORMED);
    size_t used;
    CHECK_OK(weft_member_record_decode_prefix(&r, g.b, g.len + 1, &used));
    CHECK(used == g.len);
    CHECK_RC(weft_member_record_verify(&BE, g.b, g.len, a.pk, &r), WEFT_ESPACE);
    g.b[1] = WEFT_RECORD_LEVEL;
    CHECK_RC(weft_member_record_decode(&r, g.b, g.len), WEFT_EMALFORMED);
    g.b[1] = WEFT_RECORD_GRANT;
    g.b[0] = 2;
    CHECK_RC(weft_member_record_decode(&r, g.b, g.len), WEFT_EVERSION);
    /* What the signers refuse to write. */
    uint8_t buf[WEFT_GRANT_MAX_BYTES];
    size_t len;
    CHECK_RC(weft_grant_sign(&BE, buf, sizeof buf, &len, owner_pk, owner_sk, owner_pk, 1, 0, 0, 0),
             WEFT_EINVAL);
    CHECK_RC(weft_grant_sign(&BE, buf, sizeof buf, &len, owner_pk, a.sk, a.pk, 1, 0, 0, 0),
             WEFT_EINVAL);
    CHECK_RC(weft_grant_sign(&BE, buf, sizeof buf, &len, owner_pk, owner_sk, a.pk, 4, 0, 0, 0),
             WEFT_EINVAL);
    CHECK_RC(weft_grant_sign(&BE, buf, sizeof buf, &len, owner_pk, owner_sk, a.pk, 1, 2, 0, 0),
             WEFT_EINVAL);
    CHECK_RC(weft_grant_sign(&BE, buf, 10, &len, owner_pk, owner_sk, a.pk, 1, 0, 0, 0),
             WEFT_ENOSPACE);
    CHECK_RC(weft_revoke_sign(&BE, buf, sizeof buf, &len, owner_pk, owner_sk, a.pk, 0, 0, 0),
             WEFT_EINVAL);
    uint8_t key[32] = {1}, prev[32] = {2}, dup[64];
    memcpy(dup, a.pk, 32);
    memcpy(dup + 32, a.pk, 32);
    rec e;
    CHECK_RC(
        weft_epoch_sign(&BE, e.b, sizeof e.b, &e.len, owner_pk, owner_sk, 1, key, prev, dup, 2, 0),
        WEFT_EINVAL);
    CHECK_RC(
        weft_epoch_sign(&BE, e.b, sizeof e.b, &e.len, owner_pk, owner_sk, 0, key, prev, dup, 1, 0),
        WEFT_EINVAL);
    /* Envelopes are sorted by key, whatever order the caller gave. */
    who b = person(), c = person();
    uint8_t three[96];
    memcpy(three, c.pk, 32);
    memcpy(three + 32, a.pk, 32);
    memcpy(three + 64, b.pk, 32);
    e = epoch(owner_sk, 3, key, prev, three, 3);
    CHECK_OK(weft_member_record_verify(&BE, e.b, e.len, owner_pk, &r));
    CHECK(r.n_envelopes == 3 && r.epoch == 3);
    for (size_t i = 1; i < 3; i++)
        CHECK(memcmp(r.envelopes + (i - 1) * WEFT_ENVELOPE_BYTES,
                     r.envelopes + i * WEFT_ENVELOPE_BYTES, 32) < 0);
    uint8_t got[32], id[16];
    CHECK_OK(weft_epoch_open(&BE, e.b, e.len, b.sk, got));
    CHECK(memcmp(got, key, 32) == 0);
    CHECK_OK(weft_epoch_key_id(id, key));
    CHECK(memcmp(id, r.key_id, 16) == 0);
    CHECK_OK(weft_epoch_prev_key(&BE, e.b, e.len, got, got));
    CHECK(memcmp(got, prev, 32) == 0);
    CHECK_RC(weft_epoch_open(&BE, e.b, e.len, owner_sk, got), WEFT_EWRONGMEMBER);
    CHECK_RC(weft_epoch_prev_key(&BE, e.b, e.len, prev, got), WEFT_EFORGED);
    /* Swapping two envelopes' keys breaks the order: refused. */
    uint8_t *env = e.b + (size_t)(r.envelopes - e.b);
    uint8_t tmp[32];
    memcpy(tmp, env, 32);
    memcpy(env, env + WEFT_ENVELOPE_BYTES, 32);
    memcpy(env + WEFT_ENVELOPE_BYTES, tmp, 32);
    CHECK_RC(weft_member_record_decode(&r, e.b, e.len), WEFT_EMALFORMED);
}

/* An admin that seals a different key to one member is caught by the key
 * id: a forged rotation. */
static void forged_rotation(void) {
    who a = person(), b = person();
    uint8_t key[32] = {7}, other[32] = {8}, prev[32] = {9}, got[32];
    rec honest = epoch(owner_sk, 1, key, prev, a.pk, 1);
    rec liar = epoch(owner_sk, 1, other, prev, b.pk, 1);
    weft_member_record hr, lr;
    CHECK_OK(weft_member_record_decode(&hr, honest.b, honest.len));
    CHECK_OK(weft_member_record_decode(&lr, liar.b, liar.len));
    /* Splice b's envelope (sealing `other`) under the honest key id. */
    memcpy(honest.b + (size_t)(hr.envelopes - honest.b), lr.envelopes, WEFT_ENVELOPE_BYTES);
    CHECK_RC(weft_epoch_open(&BE, honest.b, honest.len, b.sk, got), WEFT_EFORGED);
    /* Its signature no longer verifies either: a relay refuses it. */
    weft_member_record r;
    CHECK_RC(weft_member_record_verify(&BE, honest.b, honest.len, owner_pk, &r), WEFT_ECRYPTO);
}

static void owner_grants_and_time(void) {
    weft_members *m = fresh();
    who a = person(), b = person();
    CHECK(weft_members_count(m) == 1);
    CHECK(rights_now(m, owner_pk, T0, 0) == WEFT_RIGHT_ADMIN);
    CHECK(rights_now(m, a.pk, T0, 0) == 0);
    /* Bytes that are no record are refused and nothing is kept. */
    uint8_t junk[3] = {1, 5, 0};
    CHECK_RC(weft_members_add(m, &BE, junk, sizeof junk, NULL), WEFT_ETRUNCATED);
    CHECK(weft_members_records(m) == 0);
    rec ga = grant(owner_sk, a.pk, WEFT_RIGHT_WRITE, 0, T0 + 100, MS(T0));
    rec gr = grant(owner_sk, a.pk, WEFT_RIGHT_READ, 0, 0, MS(T0));
    CHECK(add(m, &ga) == 0);
    CHECK(rights_now(m, a.pk, T0 + 99, 0) == WEFT_RIGHT_WRITE);
    CHECK(rights_now(m, a.pk, T0 + 100, WEFT_EEXPIRED) == 0);
    /* Renewal is one more grant: the read grant never ends. */
    CHECK(add(m, &gr) == 0);
    CHECK(rights_now(m, a.pk, T0 + 100, 0) == WEFT_RIGHT_READ);
    CHECK(rights_now(m, a.pk, T0 + 1, 0) == WEFT_RIGHT_WRITE);
    /* Adding the same record twice changes nothing. */
    uint8_t d1[32], d2[32];
    CHECK_OK(weft_members_digest(m, d1));
    CHECK(add(m, &ga) == 0);
    CHECK_OK(weft_members_digest(m, d2));
    CHECK(memcmp(d1, d2, 32) == 0 && weft_members_records(m) == 2);
    /* A grant signed by a non-member counts for nothing. */
    rec gb = grant(b.sk, a.pk, WEFT_RIGHT_ADMIN, 0, 0, MS(T0));
    CHECK(add(m, &gb) == WEFT_ENOTADMIN);
    CHECK_RC(weft_members_admit(m, &BE, gb.b, gb.len), WEFT_ENOTADMIN);
    weft_member w;
    CHECK(weft_members_count(m) == 2);
    CHECK_OK(weft_members_get(m, 0, &w));
    CHECK_RC(weft_members_get(m, 2, &w), WEFT_ENOTFOUND);
    weft_members_free(m);
    weft_members_free(NULL);
}

static void admins_and_outliving(void) {
    weft_members *m = fresh();
    who ad = person(), a = person(), b = person();
    rec gad = grant(owner_sk, ad.pk, WEFT_RIGHT_ADMIN, 0, T0 + 1000, MS(T0));
    /* Before the admin's grant arrives its grant does not count; after, it
     * does: the fold depends on the set, not on the order. */
    rec g1 = grant(ad.sk, a.pk, WEFT_RIGHT_WRITE, 0, T0 + 500, MS(T0));
    CHECK(add(m, &g1) == WEFT_ENOTADMIN);
    CHECK(add(m, &gad) == 0);
    uint8_t h[32];
    weft_blake2b(h, 32, g1.b, g1.len);
    CHECK(weft_members_status(m, h) == 0);
    CHECK(rights_now(m, a.pk, T0, 0) == WEFT_RIGHT_WRITE);
    /* A grant that outlives its issuer's: refused, with its own code. */
    rec g2 = grant(ad.sk, b.pk, WEFT_RIGHT_WRITE, 0, T0 + 2000, MS(T0));
    CHECK_RC(weft_members_admit(m, &BE, g2.b, g2.len), WEFT_EOUTLIVES);
    rec g3 = grant(ad.sk, b.pk, WEFT_RIGHT_WRITE, 0, 0, MS(T0));
    CHECK_RC(weft_members_admit(m, &BE, g3.b, g3.len), WEFT_EOUTLIVES);
    /* Signed after the admin's grant ended. */
    rec g4 = grant(ad.sk, b.pk, WEFT_RIGHT_READ, 0, T0 + 1000, MS(T0 + 1000));
    CHECK_RC(weft_members_admit(m, &BE, g4.b, g4.len), WEFT_EEXPIRED);
    /* Admins do not make admins, nor remove them. */
    rec g5 = grant(ad.sk, b.pk, WEFT_RIGHT_ADMIN, 0, T0 + 10, MS(T0));
    CHECK_RC(weft_members_admit(m, &BE, g5.b, g5.len), WEFT_ENOTADMIN);
    CHECK(weft_members_records(m) == 2); /* nothing refused was kept */
    weft_member w;
    CHECK_OK(weft_members_get(m, 0, &w));
    weft_members_free(m);
}

static void removal(void) {
    weft_members *m = fresh();
    who ad = person(), a = person(), b = person();
    rec gad = grant(owner_sk, ad.pk, WEFT_RIGHT_ADMIN, 0, 0, MS(T0));
    rec ga = grant(ad.sk, a.pk, WEFT_RIGHT_WRITE, 0, 0, MS(T0));
    rec gb = grant(owner_sk, b.pk, WEFT_RIGHT_WRITE, 0, 0, MS(T0));
    CHECK(add(m, &gad) == 0 && add(m, &ga) == 0 && add(m, &gb) == 0);
    /* The admin removes b: b's changes up to seq 5 count, later ones not. */
    rec rb = revoke(ad.sk, b.pk, 5, 1);
    CHECK_OK(weft_members_admit(m, &BE, rb.b, rb.len));
    CHECK_OK(weft_members_change_counts(m, b.pk, 5));
    CHECK_RC(weft_members_change_counts(m, b.pk, 6), WEFT_EREVOKED);
    CHECK_OK(weft_members_change_counts(m, a.pk, 1000));
    CHECK(rights_now(m, b.pk, T0, WEFT_EREVOKED) == 0);
    /* A second revocation with a smaller cutoff wins (the smaller). */
    rec rb2 = revoke(owner_sk, b.pk, 3, 2);
    CHECK(add(m, &rb2) == 0);
    CHECK_RC(weft_members_change_counts(m, b.pk, 4), WEFT_EREVOKED);
    /* A writer cannot remove anyone; an admin cannot remove an admin. */
    rec bad = revoke(a.sk, ad.pk, 0, 1);
    CHECK_RC(weft_members_admit(m, &BE, bad.b, bad.len), WEFT_ENOTADMIN);
    who ad2 = person();
    rec gad2 = grant(owner_sk, ad2.pk, WEFT_RIGHT_ADMIN, 0, 0, MS(T0));
    CHECK(add(m, &gad2) == 0);
    rec bad2 = revoke(ad2.sk, ad.pk, 0, 1);
    CHECK_RC(weft_members_admit(m, &BE, bad2.b, bad2.len), WEFT_ENOTADMIN);
    /* Epoch 1 may not be sealed to b (out from epoch 1 on)... */
    uint8_t key[32] = {1}, prev[32] = {2}, two[64];
    memcpy(two, a.pk, 32);
    memcpy(two + 32, b.pk, 32);
    rec e_bad = epoch(ad.sk, 1, key, prev, two, 2);
    CHECK_RC(weft_members_admit(m, &BE, e_bad.b, e_bad.len), WEFT_EWRONGMEMBER);
    /* ...nor to a key that was never a member. */
    who stranger = person();
    rec e_bad2 = epoch(ad.sk, 1, key, prev, stranger.pk, 1);
    CHECK_RC(weft_members_admit(m, &BE, e_bad2.b, e_bad2.len), WEFT_EWRONGMEMBER);
    /* A writer cannot rotate. */
    rec e_bad3 = epoch(a.sk, 1, key, prev, a.pk, 1);
    CHECK_RC(weft_members_admit(m, &BE, e_bad3.b, e_bad3.len), WEFT_ENOTADMIN);
    uint64_t ep = 99;
    CHECK_OK(weft_members_epoch(m, &ep, NULL, NULL));
    CHECK(ep == 0);
    rec e1 = epoch(ad.sk, 1, key, prev, two, 1); /* a only */
    CHECK_OK(weft_members_admit(m, &BE, e1.b, e1.len));
    uint8_t id[16], want[16];
    CHECK_OK(weft_members_epoch(m, &ep, id, NULL));
    CHECK_OK(weft_epoch_key_id(want, key));
    CHECK(ep == 1 && memcmp(id, want, 16) == 0);
    /* The owner removes the admin: the admin's grants lapse (a loses
     * access), its revocation of b stays. */
    rec rad = revoke(owner_sk, ad.pk, 0, 2);
    CHECK(add(m, &rad) == 0);
    CHECK(rights_now(m, a.pk, T0, 0) == 0);
    uint8_t h[32];
    weft_blake2b(h, 32, ga.b, ga.len);
    CHECK(weft_members_status(m, h) == WEFT_EREVOKED);
    weft_blake2b(h, 32, e1.b, e1.len);
    CHECK(weft_members_status(m, h) == WEFT_EREVOKED);
    CHECK_RC(weft_members_change_counts(m, b.pk, 4), WEFT_EREVOKED);
    weft_blake2b(h, 32, (const uint8_t *)"x", 1);
    CHECK(weft_members_status(m, h) == WEFT_ENOTFOUND);
    weft_members_free(m);
}

static void invites_claimed_once(void) {
    weft_members *m = fresh();
    who inv = person(), a = person(), b = person(), ad = person(), c = person();
    /* The owner invites as admin; a claims it and is an admin. */
    rec gi = grant(owner_sk, inv.pk, WEFT_RIGHT_ADMIN, WEFT_GRANT_INVITE, T0 + 100, MS(T0));
    rec ca = grant(inv.sk, a.pk, WEFT_RIGHT_ADMIN, 0, T0 + 100, MS(T0));
    rec cb = grant(inv.sk, b.pk, WEFT_RIGHT_ADMIN, 0, T0 + 100, MS(T0));
    CHECK(add(m, &gi) == 0);
    CHECK(rights_now(m, inv.pk, T0, 0) == 0); /* an invite key is no member */
    CHECK_OK(weft_members_admit(m, &BE, ca.b, ca.len));
    CHECK(rights_now(m, a.pk, T0, 0) == WEFT_RIGHT_ADMIN);
    /* A replayed invite: the relay keeps the first claim it saw. */
    CHECK_RC(weft_members_admit(m, &BE, cb.b, cb.len), WEFT_EREPLAY);
    CHECK(rights_now(m, b.pk, T0, 0) == 0);
    /* An admin who joined by link invites and removes. */
    rec gi2 = grant(a.sk, ad.pk, WEFT_RIGHT_WRITE, WEFT_GRANT_INVITE, T0 + 50, MS(T0));
    CHECK_OK(weft_members_admit(m, &BE, gi2.b, gi2.len));
    rec cc = grant(ad.sk, c.pk, WEFT_RIGHT_WRITE, 0, T0 + 50, MS(T0));
    CHECK_OK(weft_members_admit(m, &BE, cc.b, cc.len));
    CHECK(rights_now(m, c.pk, T0, 0) == WEFT_RIGHT_WRITE);
    rec rvc = revoke(a.sk, c.pk, 0, 1);
    CHECK_OK(weft_members_admit(m, &BE, rvc.b, rvc.len));
    CHECK(rights_now(m, c.pk, T0, WEFT_EREVOKED) == 0);
    /* A claim above the invite's rights, outliving it, or after it ended. */
    who inv2 = person(), d = person();
    rec gi3 = grant(a.sk, inv2.pk, WEFT_RIGHT_READ, WEFT_GRANT_INVITE, T0 + 50, MS(T0));
    CHECK(add(m, &gi3) == 0);
    rec up = grant(inv2.sk, d.pk, WEFT_RIGHT_WRITE, 0, T0 + 50, MS(T0));
    CHECK_RC(weft_members_admit(m, &BE, up.b, up.len), WEFT_ENOTADMIN);
    rec longer = grant(inv2.sk, d.pk, WEFT_RIGHT_READ, 0, T0 + 51, MS(T0));
    CHECK_RC(weft_members_admit(m, &BE, longer.b, longer.len), WEFT_EOUTLIVES);
    rec late = grant(inv2.sk, d.pk, WEFT_RIGHT_READ, 0, T0 + 50, MS(T0 + 50));
    CHECK_RC(weft_members_admit(m, &BE, late.b, late.len), WEFT_EEXPIRED);
    /* Without the relay's first-seen rule, a replica holding both claims
     * keeps the one with the smaller hash, whichever came first. */
    weft_members *m2 = fresh();
    CHECK(add(m2, &gi) == 0);
    int s1 = add(m2, &cb), s2 = add(m2, &ca);
    uint8_t ha[32], hb[32];
    weft_blake2b(ha, 32, ca.b, ca.len);
    weft_blake2b(hb, 32, cb.b, cb.len);
    int a_wins = memcmp(ha, hb, 32) < 0;
    CHECK(s1 == 0);
    CHECK(s2 == (a_wins ? 0 : WEFT_EREPLAY));
    CHECK(weft_members_status(m2, hb) == (a_wins ? WEFT_EREPLAY : 0));
    weft_members_free(m2);
    weft_members_free(m);
}

/* Tickets: an admin's device issues an invite (grant + ticket), the
 * newcomer claims it with its own key from the ticket alone; the invite is
 * open until then, claimed after; bad tickets are refused by shape. */
static void tickets_and_claims(void) {
    weft_members *m = fresh();
    who ad = person(), newcomer = person(), other = person();
    rec ga = grant(owner_sk, ad.pk, WEFT_RIGHT_ADMIN, 0, 0, MS(T0));
    CHECK(add(m, &ga) == 0);
    rec gi, claim, replay;
    uint8_t ticket[WEFT_TICKET_MAX_BYTES], seed[32], rights, inv[32], inv2[32];
    size_t tl;
    uint64_t until;
    CHECK_OK(weft_invite_issue(&BE, gi.b, sizeof gi.b, &gi.len, ticket, &tl, owner_pk, ad.sk,
                               WEFT_RIGHT_WRITE, T0 + 100, MS(T0)));
    CHECK(tl == 2 + 32 + 1 + 5 && ticket[1] == WEFT_RECORD_TICKET);
    CHECK_OK(weft_ticket_decode(ticket, tl, seed, &rights, &until));
    CHECK(rights == WEFT_RIGHT_WRITE && until == T0 + 100);
    weft_member_record r;
    CHECK_OK(weft_member_record_decode(&r, gi.b, gi.len));
    CHECK(r.flags == WEFT_GRANT_INVITE && r.rights == WEFT_RIGHT_WRITE);
    CHECK_RC(weft_members_invite_open(m, r.member, T0), WEFT_ENOTFOUND); /* not held yet */
    CHECK_OK(weft_members_admit(m, &BE, gi.b, gi.len));
    CHECK_OK(weft_members_invite_open(m, r.member, T0));
    CHECK_RC(weft_members_invite_open(m, r.member, T0 + 100), WEFT_EEXPIRED);
    CHECK_RC(weft_members_invite_open(m, newcomer.pk, T0), WEFT_ENOTFOUND);
    CHECK_OK(weft_invite_claim(&BE, claim.b, sizeof claim.b, &claim.len, owner_pk, ticket, tl,
                               newcomer.pk, MS(T0 + 1), inv));
    CHECK(memcmp(inv, r.member, 32) == 0);
    CHECK_OK(weft_members_admit(m, &BE, claim.b, claim.len));
    CHECK(rights_now(m, newcomer.pk, T0 + 1, 0) == WEFT_RIGHT_WRITE);
    CHECK(rights_now(m, newcomer.pk, T0 + 100, WEFT_EEXPIRED) == 0);
    CHECK_RC(weft_members_invite_open(m, r.member, T0), WEFT_EREPLAY);
    /* The same ticket claimed for another key: a replayed invite. */
    CHECK_OK(weft_invite_claim(&BE, replay.b, sizeof replay.b, &replay.len, owner_pk, ticket, tl,
                               other.pk, MS(T0 + 2), inv2));
    CHECK_RC(weft_members_admit(m, &BE, replay.b, replay.len), WEFT_EREPLAY);
    CHECK(rights_now(m, other.pk, T0 + 2, 0) == 0);
    /* Renewal is one more grant to the claimed key, by an admin. */
    rec renew = grant(ad.sk, newcomer.pk, WEFT_RIGHT_WRITE, 0, T0 + 500, MS(T0 + 80));
    CHECK_OK(weft_members_admit(m, &BE, renew.b, renew.len));
    uint64_t end;
    uint8_t rt;
    CHECK_OK(weft_members_rights(m, newcomer.pk, T0 + 100, &rt, &end));
    CHECK(rt == WEFT_RIGHT_WRITE && end == T0 + 500);
    /* Bad tickets. */
    uint8_t bad[WEFT_TICKET_MAX_BYTES + 1];
    memcpy(bad, ticket, tl);
    CHECK_RC(weft_ticket_decode(bad, tl - 1, seed, &rights, &until), WEFT_ETRUNCATED);
    bad[tl] = 0;
    CHECK_RC(weft_ticket_decode(bad, tl + 1, seed, &rights, &until), WEFT_EMALFORMED);
    bad[1] = WEFT_RECORD_TOKEN;
    CHECK_RC(weft_ticket_decode(bad, tl, seed, &rights, &until), WEFT_EMALFORMED);
    bad[1] = WEFT_RECORD_TICKET;
    bad[34] = 4;
    CHECK_RC(weft_ticket_decode(bad, tl, seed, &rights, &until), WEFT_EMALFORMED);
    bad[34] = WEFT_RIGHT_READ;
    bad[0] = 2;
    CHECK_RC(weft_ticket_decode(bad, tl, seed, &rights, &until), WEFT_EVERSION);
    CHECK_RC(weft_invite_claim(&BE, claim.b, sizeof claim.b, &claim.len, owner_pk, bad, tl,
                               newcomer.pk, MS(T0), NULL),
             WEFT_EVERSION);
    weft_members_free(m);
}

/* A replica of `who` reading with content key `key`. */
static weft_replica *replica_of(const who *w, weft_suite_v1 *st, weft_crypto *table,
                                const uint8_t *key) {
    CHECK_OK(weft_suite_v1_init(table, st, &BE, key, w->sk));
    weft_replica *r;
    weft_replica_config cfg = {.space = owner_pk, .author = w->pk, .crypto = table};
    CHECK_OK(weft_replica_new(&r, &cfg));
    return r;
}

/* Removal with rotation, end to end in the core: after the owner removes
 * c and rotates, what it seals opens for b (who walks back to the first
 * key through the epoch record) and not for c, who keeps what came
 * before. */
static void rotation_end_to_end(void) {
    who a = person(), b = person(), c = person();
    uint8_t key0[32], key1[32], got[32], prev[32];
    BE.random(BE.ctx, key0, 32);
    BE.random(BE.ctx, key1, 32);
    weft_suite_v1 sa, sb, sc;
    weft_crypto ta, tb, tc;
    weft_replica *ra = replica_of(&a, &sa, &ta, key0), *rb = replica_of(&b, &sb, &tb, NULL),
                 *rc = replica_of(&c, &sc, &tc, key0);
    uint8_t *before, *after;
    CHECK_OK(put_str(ra, "notes", "n1", "t", "before"));
    size_t before_len = commit_copy(ra, &before);
    /* The owner removes c: the epoch goes to a and b only. */
    uint8_t two[64];
    memcpy(two, a.pk, 32);
    memcpy(two + 32, b.pk, 32);
    rec e1 = epoch(owner_sk, 1, key1, key0, two, 2);
    CHECK_OK(weft_epoch_open(&BE, e1.b, e1.len, a.sk, got));
    CHECK_OK(weft_suite_v1_rekey(&sa, got));
    CHECK_OK(put_str(ra, "notes", "n1", "t", "after"));
    size_t after_len = commit_copy(ra, &after);
    /* b joined after the rotation: the epoch gives it key1, and key1 the
     * first key, so it reads the whole history. */
    CHECK_OK(weft_epoch_open(&BE, e1.b, e1.len, b.sk, got));
    CHECK_OK(weft_suite_v1_init(&tb, &sb, &BE, got, b.sk));
    CHECK_OK(weft_epoch_prev_key(&BE, e1.b, e1.len, got, prev));
    CHECK(memcmp(prev, key0, 32) == 0);
    CHECK_OK(weft_suite_v1_add_key(&sb, prev));
    CHECK_OK(weft_suite_v1_add_key(&sb, prev)); /* held once */
    CHECK(sb.n_old == 1);
    weft_apply_result res;
    CHECK_OK(weft_replica_apply(rb, before, before_len, &res));
    CHECK(res.applied == 1);
    CHECK_OK(weft_replica_apply(rb, after, after_len, &res));
    CHECK(res.applied == 1);
    /* c holds the first key only: the change before opens, after not. */
    CHECK_RC(weft_epoch_open(&BE, e1.b, e1.len, c.sk, got), WEFT_EWRONGMEMBER);
    CHECK_OK(weft_replica_apply(rc, before, before_len, &res));
    CHECK(res.applied == 1);
    weft_replica_apply(rc, after, after_len, &res);
    CHECK(res.applied == 0 && res.rejected == 1 && res.first_error == WEFT_ECRYPTO);
    /* Rekeying to the key held is a no-op; the limit holds. */
    CHECK_OK(weft_suite_v1_rekey(&sa, key1));
    CHECK(sa.n_old == 1);
    for (int i = 0; i < WEFT_SUITE_V1_MAX_OLD_KEYS + 1; i++) {
        uint8_t k[32];
        BE.random(BE.ctx, k, 32);
        int rk = weft_suite_v1_rekey(&sa, k);
        CHECK(rk == (i < WEFT_SUITE_V1_MAX_OLD_KEYS - 1 ? 0 : WEFT_ELIMIT));
    }
    free(before);
    free(after);
    weft_replica_free(ra);
    weft_replica_free(rb);
    weft_replica_free(rc);
    weft_suite_v1_wipe(&sa);
    weft_suite_v1_wipe(&sb);
    weft_suite_v1_wipe(&sc);
}

static rec link(const who *p, const who *d, uint64_t wall_ms) {
    rec r;
    uint8_t sig[64];
    CHECK_OK(weft_link_sign_device(&BE, sig, owner_pk, p->pk, d->sk, wall_ms));
    CHECK_OK(weft_link_sign(&BE, r.b, sizeof r.b, &r.len, owner_pk, p->sk, d->pk, wall_ms, sig));
    return r;
}

/* One person, several devices (kind 9): both signatures, a person who is a
 * member, one person per device, one level deep; a link grants nothing. */
static void device_links(void) {
    weft_members *m;
    CHECK_OK(weft_members_new(&m, owner_pk, NULL));
    who ann = person(), laptop = person(), phone = person(), eve = person();
    who owner;
    memcpy(owner.pk, owner_pk, 32);
    memcpy(owner.sk, owner_sk, 64);
    /* Layout: version, kind 9, space, person, device, wall_ms, two signatures. */
    rec l = link(&ann, &laptop, MS(T0));
    CHECK(l.len == 2 + 96 + 6 + 128 && l.b[1] == WEFT_RECORD_LINK);
    CHECK(memcmp(l.b + 34, ann.pk, 32) == 0 && memcmp(l.b + 66, laptop.pk, 32) == 0);
    weft_member_record r;
    CHECK_OK(weft_member_record_verify(&BE, l.b, l.len, owner_pk, &r));
    CHECK(r.kind == WEFT_RECORD_LINK && r.wall_ms == MS(T0) && r.device_sig == l.b + 104);
    /* Either signature altered; a device half for another person. */
    l.b[110] ^= 1;
    CHECK_RC(weft_member_record_verify(&BE, l.b, l.len, owner_pk, &r), WEFT_ECRYPTO);
    l.b[110] ^= 1;
    l.b[l.len - 1] ^= 1;
    CHECK_RC(weft_member_record_verify(&BE, l.b, l.len, owner_pk, &r), WEFT_ECRYPTO);
    l.b[l.len - 1] ^= 1;
    uint8_t sig[64];
    rec x;
    CHECK_OK(weft_link_sign_device(&BE, sig, owner_pk, eve.pk, laptop.sk, MS(T0)));
    CHECK_RC(weft_link_sign(&BE, x.b, sizeof x.b, &x.len, owner_pk, ann.sk, laptop.pk, MS(T0), sig),
             WEFT_ECRYPTO);
    CHECK_RC(weft_link_sign_device(&BE, sig, owner_pk, ann.pk, ann.sk, MS(T0)), WEFT_EINVAL);
    /* Ann is no member yet: her link does not count. */
    CHECK_RC(add(m, &l), WEFT_ENOTADMIN);
    uint8_t who_[32];
    CHECK_RC(weft_members_person(m, laptop.pk, who_), WEFT_ENOTFOUND);
    rec g = grant(owner_sk, ann.pk, WEFT_RIGHT_WRITE, 0, 0, MS(T0));
    CHECK_OK(add(m, &g));
    uint8_t h[32];
    weft_blake2b(h, 32, l.b, l.len);
    CHECK_OK(weft_members_status(m, h));
    CHECK_OK(weft_members_person(m, laptop.pk, who_));
    CHECK(memcmp(who_, ann.pk, 32) == 0);
    /* Listed as a device of Ann, with no rights of its own. */
    int seen = 0;
    for (size_t i = 0; i < weft_members_count(m); i++) {
        weft_member w;
        CHECK_OK(weft_members_get(m, i, &w));
        if (memcmp(w.key, laptop.pk, 32)) continue;
        seen = 1;
        CHECK(w.linked && memcmp(w.person, ann.pk, 32) == 0 && w.rights == 0);
    }
    CHECK(seen);
    uint8_t rights;
    CHECK_OK(weft_members_rights(m, laptop.pk, T0, &rights, NULL));
    CHECK(rights == 0);
    /* The owner links a device too; chains are refused both ways. */
    rec o = link(&owner, &phone, MS(T0));
    CHECK_OK(add(m, &o));
    rec g2 = grant(owner_sk, eve.pk, WEFT_RIGHT_WRITE, 0, 0, MS(T0));
    CHECK_OK(add(m, &g2));
    rec chain = link(&eve, &ann, MS(T0)); /* ann has a device: she is a person */
    CHECK_RC(weft_members_admit(m, &BE, chain.b, chain.len), WEFT_ENOTADMIN);
    chain = link(&laptop, &eve, MS(T0)); /* the laptop is a device, and no member */
    CHECK_RC(weft_members_admit(m, &BE, chain.b, chain.len), WEFT_ENOTADMIN);
    /* A second person for the laptop: the smaller hash counts, and a relay
     * keeps the one it had. */
    rec again = link(&owner, &laptop, MS(T0) + 1);
    int st = add(m, &again);
    CHECK(st == WEFT_EREPLAY || st == 0);
    CHECK_OK(weft_members_person(m, laptop.pk, who_));
    CHECK(memcmp(who_, st ? ann.pk : owner_pk, 32) == 0);
    CHECK_RC(weft_members_admit(m, &BE, l.b, l.len), st ? 0 : WEFT_EREPLAY);
    /* Removing Ann ends her links. */
    rec rv = revoke(owner_sk, ann.pk, 0, 1);
    CHECK_OK(add(m, &rv));
    CHECK_RC(weft_members_status(m, h), WEFT_EREVOKED);
    weft_members_free(m);
}

/* Grant chains: what a device admitted by grant shows where a token would
 * go; a level record signed by an admin with one in its parent. */
static void grant_chains(void) {
    who ad = person(), newcomer = person(), writer = person(), stranger = person();
    uint8_t chain[WEFT_GRANT_CHAIN_MAX_BYTES + 8], rights = 0;
    size_t n;
    /* The owner's grant to the key itself. */
    rec g = grant(owner_sk, ad.pk, WEFT_RIGHT_ADMIN, 0, T0 + 100, MS(T0));
    CHECK_OK(weft_grant_chain_verify(&BE, g.b, g.len, owner_pk, ad.pk, T0 + 1, &rights));
    CHECK(rights == WEFT_RIGHT_ADMIN);
    CHECK_RC(weft_grant_chain_verify(&BE, g.b, g.len, owner_pk, ad.pk, T0 + 100, &rights),
             WEFT_EEXPIRED);
    CHECK_RC(weft_grant_chain_verify(&BE, g.b, g.len, owner_pk, stranger.pk, T0, &rights),
             WEFT_EDELEGATION);
    CHECK_RC(weft_grant_chain_verify(&BE, g.b, g.len, ad.pk, ad.pk, T0, &rights), WEFT_ESPACE);
    /* The owner's admin invite and its claim. */
    rec gi;
    uint8_t ticket[WEFT_TICKET_MAX_BYTES], inv[32];
    size_t tl;
    CHECK_OK(weft_invite_issue(&BE, gi.b, sizeof gi.b, &gi.len, ticket, &tl, owner_pk, owner_sk,
                               WEFT_RIGHT_ADMIN, 0, MS(T0)));
    rec claim;
    CHECK_OK(weft_invite_claim(&BE, claim.b, sizeof claim.b, &claim.len, owner_pk, ticket, tl,
                               newcomer.pk, MS(T0 + 1), inv));
    memcpy(chain, gi.b, gi.len);
    memcpy(chain + gi.len, claim.b, claim.len);
    n = gi.len + claim.len;
    CHECK_OK(weft_grant_chain_verify(&BE, chain, n, owner_pk, newcomer.pk, T0 + 5, &rights));
    CHECK(rights == WEFT_RIGHT_ADMIN);
    /* The claim alone, or the invite alone: not from the owner, an invite key. */
    CHECK_RC(weft_grant_chain_verify(&BE, claim.b, claim.len, owner_pk, newcomer.pk, T0, &rights),
             WEFT_EDELEGATION);
    CHECK_RC(weft_grant_chain_verify(&BE, gi.b, gi.len, owner_pk, inv, T0, &rights),
             WEFT_EDELEGATION);
    /* An admin's grant (rights from the admin, not the owner). */
    rec byadmin = grant(ad.sk, writer.pk, WEFT_RIGHT_WRITE, 0, 0, MS(T0));
    memcpy(chain, g.b, g.len);
    memcpy(chain + g.len, byadmin.b, byadmin.len);
    CHECK_RC(
        weft_grant_chain_verify(&BE, chain, g.len + byadmin.len, owner_pk, writer.pk, T0, &rights),
        WEFT_EDELEGATION);
    /* Three records, trailing bytes, another kind, an altered signature. */
    memcpy(chain, gi.b, gi.len);
    memcpy(chain + gi.len, claim.b, claim.len);
    memcpy(chain + gi.len + claim.len, "x", 1);
    CHECK_RC(weft_grant_chain_verify(&BE, chain, n + 1, owner_pk, newcomer.pk, T0, &rights),
             WEFT_EMALFORMED);
    CHECK_RC(weft_grant_chain_verify(&BE, NULL, 0, owner_pk, newcomer.pk, T0, &rights),
             WEFT_EMALFORMED);
    rec r = revoke(owner_sk, stranger.pk, 0, 1);
    CHECK_RC(weft_grant_chain_verify(&BE, r.b, r.len, owner_pk, stranger.pk, T0, &rights),
             WEFT_EMALFORMED);
    rec bad = g;
    bad.b[bad.len - 1] ^= 1;
    CHECK_RC(weft_grant_chain_verify(&BE, bad.b, bad.len, owner_pk, ad.pk, T0, &rights),
             WEFT_ECRYPTO);

    /* A level record by the admin, its chain as the parent: checked at
     * the record's own time. */
    uint8_t lv[WEFT_LEVEL_MAX_BYTES];
    size_t ll;
    weft_level out;
    CHECK_OK(
        weft_level_sign(&BE, lv, sizeof lv, &ll, owner_pk, newcomer.sk, chain, n, 4, MS(T0 + 2)));
    CHECK_OK(weft_level_verify(&BE, lv, ll, owner_pk, &out));
    CHECK(out.level == 4 && out.delegated);
    CHECK_OK(
        weft_level_sign(&BE, lv, sizeof lv, &ll, owner_pk, ad.sk, g.b, g.len, 4, MS(T0 + 100)));
    CHECK_RC(weft_level_verify(&BE, lv, ll, owner_pk, &out), WEFT_EEXPIRED);
    /* A writer's chain makes no admin; someone else's chain is not the issuer's. */
    rec gw = grant(owner_sk, writer.pk, WEFT_RIGHT_WRITE, 0, 0, MS(T0));
    CHECK_OK(
        weft_level_sign(&BE, lv, sizeof lv, &ll, owner_pk, writer.sk, gw.b, gw.len, 4, MS(T0)));
    CHECK_RC(weft_level_verify(&BE, lv, ll, owner_pk, &out), WEFT_ERIGHTS);
    CHECK_OK(
        weft_level_sign(&BE, lv, sizeof lv, &ll, owner_pk, stranger.sk, g.b, g.len, 4, MS(T0)));
    CHECK_RC(weft_level_verify(&BE, lv, ll, owner_pk, &out), WEFT_EDELEGATION);
}

int main(void) {
    if (weft_sodium_backend(&BE)) return 1;
    if (weft_keypair_generate(&BE, owner_pk, owner_sk)) return 1;
    CHECK(weft_level_members() == WEFT_LEVEL_MEMBERS &&
          weft_revoke_max_bytes() == WEFT_REVOKE_MAX_BYTES &&
          weft_box_sealbytes() == WEFT_BOX_SEALBYTES);
    static const test_case tests[] = {T(layouts_and_decoder),
                                      T(forged_rotation),
                                      T(owner_grants_and_time),
                                      T(admins_and_outliving),
                                      T(removal),
                                      T(invites_claimed_once),
                                      T(rotation_end_to_end),
                                      T(tickets_and_claims),
                                      T(device_links),
                                      T(grant_chains)};
    return run_tests(tests, sizeof tests / sizeof *tests);
}
