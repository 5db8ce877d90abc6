/*
 * weft-relay's abuse limits (issue 23, finding 5; docs/RELAY.md "Limits"):
 * each scenario starts a relay (memory storage) with tight limits on a free
 * loopback port, plays the attack, and checks that the limit holds and
 * that the victim or honest client is not hurt by it.
 *
 *   test_limits PATH_TO_WEFT_RELAY [test]
 */
#include "harness.h"

#include "admission.h"
#include "weft/level.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *exe;
static uint8_t content_key[32];

static int start(relay_proc *p, const char *const *extra) {
    memset(p, 0, sizeof *p);
    if (relay_spawn(p, exe, "memory", 0, extra)) {
        fprintf(stderr, "cannot start %s\n", exe);
        check_failures++;
        return -1;
    }
    return 0;
}

static void stop(relay_proc *p) {
    CHECK(relay_stop(p, SIGTERM, 5000) == 0);
}

/* A backend whose 16-byte random draws (token ids) are a chosen value:
 * how an attacker mints a token carrying someone else's id. */
static uint8_t forced_id[16];
static int forced_random(void *ctx, uint8_t *buf, size_t len) {
    if (len == 16) {
        memcpy(buf, forced_id, 16);
        return 0;
    }
    return BE.random(ctx, buf, len);
}

static int until_error_or_acked(tclient *c, uint64_t n) {
    return c->err_code != 0 || c->acked >= n;
}

/* A stranger mints, in a space of their own, a token with the victim's
 * token id, and spends that id's whole change budget: the victim's own
 * writes must still pass (buckets are per space and token id). */
static void victim_drain(void) {
    relay_proc p;
    const char *extra[] = {"--token-rate", "0.001", "--token-burst", "40", NULL};
    if (start(&p, extra)) return;
    ident victim_owner, attacker_owner;
    ident_new(&victim_owner);
    ident_new(&attacker_owner);
    tclient v, a;
    CHECK(tc_init(&v, &victim_owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&a, &attacker_owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    weft_token vt;
    CHECK(weft_token_verify(&BE, v.token, v.token_len, v.space, (uint64_t)time(NULL), &vt) == 0);
    memcpy(forced_id, vt.id, 16);
    weft_crypto_backend evil = BE;
    evil.random = forced_random;
    uint64_t now = (uint64_t)time(NULL);
    CHECK(weft_token_issue(&evil, a.token, sizeof a.token, &a.token_len, attacker_owner.pk,
                           attacker_owner.sk, NULL, 0, a.me.pk, WEFT_RIGHT_WRITE, now - 60,
                           now + 3600) == 0);
    weft_token at;
    CHECK(weft_token_verify(&BE, a.token, a.token_len, a.space, now, &at) == 0);
    CHECK(memcmp(at.id, vt.id, 16) == 0); /* the same id, another space */

    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_write(&a, 40, 10, 40) == 0);
    CHECK(tc_wait(&a, until_acked, 40, 5000));
    CHECK(tc_write(&a, 1, 10, 1) == 0); /* the attacker's own budget is spent */
    CHECK(tc_wait(&a, until_error, 0, 3000) && a.err_code == WEFT_PROTO_ERATE_LIMITED);

    CHECK(tc_connect(&v, p.port, 1, 0, 0) == 0);
    CHECK(tc_write(&v, 10, 10, 5) == 0);
    CHECK(tc_wait(&v, until_error_or_acked, 10, 5000));
    CHECK(v.err_code == 0 && v.n_stored == 10);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"token\"}") == 1);
    tc_free(&a);
    tc_free(&v);
    stop(&p);
}

/* Tokens are free to mint: many fresh tokens (and keys) from one address
 * share that address's change budget. */
static void fresh_tokens(void) {
    relay_proc p;
    const char *extra[] = {"--ip-verify-rate", "0.001", "--ip-verify-burst", "100", NULL};
    if (start(&p, extra)) return;
    ident owner;
    ident_new(&owner);
    enum { N = 10 };
    tclient c[N];
    uint64_t stored = 0, limited = 0;
    for (int i = 0; i < N; i++) {
        CHECK(tc_init(&c[i], &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        CHECK(tc_connect(&c[i], p.port, 1, 0, 0) == 0);
        CHECK(tc_write(&c[i], 20, 10, 20) == 0);
        CHECK(tc_wait(&c[i], until_error_or_acked, 20, 5000));
        stored += c[i].n_stored;
        if (c[i].err_code == WEFT_PROTO_ERATE_LIMITED && !c[i].err_fatal) limited++;
    }
    CHECK(stored == 100);
    CHECK(limited == N - 5);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"ip_changes\"}") == N - 5);
    for (int i = 0; i < N; i++)
        tc_free(&c[i]);
    stop(&p);
}

