/*
 * Membership property test (weft/members.h).
 *
 * Each seeded case makes a random history of membership records: grants,
 * invites and their claims, revocations and key epochs, signed by the
 * owner, by admins, by members without the right and by strangers, with
 * random rights, ends and cutoffs. Then:
 *
 *  1. at every point of the history (each prefix), 3 replicas that receive
 *     the prefix's records in their own random order, some twice, reach the
 *     same weft_members_digest: they agree on every record's status, every
 *     member's rights, removals and cutoffs, and the current epoch;
 *  2. a relay that admits the records in history order keeps a subset, and
 *     replicas fed that subset in any order agree with it;
 *  3. invariants hold in every fold: a removed key has no rights and its
 *     changes past its cutoff do not count; the current epoch's envelopes
 *     go to no key removed at or before it; every counting grant's issuer
 *     is the owner, an admin or an invite key; a counting device link's
 *     person is the owner or a member not removed, it is the one person
 *     weft_members_person gives its device, and no person is a device.
 *
 * Histories include device links (kind 9) between any two keys.
 *
 *   prop_members [cases [first_seed]]
 *
 * Prints "N passed, M failed"; a failure prints its seed.
 */
#include "weft/members.h"
#include "weft/error.h"
#include "weft/hash.h"
#include "weft/sodium.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PEOPLE  6
#define N_INVITES 3
#define MAX_RECS  48
#define REPLICAS  3
#define T0        1700000000ull

typedef struct rec {
    uint8_t b[WEFT_EPOCH_BYTES_BOUND(N_PEOPLE + 1)];
    size_t len;
} rec;

static weft_crypto_backend BE;
static uint64_t rng;

static uint64_t next(void) { /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static unsigned pick(unsigned n) {
    return (unsigned)(next() % n);
}

/* Keys from the seed, so a failing seed replays (the sealed boxes'
 * ephemeral keys aside, which change no decision). */
static int seeded_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)next();
    return 0;
}

typedef struct world {
    uint8_t owner_pk[32], owner_sk[64];
    uint8_t pk[N_PEOPLE + N_INVITES][32], sk[N_PEOPLE + N_INVITES][64];
    rec recs[MAX_RECS];
    size_t n;
} world;

/* Issuer: the owner most often, then anyone (admins, writers, invite keys
 * and strangers alike: the fold must sort them out). */
static const uint8_t *issuer_sk(world *w, int *who) {
    unsigned r = pick(10);
    if (r < 4) {
        *who = -1;
        return w->owner_sk;
    }
    *who = (int)pick(N_PEOPLE + N_INVITES);
    return w->sk[*who];
}

