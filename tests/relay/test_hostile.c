/*
 * The hostile-client suite (issue 23): a relay built with ASan faces a
 * separate attacker process for a bounded time while honest clients sync
 * through it.
 *
 * The attacker is a forked child speaking raw WebSocket and HTTP over
 * plain sockets from another loopback address (127.0.0.2), so the relay's
 * per-address limits bear on it and not on the honest clients. It does
 * not use the project's client code: it writes its own upgrade requests
 * and frames, and mixes, at random:
 *   - random bytes as binary messages, text messages, broken WebSocket
 *     framing, frame headers announcing huge lengths, then hangs up;
 *   - HELLOs with fresh keys and fresh tokens (some forged), then bad
 *     PROOFs; half-open handshakes left to time out;
 *   - after a valid handshake: CHANGES with garbage records, oversized
 *     records, forged records (a flipped signature byte), records of
 *     another space, thousands of changes at once; SIGNAL and PRESENCE
 *     floods;
 *   - REST garbage: random request lines and headers, POSTs with random
 *     bodies and forged tokens, random bytes instead of HTTP.
 * Meanwhile the parent samples the relay's RSS and open file descriptors
 * (bounded throughout), and one honest writer and one honest reader (the
 * harness's client) sync: the reader must receive every change the writer
 * got acked, and the relay must answer /healthz and exit 0 (no ASan
 * report) on SIGTERM at the end.
 *
 * The honest pair runs first for a calm phase (no attacker), then under
 * attack, the writer sending 2 changes (one frame) every 10 ms in both.
 * For each change the parent keeps the time the writer's send returned
 * and the time the reader's pump handed it over (decoded, verified and
 * applied), both from CLOCK_MONOTONIC in this process; it prints p50 and
 * p99 of that delivery latency per phase and, when WEFT_HOSTILE_JSON names
 * a file, writes them there as bench records (tools/bench merges them;
 * bench/README.md). Nothing here asserts on latency: a timed assertion
 * would fail on a loaded machine, so the figures go to the bench.
 *
 *   test_hostile PATH_TO_WEFT_RELAY [seconds]   (default 60;
 *   WEFT_HOSTILE_SECS overrides; WEFT_HOSTILE_CALM_SECS sets the calm
 *   phase, default 5)
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RSS_MB  768 /* ASan's shadow memory included */
#define MAX_FDS     256
#define WRITE_EVERY 0.010 /* s between the honest writer's frames of 2 changes */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the attacker: raw sockets ---- */

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static void rnd_bytes(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

/* A TCP connection from 127.0.0.2 to the relay, with send and receive
 * timeouts so that nothing here can block for long. -1 on failure. */
static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)port);
    struct timeval tv = {0, 300000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) ||
        connect(fd, (struct sockaddr *)&dst, sizeof dst)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k <= 0) return;
        b += k;
        n -= (size_t)k;
    }
}

/* Reads and discards whatever the relay sent, for up to ms. */
static void drain_fd(int fd, int ms) {
    uint8_t buf[65536];
    double until = now_s() + ms / 1000.0;
    while (now_s() < until) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0) continue;
        if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) return;
    }
}

/* The upgrade request; reads the response headers. 0 when upgraded. */
static int ws_upgrade(int fd) {
    static const char req[] =
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: weft\r\n\r\n";
    send_all(fd, req, sizeof req - 1);
    char buf[2048];
    size_t n = 0;
    double until = now_s() + 1.0;
    while (n < sizeof buf - 1 && now_s() < until) {
        ssize_t k = recv(fd, buf + n, 1, 0); /* byte by byte: nothing of a frame is eaten */
        if (k <= 0) return -1;
        n++;
        if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0) {
            buf[n] = 0;
            return strstr(buf, " 101 ") ? 0 : -1;
        }
    }
    return -1;
}