/* One frame of 1,024 changes is 1,024 signature checks, not one frame. */
static void frame_counts_changes(void) {
    relay_proc p;
    const char *extra[] = {"--conn-verify-rate", "0.001", "--conn-verify-burst", "1500", NULL};
    if (start(&p, extra)) return;
    ident owner;
    ident_new(&owner);
    tclient c;
    CHECK(tc_init(&c, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&c, p.port, 1, 0, 0) == 0);
    CHECK(tc_write(&c, 1024, 8, 1024) == 0);
    CHECK(tc_wait(&c, until_error_or_acked, 1024, 10000));
    CHECK(c.err_code == 0 && c.n_stored == 1024);
    CHECK(tc_write(&c, 1024, 8, 1024) == 0);
    CHECK(tc_wait(&c, until_error, 0, 10000));
    CHECK(c.err_code == WEFT_PROTO_ERATE_LIMITED && !c.err_fatal);
    CHECK(relay_metric(p.port, "weft_relay_changes_stored_total") == 1024);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"conn_changes\"}") == 1);
    tc_free(&c);
    stop(&p);
}

/* Per address: open WebSockets, HELLOs and spaces opened. */
static void address_limits(void) {
    relay_proc p;
    const char *extra[] = {"--ip-conns",
                           "3",
                           "--ip-hello-rate",
                           "0.001",
                           "--ip-hello-burst",
                           "6",
                           "--ip-space-rate",
                           "0.001",
                           "--ip-space-burst",
                           "2",
                           NULL};
    if (start(&p, extra)) return;
    ident o1, o2, o3;
    ident_new(&o1);
    ident_new(&o2);
    ident_new(&o3);
    tclient c[6];
    /* Two spaces open; a third is refused; the first again is in memory. */
    CHECK(tc_init(&c[0], &o1, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_init(&c[1], &o2, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_init(&c[2], &o3, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&c[0], p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&c[1], p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&c[2], p.port, 1, 0, 0) == -1);
    CHECK(c[2].err_code == WEFT_PROTO_ERATE_LIMITED && c[2].err_fatal);
    tc_free(&c[2]);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"ip_spaces\"}") == 1);
    /* Three WebSockets open (c[2] is closed): the fourth is refused. */
    CHECK(tc_init(&c[3], &o1, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&c[3], p.port, 1, 0, 0) == 0);
    usleep(200000); /* c[2]'s close reaches the relay */
    CHECK(tc_init(&c[4], &o1, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&c[4], p.port, 1, 0, 0) == -1);
    CHECK(c[4].err_code == WEFT_PROTO_ERATE_LIMITED && c[4].err_fatal);
    tc_free(&c[4]);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"ip_conns\"}") == 1);
    /* Four HELLOs so far: two more pass, the seventh is refused. */
    tc_free(&c[3]);
    tc_free(&c[1]);
    usleep(200000);
    for (int i = 0; i < 2; i++) {
        CHECK(tc_init(&c[5], &o1, NULL, WEFT_RIGHT_READ, content_key) == 0);
        CHECK(tc_connect(&c[5], p.port, 1, 0, 0) == 0);
        tc_free(&c[5]);
    }
    usleep(200000);
    CHECK(tc_init(&c[5], &o1, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&c[5], p.port, 1, 0, 0) == -1);
    CHECK(c[5].err_code == WEFT_PROTO_ERATE_LIMITED && c[5].err_fatal);
    tc_free(&c[5]);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"ip_hello\"}") == 1);
    /* The first connection still works. */
    CHECK(tc_wait(&c[0], until_synced, 0, 3000));
    tc_free(&c[0]);
    stop(&p);
}