static void make_history(world *w) {
    if (weft_keypair_generate(&BE, w->owner_pk, w->owner_sk)) abort();
    for (int i = 0; i < N_PEOPLE + N_INVITES; i++)
        if (weft_keypair_generate(&BE, w->pk[i], w->sk[i])) abort();
    w->n = 2 + pick(MAX_RECS - 2);
    uint64_t epoch = 0;
    for (size_t i = 0; i < w->n; i++) {
        rec *r = &w->recs[i];
        int who;
        const uint8_t *sk = issuer_sk(w, &who);
        uint64_t wall = (T0 + pick(200)) * 1000;
        unsigned kind = pick(12);
        int rc;
        if (kind >= 10) {
            /* A device link: the issuer as the person, anyone else as the
             * device (chains, replays and strangers included). */
            int d = (int)pick(N_PEOPLE + N_INVITES);
            if (d == who) d = (d + 1) % (N_PEOPLE + N_INVITES);
            uint8_t sig[64];
            rc = weft_link_sign_device(&BE, sig, w->owner_pk, sk + 32, w->sk[d], wall);
            if (!rc)
                rc = weft_link_sign(&BE, r->b, sizeof r->b, &r->len, w->owner_pk, sk, w->pk[d],
                                    wall, sig);
        } else if (kind < 5) {
            int invite = pick(4) == 0;
            int m = invite ? N_PEOPLE + (int)pick(N_INVITES) : (int)pick(N_PEOPLE);
            /* Claims: an invite key granting to a person. */
            if (who >= N_PEOPLE && !invite) m = (int)pick(N_PEOPLE);
            if (m == who) m = (m + 1) % N_PEOPLE;
            uint64_t until = pick(3) ? T0 + pick(300) : 0;
            rc = weft_grant_sign(&BE, r->b, sizeof r->b, &r->len, w->owner_pk, sk, w->pk[m],
                                 (uint8_t)(1 + pick(3)), invite ? WEFT_GRANT_INVITE : 0, until,
                                 wall);
        } else if (kind < 8) {
            int m = (int)pick(N_PEOPLE + N_INVITES);
            rc = weft_revoke_sign(&BE, r->b, sizeof r->b, &r->len, w->owner_pk, sk, w->pk[m],
                                  pick(6), 1 + pick(3), wall);
        } else {
            uint8_t members[N_PEOPLE + 1][32], key[32], prev[32];
            size_t k = 0;
            for (int p = 0; p < N_PEOPLE; p++)
                if (pick(2)) memcpy(members[k++], w->pk[p], 32);
            if (!k || pick(3) == 0) memcpy(members[k++], w->owner_pk, 32);
            seeded_random(NULL, key, 32);
            seeded_random(NULL, prev, 32);
            epoch += pick(2);
            rc = weft_epoch_sign(&BE, r->b, sizeof r->b, &r->len, w->owner_pk, sk, epoch + 1, key,
                                 prev, members[0], k, wall);
        }
        if (rc) {
            fprintf(stderr, "sign failed: %s\n", weft_err_name(rc));
            abort();
        }
    }
}