/* One masked frame (opcode, FIN as given). */
static void ws_frame(int fd, int opcode, int fin, const uint8_t *p, size_t n) {
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint8_t mask[4];
    rnd_bytes(mask, 4);
    memcpy(h + hl, mask, 4);
    hl += 4;
    uint8_t *b = malloc(hl + n + 1);
    if (!b) return;
    memcpy(b, h, hl);
    for (size_t i = 0; i < n; i++)
        b[hl + i] = p[i] ^ mask[i & 3];
    send_all(fd, b, hl + n);
    free(b);
}

static void ws_msg(int fd, const uint8_t *p, size_t n) {
    ws_frame(fd, 2, 1, p, n);
}

/* A fresh identity with a token for a fresh space (forged when asked). */
typedef struct actor {
    ident owner, me;
    uint8_t token[WEFT_TOKEN_MAX_BYTES];
    size_t token_len;
} actor;

static void actor_new(actor *a, int forged) {
    ident_new(&a->owner);
    ident_new(&a->me);
    uint64_t now = (uint64_t)time(NULL);
    ident signer;
    ident_new(&signer);
    /* A forged token: signed by a key that is not the owner's (issued as
     * for the signer's own space, then given the owner's space id). */
    if (weft_token_issue(&BE, a->token, sizeof a->token, &a->token_len,
                         forged ? signer.pk : a->owner.pk, forged ? signer.sk : a->owner.sk, NULL,
                         0, a->me.pk, WEFT_RIGHT_WRITE, now - 60, now + 3600))
        a->token_len = 0;
    if (forged && a->token_len > 34) memcpy(a->token + 2, a->owner.pk, 32);
}

static void send_hello(int fd, const actor *a) {
    uint8_t buf[2048];
    size_t len;
    if (weft_frame_hello_encode(buf, sizeof buf, &len, a->owner.pk, a->me.pk, NULL, 0, a->token,
                                a->token_len, 0, 0) == 0)
        ws_msg(fd, buf, len);
}

/* Reads frames until a CHALLENGE (its nonce copied out). 0 when found. */
static int read_challenge(int fd, uint8_t nonce[32]) {
    uint8_t buf[8192];
    size_t n = 0;
    double until = now_s() + 1.0;
    while (now_s() < until && n < sizeof buf) {
        ssize_t k = recv(fd, buf + n, sizeof buf - n, 0);
        if (k <= 0) return -1;
        n += (size_t)k;
        if (n < 2) continue;
        size_t plen = buf[1] & 0x7f, off = 2;
        if (plen == 126) {
            if (n < 4) continue;
            plen = (size_t)buf[2] << 8 | buf[3];
            off = 4;
        } else if (plen == 127) {
            return -1;
        }
        if (n < off + plen) continue;
        weft_frame f;
        if (weft_frame_decode(&f, buf + off, plen, 0) || f.type != WEFT_FRAME_CHALLENGE) return -1;
        memcpy(nonce, f.nonce, 32);
        return 0;
    }
    return -1;
}

/* A live session of a fresh space: HELLO, CHALLENGE, PROOF. -1 if not. */
static int live_session(int port, actor *a) {
    actor_new(a, 0);
    int fd = raw_connect(port);
    if (fd < 0) return -1;
    uint8_t nonce[32], sig[64], proof[80];
    size_t len;
    if (ws_upgrade(fd)) goto fail;
    send_hello(fd, a);
    if (read_challenge(fd, nonce)) goto fail;
    if (weft_proof_sign(&BE, sig, a->me.sk, a->owner.pk, nonce, 32) ||
        weft_frame_proof_encode(proof, sizeof proof, &len, sig))
        goto fail;
    ws_msg(fd, proof, len);
    return fd;
fail:
    close(fd);
    return -1;
}

/* n real changes of a's space, signed by a's key, in one CHANGES frame;
 * mode 0 valid, 1 one signature byte flipped, 2 another space's id. */