static void write_key_file(const char *path, const ident *const *owners, size_t n, int b64) {
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fprintf(f, "# spaces this relay hosts\n\n");
    for (size_t i = 0; i < n; i++) {
        char txt[80];
        if (b64) {
            size_t len;
            CHECK(weft_base64url_encode(txt, sizeof txt, &len, owners[i]->pk, 32) == 0);
            txt[len] = 0;
        } else {
            for (int k = 0; k < 32; k++)
                snprintf(txt + 2 * k, 3, "%02x", owners[i]->pk[k]);
        }
        fprintf(f, "  %s  \n", txt);
    }
    fclose(f);
}

/* --admit owners:FILE: only listed spaces connect or are created; SIGHUP
 * re-reads the file, and a file that no longer parses keeps the list. */
static void admission_owners(void) {
    ident in1, in2, out;
    ident_new(&in1);
    ident_new(&in2);
    ident_new(&out);
    char path[64], spec[80];
    snprintf(path, sizeof path, "/tmp/weft-admit-%d.txt", (int)getpid());
    const ident *listed[] = {&in1};
    write_key_file(path, listed, 1, 0);
    snprintf(spec, sizeof spec, "owners:%s", path);
    relay_proc p;
    const char *extra[] = {"--admit", spec, NULL};
    if (start(&p, extra)) return;
    CHECK(relay_metric(p.port, "weft_relay_admitted_spaces") == 1);
    tclient a, b;
    CHECK(tc_init(&a, &in1, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_write(&a, 3, 10, 3) == 0);
    CHECK(tc_wait(&a, until_acked, 3, 3000) && a.n_stored == 3);
    CHECK(tc_init(&b, &out, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == -1);
    CHECK(b.err_code == WEFT_PROTO_ENOT_ADMITTED && b.err_fatal);
    tc_free(&b);
    CHECK(relay_metric(p.port, "weft_relay_spaces") == 1); /* nothing was opened for it */
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"NOT_ADMITTED\"}") == 1);
    /* in2 added (base64url this time), then reloaded. */
    const ident *both[] = {&in1, &in2};
    write_key_file(path, both, 2, 1);
    CHECK(kill(p.pid, SIGHUP) == 0);
    usleep(400000);
    CHECK(relay_metric(p.port, "weft_relay_admitted_spaces") == 2);
    CHECK(tc_init(&b, &in2, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&b, until_synced, 0, 3000));
    tc_free(&b);
    /* A broken file: the relay keeps its list and keeps running. */
    FILE *f = fopen(path, "w");
    fprintf(f, "not a key\n");
    fclose(f);
    CHECK(kill(p.pid, SIGHUP) == 0);
    usleep(400000);
    CHECK(relay_metric(p.port, "weft_relay_admitted_spaces") == 2);
    tc_free(&a);
    stop(&p);
    /* A broken file at start is refused with exit status 2. */
    relay_proc q;
    memset(&q, 0, sizeof q);
    CHECK(relay_spawn(&q, exe, "memory", 0, extra) != 0);
    unlink(path);
}

/* Per-space quotas: bytes stored, changes per second, live connections. */
static void space_quotas(void) {
    relay_proc p;
    const char *extra[] = {"--space-bytes",
                           "3000",
                           "--space-rate",
                           "0.001",
                           "--space-burst",
                           "30",
                           "--space-conns",
                           "2",
                           NULL};
    if (start(&p, extra)) return;
    ident owner;
    ident_new(&owner);
    tclient a, b, c;
    CHECK(tc_init(&a, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&b, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&c, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&a, until_synced, 0, 3000));
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&b, until_synced, 0, 3000));
    CHECK(tc_connect(&c, p.port, 1, 0, 0) == -1); /* two live already */
    CHECK(c.err_code == WEFT_PROTO_EQUOTA && c.err_fatal);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"space_conns\"}") == 1);
    /* Records of ~250 bytes: the quota of 3000 holds about a dozen; the
     * rest are REJECTED with QUOTA in the ACK, the connection stays. */
    CHECK(tc_write(&a, 20, 10, 20) == 0);
    for (int i = 0; i < 30 && a.n_stored + a.n_rejected + a.n_parked < 20; i++)
        tc_pump(&a, 100);
    CHECK(a.n_stored > 0 && a.n_stored < 20 && a.n_rejected > 0);
    CHECK(a.last_reject == WEFT_PROTO_EQUOTA);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"space_bytes\"}") > 0);
    /* 20 of the space's 30 changes are spent; b's frame of 20 is dropped. */
    CHECK(tc_write(&b, 20, 10, 20) == 0);
    CHECK(tc_wait(&b, until_error, 0, 3000));
    CHECK(b.err_code == WEFT_PROTO_ERATE_LIMITED && !b.err_fatal);
    CHECK(relay_metric(p.port, "weft_relay_limited_total{limit=\"space_changes\"}") == 1);
    tc_free(&a);
    tc_free(&b);
    tc_free(&c);
    stop(&p);
}