static void shuffle(size_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = pick((unsigned)i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Folds records idx[0..n) in a random order, some twice. */
static int fold_shuffled(world *w, const size_t *idx, size_t n, uint8_t *digest,
                         weft_members **keep) {
    size_t order[2 * MAX_RECS];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        order[k++] = idx[i];
        if (pick(4) == 0) order[k++] = idx[i];
    }
    shuffle(order, k);
    weft_members *m;
    if (weft_members_new(&m, w->owner_pk, NULL)) abort();
    int bad = 0;
    for (size_t i = 0; i < k; i++)
        if (weft_members_add(m, &BE, w->recs[order[i]].b, w->recs[order[i]].len, NULL)) bad = 1;
    weft_members_digest(m, digest);
    if (keep)
        *keep = m;
    else
        weft_members_free(m);
    return bad;
}

/* The invariants of point 3 over one fold. */
static int invariants(world *w, weft_members *m) {
    size_t n = weft_members_count(m);
    uint64_t cur;
    uint8_t cur_hash[32];
    weft_members_epoch(m, &cur, NULL, cur_hash);
    for (size_t i = 0; i < n; i++) {
        weft_member mb;
        if (weft_members_get(m, i, &mb)) return 1;
        uint8_t r;
        int rc = weft_members_rights(m, mb.key, T0 + 50, &r, NULL);
        if (mb.revoked) {
            if (rc != WEFT_EREVOKED || r != 0) return 2;
            if (weft_members_change_counts(m, mb.key, mb.last_seq + 1) != WEFT_EREVOKED) return 3;
            if (weft_members_change_counts(m, mb.key, mb.last_seq) != 0) return 4;
        } else if (rc && rc != WEFT_EEXPIRED) {
            return 5;
        }
    }
    for (size_t i = 0; i < weft_members_records(m); i++) {
        const uint8_t *b;
        size_t len;
        int st;
        weft_members_record(m, i, &b, &len, &st);
        weft_member_record r;
        if (weft_member_record_decode(&r, b, len)) return 6;
        uint8_t h[32];
        weft_blake2b(h, 32, b, len);
        if (cur && r.kind == WEFT_RECORD_EPOCH && !memcmp(h, cur_hash, 32)) {
            if (st != 0) return 7;
            for (size_t e = 0; e < r.n_envelopes; e++)
                for (size_t j = 0; j < n; j++) {
                    weft_member mb;
                    weft_members_get(m, j, &mb);
                    if (!memcmp(mb.key, r.envelopes + e * WEFT_ENVELOPE_BYTES, 32) && mb.revoked &&
                        mb.out_epoch <= r.epoch)
                        return 8;
                }
        }
        if (r.kind == WEFT_RECORD_GRANT && st == 0 && memcmp(r.issuer, w->owner_pk, 32)) {
            /* Its issuer is an admin or an invite key: a person or invite
             * key of this world, never the member itself. */
            int found = 0;
            for (int p = 0; p < N_PEOPLE + N_INVITES; p++)
                found |= !memcmp(r.issuer, w->pk[p], 32);
            if (!found || !memcmp(r.issuer, r.member, 32)) return 9;
        }
        if (r.kind == WEFT_RECORD_LINK && st == 0) {
            uint8_t person[32], rights, up[32];
            if (weft_members_person(m, r.member, person) || memcmp(person, r.issuer, 32)) return 10;
            int rc = weft_members_rights(m, r.issuer, T0 + 50, &rights, NULL);
            if (rc == WEFT_EREVOKED) return 11;
            if (weft_members_person(m, r.issuer, up) != WEFT_ENOTFOUND) return 12;
        }
    }
    return 0;
}

static int run_case(uint64_t seed) {
    rng = seed * 0x2545f4914f6cdd1dull + 1;
    static world w;
    make_history(&w);
    size_t idx[MAX_RECS];
    for (size_t i = 0; i < w.n; i++)
        idx[i] = i;
    /* 1: every prefix, three delivery orders. */
    for (size_t p = 1; p <= w.n; p++) {
        uint8_t want[32], got[32];
        weft_members *m;
        if (fold_shuffled(&w, idx, p, want, &m)) return 10;
        int inv = invariants(&w, m);
        weft_members_free(m);
        if (inv) return 20 + inv;
        for (int r = 1; r < REPLICAS; r++) {
            if (fold_shuffled(&w, idx, p, got, NULL)) return 11;
            if (memcmp(want, got, 32)) return 12;
        }
    }
    /* 2: a relay admits in history order; replicas agree with it. */
    weft_members *relay;
    if (weft_members_new(&relay, w.owner_pk, NULL)) abort();
    uint8_t before[32], after[32];
    size_t kept[MAX_RECS], nk = 0;
    for (size_t i = 0; i < w.n; i++) {
        weft_members_digest(relay, before);
        size_t held = weft_members_records(relay);
        int rc = weft_members_admit(relay, &BE, w.recs[i].b, w.recs[i].len);
        weft_members_digest(relay, after);
        if (rc) {
            /* A refusal changes nothing held. */
            if (memcmp(before, after, 32) || weft_members_records(relay) != held) return 13;
        } else if (weft_members_records(relay) == held + 1) {
            kept[nk++] = i;
        }
    }
    uint8_t want[32], got[32];
    weft_members_digest(relay, want);
    weft_members_free(relay);
    for (int r = 0; r < REPLICAS; r++) {
        if (fold_shuffled(&w, kept, nk, got, NULL)) return 14;
        if (memcmp(want, got, 32)) return 15;
    }
    return 0;
}

int main(int argc, char **argv) {
    long cases = argc > 1 ? atol(argv[1]) : 200;
    uint64_t first = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    if (weft_sodium_backend(&BE)) return 1;
    BE.random = seeded_random;
    int passed = 0, failed = 0;
    for (long c = 0; c < cases; c++) {
        uint64_t seed = first + (uint64_t)c;
        int rc = run_case(seed);
        if (rc) {
            fprintf(stderr, "seed %" PRIu64 " failed (check %d)\n", seed, rc);
            failed++;
        } else {
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