static void send_changes(int fd, const actor *a, int n, int mode) {
    uint8_t ck[32];
    rnd_bytes(ck, 32);
    weft_crypto crypto;
    weft_suite_v1 st;
    weft_replica *rep = NULL;
    uint8_t other[32];
    rnd_bytes(other, 32);
    if (weft_suite_v1_init(&crypto, &st, &BE, ck, a->me.sk)) return;
    weft_replica_config cfg = {.space = mode == 2 ? other : a->owner.pk,
                               .author = a->me.pk,
                               .crypto = &crypto,
                               .keep_records = 0};
    if (weft_replica_new(&rep, &cfg)) return;
    size_t cap = 64 + (size_t)n * 400, flen = 0;
    uint8_t *frame = malloc(cap);
    weft_frame_changes_begin(frame, cap, &flen, 0);
    for (int i = 0; i < n; i++) {
        uint8_t val[16];
        size_t vlen;
        char doc[16];
        snprintf(doc, sizeof doc, "d%d", i);
        if (weft_value_write_string(val, sizeof val, &vlen, "x", 1) ||
            weft_replica_put(rep, "t", 1, doc, strlen(doc), "f", 1, val, vlen))
            break;
        const uint8_t *rec;
        size_t rlen;
        if (weft_replica_commit(rep, 1700000000000ULL + (uint64_t)i, &rec, &rlen)) break;
        uint8_t *copy = malloc(rlen);
        memcpy(copy, rec, rlen);
        if (mode == 1) copy[rlen - 1 - rnd() % 64] ^= (uint8_t)(1 + rnd() % 255);
        weft_frame_changes_add(frame, cap, &flen, 0, copy, rlen);
        free(copy);
    }
    ws_msg(fd, frame, flen);
    free(frame);
    weft_replica_free(rep);
}

static unsigned long attacks[12];