/* --admit signed:KEY: a HELLO must carry the operator's admission for its
 * space, valid now; the admission's byte quota applies to the space. */
static void admission_signed(void) {
    ident op, other;
    ident_new(&op);
    ident_new(&other);
    char spec[80] = "signed:";
    for (int k = 0; k < 32; k++)
        snprintf(spec + 7 + 2 * k, 3, "%02x", op.pk[k]);
    relay_proc p;
    const char *extra[] = {"--admit", spec, NULL};
    if (start(&p, extra)) return;
    ident owner, owner2;
    ident_new(&owner);
    ident_new(&owner2);
    uint64_t now = (uint64_t)time(NULL);
    uint8_t good[WEFT__ADMISSION_MAX_BYTES], wrong_space[WEFT__ADMISSION_MAX_BYTES],
        forged[WEFT__ADMISSION_MAX_BYTES], expired[WEFT__ADMISSION_MAX_BYTES];
    size_t gl, wl, fl, el;
    CHECK(weft__admission_issue(&BE, good, sizeof good, &gl, owner.pk, op.sk, 2000, now - 60,
                                now + 3600) == 0);
    CHECK(weft__admission_issue(&BE, wrong_space, sizeof wrong_space, &wl, owner2.pk, op.sk, 0,
                                now - 60, 0) == 0);
    CHECK(weft__admission_issue(&BE, forged, sizeof forged, &fl, owner.pk, other.sk, 0, now - 60,
                                0) == 0);
    CHECK(weft__admission_issue(&BE, expired, sizeof expired, &el, owner.pk, op.sk, 0, now - 60,
                                now - 1) == 0);
    const struct {
        const uint8_t *adm;
        size_t len;
    } refused[] = {{NULL, 0}, {wrong_space, wl}, {forged, fl}, {expired, el}};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        tclient c;
        CHECK(tc_init(&c, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        c.admission = refused[i].adm;
        c.admission_len = refused[i].len;
        CHECK(tc_connect(&c, p.port, 1, 0, 0) == -1);
        CHECK(c.err_code == WEFT_PROTO_ENOT_ADMITTED && c.err_fatal);
        tc_free(&c);
    }
    CHECK(relay_metric(p.port, "weft_relay_spaces") == 0);
    tclient a;
    CHECK(tc_init(&a, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    a.admission = good;
    a.admission_len = gl;
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_write(&a, 20, 10, 20) == 0);
    for (int i = 0; i < 30 && a.n_stored + a.n_rejected + a.n_parked < 20; i++)
        tc_pump(&a, 100);
    CHECK(a.n_stored > 0 && a.n_stored < 20 && a.last_reject == WEFT_PROTO_EQUOTA);
    tc_free(&a);
    /* With a versions block too (flags 0x02 | 0x04, the block first): the
     * relay reads both and answers with its own block. */
    tclient v;
    CHECK(tc_init(&v, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    v.admission = good;
    v.admission_len = gl;
    v.level = WEFT_FORMAT_LEVEL;
    CHECK(tc_connect(&v, p.port, 1, 1, 0) == 0);
    CHECK(v.got_versions && v.relay_versions.format_level == WEFT_FORMAT_LEVEL);
    tc_free(&v);
    tclient w;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    w.admission = forged;
    w.admission_len = fl;
    w.level = WEFT_FORMAT_LEVEL;
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == -1);
    CHECK(w.err_code == WEFT_PROTO_ENOT_ADMITTED && w.err_fatal);
    tc_free(&w);
    stop(&p);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_limits PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {
        {"victim_drain", victim_drain},
        {"fresh_tokens", fresh_tokens},
        {"frame_counts_changes", frame_counts_changes},
        {"address_limits", address_limits},
        {"admission_owners", admission_owners},
        {"space_quotas", space_quotas},
        {"admission_signed", admission_signed},
    };
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