static void attack_once(int port) {
    uint8_t buf[70000];
    int kind = (int)(rnd() % 12);
    attacks[kind]++;
    int fd = -1;
    actor a;
    switch (kind) {
    case 0: /* random bytes as binary (and text) messages */
        if ((fd = raw_connect(port)) < 0 || ws_upgrade(fd)) break;
        for (int i = 0; i < 5; i++) {
            size_t n = rnd() % 3000;
            rnd_bytes(buf, n);
            if (n > 1 && rnd() % 2) buf[0] = 1, buf[1] = (uint8_t)(1 + rnd() % 8);
            ws_frame(fd, rnd() % 4 ? 2 : 1, 1, buf, n);
        }
        break;
    case 1: /* broken WebSocket framing, a huge announced length */
        if ((fd = raw_connect(port)) < 0 || ws_upgrade(fd)) break;
        rnd_bytes(buf, 64);
        if (rnd() % 2) {
            static const uint8_t huge[] = {0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 1,    2,    3,    4};
            send_all(fd, huge, sizeof huge);
        }
        send_all(fd, buf, 64);
        break;
    case 2: /* fresh keys and token, then a bad PROOF */
        if ((fd = raw_connect(port)) < 0 || ws_upgrade(fd)) break;
        actor_new(&a, 0);
        send_hello(fd, &a);
        {
            uint8_t nonce[32], sig[64], proof[80];
            size_t len;
            if (read_challenge(fd, nonce) == 0) {
                rnd_bytes(sig, 64);
                weft_frame_proof_encode(proof, sizeof proof, &len, sig);
                ws_msg(fd, proof, len);
            }
        }
        break;
    case 3: /* a forged token */
        if ((fd = raw_connect(port)) < 0 || ws_upgrade(fd)) break;
        actor_new(&a, 1);
        send_hello(fd, &a);
        break;
    case 4: /* a half-open handshake, left for the timeout */
        if ((fd = raw_connect(port)) < 0 || ws_upgrade(fd)) break;
        if (rnd() % 2) {
            actor_new(&a, 0);
            send_hello(fd, &a);
        }
        return; /* left open: the relay must time it out (--handshake-timeout 2) */
    case 5:     /* garbage records after a valid handshake */
        if ((fd = live_session(port, &a)) < 0) break;
        {
            size_t flen;
            weft_frame_changes_begin(buf, sizeof buf, &flen, 0);
            for (int i = 0; i < 20; i++) {
                uint8_t rec[300];
                size_t rl = 1 + rnd() % sizeof rec;
                rnd_bytes(rec, rl);
                if (rl > 2 && rnd() % 2) rec[0] = 1, rec[1] = 1;
                weft_frame_changes_add(buf, sizeof buf, &flen, 0, rec, rl);
            }
            ws_msg(fd, buf, flen);
        }
        break;
    case 6: /* forged, wrong-space and valid changes */
        if ((fd = live_session(port, &a)) < 0) break;
        send_changes(fd, &a, 1 + (int)(rnd() % 50), (int)(rnd() % 3));
        break;
    case 7: /* thousands of changes at once, and an oversized record */
        if ((fd = live_session(port, &a)) < 0) break;
        if (rnd() % 2) {
            send_changes(fd, &a, 1024 + (int)(rnd() % 2000), 0);
        } else {
            size_t big = 5u << 20; /* above --max-frame */
            uint8_t *p = calloc(1, big);
            if (p) {
                p[0] = 1, p[1] = 4;
                ws_msg(fd, p, big);
                free(p);
            }
        }
        break;
    case 8: /* SIGNAL and PRESENCE floods */
        if ((fd = live_session(port, &a)) < 0) break;
        for (int i = 0; i < 300; i++) {
            uint8_t peer[32], data[512];
            size_t len;
            rnd_bytes(peer, 32);
            if (rnd() % 2) memset(peer, 0, 32);
            rnd_bytes(data, sizeof data);
            if (weft_frame_signal_encode(
                    buf, sizeof buf, &len, rnd() % 2 ? WEFT_FRAME_SIGNAL : WEFT_FRAME_PRESENCE,
                    peer[0] || rnd() % 2 ? peer : (uint8_t[32]){1}, data, rnd() % sizeof data) == 0)
                ws_msg(fd, buf, len);
        }
        break;
    case 9: { /* REST: a POST with a random body and a forged token */
        if ((fd = raw_connect(port)) < 0) break;
        actor_new(&a, rnd() % 2);
        char hex[65], tok[1200], head[2048];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", a.owner.pk[i]);
        size_t tl;
        if (weft_base64url_encode(tok, sizeof tok, &tl, a.token, a.token_len)) tl = 0;
        tok[tl] = 0;
        size_t n = rnd() % 4000;
        rnd_bytes(buf, n);
        int hl = snprintf(head, sizeof head,
                          "POST /v1/spaces/%s/changes HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          hex, tok, n);
        send_all(fd, head, (size_t)hl);
        send_all(fd, buf, n);
        break;
    }
    case 10: { /* REST garbage: random request lines, headers, bytes */
        if ((fd = raw_connect(port)) < 0) break;
        static const char *const lines[] = {
            "GET /v1/spaces/zz/changes?after=-1&limit=99999999999 HTTP/1.1\r\n",
            "DELETE /v1/spaces/0000/ HTTP/1.1\r\n",
            "GET /../../etc/passwd HTTP/1.1\r\n",
            "POST /v1/spaces/ HTTP/1.1\r\nContent-Length: 99999999999\r\n",
            "GET /metrics HTTP/1.1\r\nX: ",
            "BREW /coffee HTCPCP/1.0\r\n"};
        const char *l = lines[rnd() % (sizeof lines / sizeof *lines)];
        send_all(fd, l, strlen(l));
        size_t n = rnd() % 2000;
        rnd_bytes(buf, n);
        send_all(fd, buf, n);
        send_all(fd, "\r\n\r\n", 4);
        break;
    }
    default: /* fragments that never finish, then a hang-up */
        if ((fd = raw_connect(port)) < 0 || ws_upgrade(fd)) break;
        rnd_bytes(buf, 1000);
        ws_frame(fd, 2, 0, buf, 1000);
        ws_frame(fd, 0, 0, buf, 1000);
        break;
    }
    if (fd >= 0) {
        drain_fd(fd, (int)(rnd() % 50));
        close(fd);
    }
}

static void attacker(int port, double secs, uint64_t seed) {
    rng_state = seed ? seed : 88172645463325252ull;
    double until = now_s() + secs;
    while (now_s() < until)
        attack_once(port);
    printf("# attacker:");
    for (int i = 0; i < 12; i++)
        printf(" %lu", attacks[i]);
    printf(" (by kind)\n");
    fflush(stdout);
    _exit(0);
}

/* ---- the relay's footprint ---- */

static long rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static int fd_count(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* ---- the honest pair and its delivery latency ---- */

typedef struct honest {
    tclient w, rd;
    uint64_t written; /* changes the writer sent */
    /* By the writer's change number n (1-based; the reader receives them
     * in that order, the space holding no other author's changes): when
     * its send returned, and its delivery latency in ms (-1 until then). */
    double *sent_at, *lat_ms;
    size_t cap;
    long rss0, rss_max;
    int fds_max;
} honest;

static int honest_grow(honest *h, size_t need) {
    if (need < h->cap) return 0;
    size_t cap = h->cap ? h->cap * 2 : 4096;
    while (cap <= need)
        cap *= 2;
    double *s = realloc(h->sent_at, cap * sizeof *s);
    if (!s) return -1;
    h->sent_at = s;
    double *l = realloc(h->lat_ms, cap * sizeof *l);
    if (!l) return -1;
    h->lat_ms = l;
    for (size_t i = h->cap; i < cap; i++)
        h->sent_at[i] = 0, h->lat_ms[i] = -1;
    h->cap = cap;
    return 0;
}

/* Handles the reader's pending messages (waiting up to timeout_ms for the
 * first), timing every change they carry. */
static void honest_read(honest *h, int timeout_ms) {
    for (;;) {
        uint64_t before = h->rd.received;
        if (tc_pump(&h->rd, timeout_ms)) return;
        timeout_ms = 0;
        double t = now_s();
        for (uint64_t n = before + 1; n <= h->rd.received && n < h->cap; n++)
            if (h->sent_at[n] > 0) h->lat_ms[n] = (t - h->sent_at[n]) * 1e3;
    }
}

/* Runs the honest pair for secs: 2 changes every WRITE_EVERY, both sockets
 * serviced as soon as they are readable, the relay's footprint sampled
 * every 0.5 s. Returns 0, or -1 after reporting a failure. */
static int honest_phase(honest *h, relay_proc *p, double secs) {
    double t0 = now_s(), next_write = t0, next_sample = t0;
    while (now_s() - t0 < secs) {
        if (now_s() >= next_sample) {
            next_sample += 0.5;
            long kb = rss_kb(p->pid);
            int nf = fd_count(p->pid);
            if (kb > h->rss_max) h->rss_max = kb;
            if (nf > h->fds_max) h->fds_max = nf;
            if (kb > MAX_RSS_MB * 1024L || nf > MAX_FDS) {
                fprintf(stderr, "relay footprint out of bounds: rss %ld kB, %d fds\n", kb, nf);
                check_failures++;
                return -1;
            }
        }
        if (h->w.closed || h->rd.closed) {
            fprintf(stderr,
                    "an honest client was disconnected %.1f s into the phase (writer error %u, "
                    "reader %u)\n",
                    now_s() - t0, h->w.err_code, h->rd.err_code);
            /* Its sockets close before a dying relay can be reaped: give
             * it a moment, then say how it went. */
            int st;
            pid_t w = 0;
            for (int i = 0; i < 300 && (w = waitpid(p->pid, &st, WNOHANG)) == 0; i++)
                usleep(10000);
            if (w == p->pid) {
                fprintf(stderr, "the relay is gone: %s %d\n",
                        WIFSIGNALED(st) ? "killed by signal" : "exit status",
                        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
                p->pid = 0; /* reaped: relay_stop must not signal its pid again */
            } else
                fprintf(stderr, "the relay is still running\n");
            check_failures++;
            return -1;
        }
        double t = now_s();
        if (t >= next_write) {
            /* A late tick is not made up with a burst: the pace stays even. */
            next_write = next_write + WRITE_EVERY > t ? next_write + WRITE_EVERY : t + WRITE_EVERY;
            if (honest_grow(h, h->written + 3)) {
                fprintf(stderr, "out of memory\n");
                check_failures++;
                return -1;
            }
            CHECK(tc_write(&h->w, 2, 40, 2) == 0);
            double sent = now_s();
            h->sent_at[++h->written] = sent;
            h->sent_at[++h->written] = sent;
        }
        int wait_ms = (int)((next_write - now_s()) * 1e3);
        if (wait_ms < 0) wait_ms = 0;
        struct pollfd pf[2] = {{h->w.ws.fd, POLLIN, 0}, {h->rd.ws.fd, POLLIN, 0}};
        if (!h->w.ws.len && !h->rd.ws.len) poll(pf, 2, wait_ms);
        while (tc_pump(&h->w, 0) == 0)
            ;
        honest_read(h, 0);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50 and p99 (nearest rank) of the latencies of changes first..last.
 * OUT: p50, p99 (0 when none was timed). Returns how many were timed. */
static size_t honest_pcts(const honest *h, uint64_t first, uint64_t last, double *p50,
                          double *p99) {
    *p50 = *p99 = 0;
    double *v = malloc((size_t)(last - first + 1) * sizeof *v);
    if (!v) return 0;
    size_t n = 0;
    for (uint64_t i = first; i <= last && i < h->cap; i++)
        if (h->lat_ms[i] >= 0) v[n++] = h->lat_ms[i];
    if (n) {
        qsort(v, n, sizeof *v, cmp_double);
        *p50 = v[(size_t)((double)(n - 1) * 0.50 + 0.5)];
        *p99 = v[(size_t)((double)(n - 1) * 0.99 + 0.5)];
    }
    free(v);
    return n;
}

/* The four figures as bench records {workload, impl, metric, value, unit}
 * (bench/merge_results.mjs). Returns 0, or -1 when the file cannot be
 * written. */
static int write_bench_json(const char *path, double secs, const double v[4]) {
    static const char *const metric[4] = {"honest p50 calm", "honest p99 calm",
                                          "honest p50 under attack", "honest p99 under attack"};
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "[\n");
    for (int i = 0; i < 4; i++)
        fprintf(f,
                "  {\"workload\": \"relay under attack\", \"impl\": \"weft-relay\", "
                "\"metric\": \"%s\", \"value\": %.3f, \"unit\": \"ms\", \"note\": \"1 "
                "honest writer to 1 reader, 200 changes/s; attack phase %.0f s\"}%s\n",
                metric[i], v[i], secs, i < 3 ? "," : "");
    fprintf(f, "]\n");
    return fclose(f) ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_hostile PATH_TO_WEFT_RELAY [seconds]\n");
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 60;
    const char *env = getenv("WEFT_HOSTILE_SECS");
    if (env && *env) secs = atof(env);
    if (secs <= 0) secs = 60;
    harness_init();
    relay_proc p;
    memset(&p, 0, sizeof p);
    const char *extra[] = {"--handshake-timeout", "2", NULL};
    if (relay_spawn(&p, argv[1], "memory", 0, extra)) {
        fprintf(stderr, "cannot start %s\n", argv[1]);
        return 1;
    }
    /* 127.0.0.2 must reach the relay on 127.0.0.1 (Linux routes 127/8). */
    int probe = raw_connect(p.port);
    if (probe < 0) {
        fprintf(stderr, "cannot connect from 127.0.0.2\n");
        relay_stop(&p, SIGKILL, 1000);
        return 1;
    }
    close(probe);

    double calm = 5;
    env = getenv("WEFT_HOSTILE_CALM_SECS");
    if (env && *env) calm = atof(env);
    if (calm < 0) calm = 0;

    ident owner;
    ident_new(&owner);
    uint8_t key[32];
    BE.random(BE.ctx, key, 32);
    honest h;
    memset(&h, 0, sizeof h);
    CHECK(tc_init(&h.w, &owner, NULL, WEFT_RIGHT_WRITE, key) == 0);
    CHECK(tc_init(&h.rd, &owner, NULL, WEFT_RIGHT_READ, key) == 0);
    CHECK(tc_connect(&h.w, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&h.rd, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&h.rd, until_synced, 0, 5000));
    h.rss0 = h.rss_max = rss_kb(p.pid);
    h.fds_max = fd_count(p.pid);

    /* The calm phase: the same honest load with no attacker, for the
     * baseline latency. */
    int failed = honest_phase(&h, &p, calm);
    uint64_t calm_written = h.written;

    /* WEFT_HOSTILE_SEED=N replays an attack a failed run printed. */
    uint64_t seed;
    BE.random(BE.ctx, (uint8_t *)&seed, sizeof seed);
    if (getenv("WEFT_HOSTILE_SEED")) seed = strtoull(getenv("WEFT_HOSTILE_SEED"), NULL, 10);
    printf("# attacker seed %llu, %.0f s (after %.0f s calm)\n", (unsigned long long)seed, secs,
           calm);
    fflush(stdout);
    pid_t child = failed ? -1 : fork();
    if (child == 0) attacker(p.port, secs, seed);
    CHECK(failed || child > 0);
    if (!failed) honest_phase(&h, &p, secs);
    int status = 0;
    if (child > 0) {
        for (int i = 0; i < 500 && waitpid(child, &status, WNOHANG) == 0; i++)
            usleep(10000);
        if (waitpid(child, &status, WNOHANG) == 0) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
        }
    }
    uint64_t written = h.written;
    CHECK(tc_wait(&h.w, until_acked, written, 10000));
    CHECK(h.w.n_stored == written && h.w.err_code == 0);
    /* As tc_wait(until_received), timing the stragglers too. */
    for (double until = now_s() + 10; h.rd.received < written && !h.rd.closed && now_s() < until;)
        honest_read(&h, 100);
    CHECK(h.rd.received == written && h.rd.err_code == 0);
    CHECK(same_state(&h.w, &h.rd));
    printf("# honest: %llu changes written, acked and received; relay rss %ld -> max %ld kB, "
           "max %d fds\n",
           (unsigned long long)written, h.rss0, h.rss_max, h.fds_max);
    double v[4];
    size_t n_calm = honest_pcts(&h, 1, calm_written, &v[0], &v[1]);
    size_t n_att = calm_written < written ? honest_pcts(&h, calm_written + 1, written, &v[2], &v[3])
                                          : (v[2] = v[3] = 0, 0);
    printf(
        "# honest delivery latency, writer's send to reader's receipt: calm p50 %.2f p99 %.2f ms "
        "(%zu changes); under attack p50 %.2f p99 %.2f ms (%zu changes)\n",
        v[0], v[1], n_calm, v[2], v[3], n_att);
    const char *json = getenv("WEFT_HOSTILE_JSON");
    if (json && *json && n_calm && n_att && write_bench_json(json, secs, v)) {
        fprintf(stderr, "cannot write %s\n", json);
        check_failures++;
    }
    printf("# relay: %.0f rejections, %.0f ip_changes, %.0f ip_hello, %.0f ip_accept limits\n",
           relay_metric(p.port, "weft_relay_rejections_total{reason=\"BAD_FRAME\"}"),
           relay_metric(p.port, "weft_relay_limited_total{limit=\"ip_changes\"}"),
           relay_metric(p.port, "weft_relay_limited_total{limit=\"ip_hello\"}"),
           relay_metric(p.port, "weft_relay_limited_total{limit=\"ip_accept\"}"));
    int st;
    char *body = NULL;
    size_t bl;
    CHECK(http_request(p.port, "GET", "/healthz", NULL, NULL, 0, &st, &body, &bl, NULL, 3000) ==
              0 &&
          st == 200);
    free(body);
    tc_free(&h.w);
    tc_free(&h.rd);
    free(h.sent_at);
    free(h.lat_ms);
    CHECK(relay_stop(&p, SIGTERM, 10000) == 0);
    relay_cleanup(&p);
    printf("%s\n", check_failures ? "FAILED" : "passed");
    return check_failures ? 1 : 0;
}
