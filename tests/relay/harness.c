/*
 * The relay test harness (harness.h).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int check_failures;

int run_relay_tests(const relay_test *tests, size_t n, const char *only) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, tests[i].name) != 0) continue;
        int before = check_failures;
        tests[i].fn();
        if (check_failures == before) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
weft_crypto_backend BE;

void harness_init(void) {
    if (weft_sodium_backend(&BE)) abort();
    signal(SIGPIPE, SIG_IGN);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A free port below the kernel's ephemeral range (32768-60999 by
 * default). A port the kernel hands out for port 0 is an ephemeral one, and
 * an outgoing connection (a relay's to Redis, a test client's) can take it
 * between this check and the relay's bind: that made relays fail to start
 * now and then. Ports are drawn at random so parallel tests rarely meet. */
int free_port(void) {
    static unsigned state;
    if (!state) state = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    for (int tries = 0; tries < 200; tries++) {
        state = state * 1103515245u + 12345u;
        int port = 20000 + (int)((state >> 8) % 12000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return -1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok) return port;
    }
    return -1;
}

void relay_tmpdir(relay_proc *p) {
    snprintf(p->dir, sizeof p->dir, "/tmp/weft-relay-test-XXXXXX");
    if (!mkdtemp(p->dir)) abort();
}

static void rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st)) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

void relay_cleanup(relay_proc *p) {
    if (p->dir[0]) rm_rf(p->dir);
    p->dir[0] = 0;
}

static int spawn_once(relay_proc *p, const char *exe, const char *storage, int port,
                      const char *const *extra);

int relay_spawn(relay_proc *p, const char *exe, const char *storage, int port,
                const char *const *extra) {
    /* A port picked here can still be taken before the relay binds it (by
     * another test): the relay then exits at once, and a new port is tried. */
    int rc = spawn_once(p, exe, storage, port, extra);
    for (int tries = 1; rc && !port && tries < 5; tries++)
        rc = spawn_once(p, exe, storage, port, extra);
    return rc;
}

static int spawn_once(relay_proc *p, const char *exe, const char *storage, int port,
                      const char *const *extra) {
    p->port = port ? port : free_port();
    if (p->port <= 0) return -1;
    /* A Redis relay keeps files under --data: never the working directory. */
    if (!p->dir[0] && strcmp(storage, "redis") == 0) relay_tmpdir(p);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p->port);
    const char *argv[64];
    int n = 0;
    argv[n++] = exe;
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--storage";
    argv[n++] = storage;
    if (p->dir[0]) {
        argv[n++] = "--data";
        argv[n++] = p->dir;
    }
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    p->pid = fork();
    if (p->pid < 0) return -1;
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* no relay outlives a crashed test */
        /* WEFT_TEST_RELAY_LOG=1: the relay's log on this stderr; any
         * other value: appended to that file; unset: dropped. */
        const char *log = getenv("WEFT_TEST_RELAY_LOG");
        if (!log || strcmp(log, "1") != 0) {
            FILE *f = freopen(log ? log : "/dev/null", log ? "a" : "w", stderr);
            (void)f;
        }
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 250; i++) { /* 5 s */
        int status;
        char *body = NULL;
        size_t bl;
        if (http_request(p->port, "GET", "/healthz", NULL, NULL, 0, &status, &body, &bl, NULL,
                         500) == 0) {
            free(body);
            if (status == 200) return 0;
        }
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return -1;
        }
        sleep_ms(20);
    }
    relay_stop(p, SIGKILL, 1000);
    return -1;
}

int relay_stop(relay_proc *p, int sig, int timeout_ms) {
    if (p->pid <= 0) return -1;
    kill(p->pid, sig);
    int status = 0;
    for (int waited = 0;; waited += 10) {
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid) break;
        if (waited >= timeout_ms) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            p->pid = 0;
            return -1;
        }
        sleep_ms(10);
    }
    p->pid = 0;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

double relay_metric(int port, const char *name) {
    int status;
    char *body = NULL;
    size_t bl;
    if (http_request(port, "GET", "/metrics", NULL, NULL, 0, &status, &body, &bl, NULL, 2000) ||
        status != 200) {
        free(body);
        return -1;
    }
    double v = -1;
    size_t nl = strlen(name);
    for (char *line = body; line && *line;) {
        char *next = strchr(line, '\n');
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
            v = strtod(line + nl + 1, NULL);
            break;
        }
        line = next ? next + 1 : NULL;
    }
    free(body);
    return v;
}

/* Sends PING on a fresh connection; 1 when the answer is +PONG (a Redis
 * still loading its AOF answers -LOADING). */
static int redis_pong(int port) {
    return redis_inline(port, "PING", "+PONG");
}

int redis_inline(int port, const char *cmd, const char *want) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {0, 500000};
    int ok = 0;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
        connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        char line[256], buf[256];
        int l = snprintf(line, sizeof line, "%s\r\n", cmd);
        ssize_t n = l > 0 && (size_t)l < sizeof line && write(fd, line, (size_t)l) == l
                        ? read(fd, buf, sizeof buf - 1)
                        : -1;
        ok = n >= (ssize_t)strlen(want) && memcmp(buf, want, strlen(want)) == 0;
    }
    if (fd >= 0) close(fd);
    return ok;
}

int redis_query(int port, const char *cmd, char *out, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {0, 500000};
    ssize_t n = -1;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
        connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        char line[512];
        int l = snprintf(line, sizeof line, "%s\r\n", cmd);
        if (l > 0 && (size_t)l < sizeof line && write(fd, line, (size_t)l) == l) {
            /* One reply: read until the socket is quiet for a moment. */
            size_t have = 0;
            ssize_t r;
            while (have + 1 < cap && (r = read(fd, out + have, cap - 1 - have)) > 0) {
                have += (size_t)r;
                struct timeval quick = {0, 50000};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &quick, sizeof quick);
            }
            n = have ? (ssize_t)have : -1;
        }
    }
    if (fd >= 0) close(fd);
    if (n >= 0) out[n] = 0;
    return (int)n;
}

int redis_spawn(redis_proc *p) {
    if (!p->dir[0]) {
        snprintf(p->dir, sizeof p->dir, "/tmp/weft-redis-test-XXXXXX");
        if (!mkdtemp(p->dir)) return -1;
    }
    if (!p->port) p->port = free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    fflush(stdout);
    fflush(stderr);
    p->pid = fork();
    if (p->pid < 0) return -1;
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, however it dies */
        if (!getenv("WEFT_TEST_REDIS_LOG")) {
            FILE *f = freopen("/dev/null", "w", stdout);
            (void)f;
        }
        char primary[16], timeout[16];
        snprintf(primary, sizeof primary, "%d", p->replicaof);
        snprintf(timeout, sizeof timeout, "%d", p->cluster_timeout_ms);
        const char *args[32] = {"redis-server",
                                "--port",
                                port,
                                "--bind",
                                "127.0.0.1",
                                "--dir",
                                p->dir,
                                "--save",
                                "",
                                "--appendonly",
                                "yes",
                                "--appendfsync",
                                p->appendfsync ? p->appendfsync : "always",
                                "--daemonize",
                                "no"};
        int k = 15;
        if (p->replicaof) {
            args[k++] = "--replicaof";
            args[k++] = "127.0.0.1";
            args[k++] = primary;
        }
        if (p->cluster_timeout_ms) { /* nodes.conf lives in p->dir */
            args[k++] = "--cluster-enabled";
            args[k++] = "yes";
            args[k++] = "--cluster-node-timeout";
            args[k++] = timeout;
        }
        args[k] = NULL;
        execvp("redis-server", (char *const *)args);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* 10 s */
        if (redis_pong(p->port)) return 0;
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return -1;
        }
        sleep_ms(20);
    }
    redis_kill(p);
    return -1;
}

int redis_cluster_ok(int port) {
    char b[4096];
    return redis_query(port, "CLUSTER INFO", b, sizeof b) > 0 && strstr(b, "cluster_state:ok");
}

int redis_is_primary(int port) {
    return redis_inline(port, "ROLE", "*3\r\n$6\r\nmaster");
}

int redis_cluster_spawn(redis_proc *nodes, int n, int timeout_ms) {
    char cmd[1024];
    int k = snprintf(cmd, sizeof cmd, "timeout 60 redis-cli --cluster create");
    for (int i = 0; i < n; i++) {
        nodes[i].cluster_timeout_ms = timeout_ms;
        /* The cluster bus listens on port + 10000, which free_port did not
         * check: another port when that one is taken. */
        int up = -1;
        for (int t = 0; t < 3 && up; t++) {
            nodes[i].port = 0;
            up = redis_spawn(&nodes[i]);
        }
        if (up) return -1;
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " 127.0.0.1:%d", nodes[i].port);
    }
    snprintf(cmd + k, sizeof cmd - (size_t)k,
             " --cluster-replicas 1 --cluster-yes >/dev/null 2>&1");
    if (system(cmd) != 0) {
        fprintf(stderr, "redis-cli --cluster create failed\n");
        return -1;
    }
    for (int i = 0, tries = 0; i < n; i++) { /* 20 s in all */
        while (!redis_cluster_ok(nodes[i].port) && tries++ < 200)
            sleep_ms(100);
        if (!redis_is_primary(nodes[i].port)) continue;
        while (!redis_inline(nodes[i].port, "WAIT 1 100", ":1") && tries++ < 200)
            ;
        if (!redis_cluster_ok(nodes[i].port) || !redis_inline(nodes[i].port, "WAIT 1 100", ":1"))
            return -1;
    }
    return 0;
}

void redis_kill(redis_proc *p) {
    if (p->pid <= 0) return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

void redis_cleanup(redis_proc *p) {
    redis_kill(p);
    if (p->dir[0]) rm_rf(p->dir);
    p->dir[0] = 0;
}

int relay_wait_ready(int port, int want, int timeout_ms) {
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int status;
        char *body = NULL;
        size_t bl;
        if (http_request(port, "GET", "/readyz", NULL, NULL, 0, &status, &body, &bl, NULL, 1000) ==
            0) {
            free(body);
            if (status == want) return 1;
        }
        sleep_ms(20);
    }
    return 0;
}

void ident_new(ident *id) {
    if (weft_keypair_generate(&BE, id->pk, id->sk)) abort();
}

int tc_init(tclient *c, const ident *owner, const ident *signer, uint8_t rights,
            const uint8_t *content_key) {
    memset(c, 0, sizeof *c);
    c->ws.fd = -1;
    c->apply = 1;
    ident_new(&c->me);
    memcpy(c->space, owner->pk, 32);
    uint64_t now = (uint64_t)time(NULL);
    if (weft_token_issue(&BE, c->token, sizeof c->token, &c->token_len, owner->pk,
                         signer ? signer->sk : owner->sk, NULL, 0, c->me.pk, rights, now - 60,
                         now + 3600))
        return -1;
    if (weft_suite_v1_init(&c->crypto, &c->st, &BE, content_key, c->me.sk)) return -1;
    weft_replica_config cfg = {
        .space = c->space, .author = c->me.pk, .crypto = &c->crypto, .keep_records = 1};
    return weft_replica_new(&c->rep, &cfg);
}

int tc_connect_raw(tclient *c, int port) {
    c->closed = 0;
    c->err_code = 0;
    return wsc_connect(&c->ws, port, 0, 3000);
}

int tc_connect(tclient *c, int port, int with_vv, int has_cursor, uint64_t cursor) {
    c->synced = 0;
    c->closed = 0;
    c->err_code = 0;
    if (wsc_connect(&c->ws, port, c->rcvbuf, 3000)) return -1;
    const uint8_t *vv = NULL;
    size_t vv_len = 0;
    if (with_vv && weft_replica_vv(c->rep, &vv, &vv_len)) return -1;
    size_t cap = weft_frame_hello_bound(vv_len, c->token_len) + 10 + c->admission_len;
    uint8_t *buf = malloc(cap);
    size_t len;
    weft_versions v = {.format_level = c->level, .space_level = 1, .features = 0};
    int rc = weft_frame_hello_encode_admitted(buf, cap, &len, c->space, c->me.pk, vv, vv_len,
                                              c->token, c->token_len, has_cursor, cursor,
                                              c->level ? &v : NULL, c->admission, c->admission_len);
    if (!rc && c->members) rc = weft_frame_hello_mark_members(buf, len);
    if (!rc && c->by_grant) rc = weft_frame_hello_mark_grant(buf, len);
    if (!rc) rc = wsc_send(&c->ws, buf, len, 2, 1);
    free(buf);
    if (rc) return -1;
    const uint8_t *msg;
    if (wsc_recv(&c->ws, &msg, &len, 3000)) return -1;
    weft_frame f;
    if (weft_frame_decode(&f, msg, len, 0)) return -1;
    if (f.type == WEFT_FRAME_ERROR) {
        c->err_code = f.code;
        c->err_fatal = f.fatal;
        return -1;
    }
    if (f.type != WEFT_FRAME_CHALLENGE) return -1;
    c->head = f.head;
    c->got_versions = f.has_versions;
    c->relay_versions = f.versions;
    free(c->relay_vv);
    c->relay_vv = malloc(f.vv_len + 1);
    memcpy(c->relay_vv, f.vv, f.vv_len);
    c->relay_vv_len = f.vv_len;
    c->in_head = c->in_tail = 0;
    uint8_t sig[64], proof[80];
    if (weft_proof_sign(&BE, sig, c->me.sk, c->space, f.nonce, WEFT_NONCE_BYTES)) return -1;
    if (weft_frame_proof_encode(proof, sizeof proof, &len, sig)) return -1;
    return wsc_send(&c->ws, proof, len, 2, 1);
}

int tc_pump(tclient *c, int timeout_ms) {
    const uint8_t *msg;
    size_t len;
    int rc = wsc_recv(&c->ws, &msg, &len, timeout_ms);
    if (rc == WSC_CLOSED) c->closed = 1;
    if (rc) return rc;
    weft_frame f;
    if (weft_frame_decode(&f, msg, len, 100000)) {
        fprintf(stderr, "tc_pump: undecodable frame from the relay\n");
        check_failures++;
        return -1;
    }
    switch (f.type) {
    case WEFT_FRAME_CHANGES: {
        size_t pos = 0, rl;
        uint64_t rseq;
        const uint8_t *rec;
        while (weft_frame_change_next(&f, &pos, &rseq, &rec, &rl)) {
            c->received++;
            if (rseq > c->cursor) c->cursor = rseq;
            if (rl >= 2 && rec[1] == WEFT_RECORD_LEVEL) {
                /* A level record: only a client that announced a level may
                 * get one, and it must verify. */
                weft_level lv;
                if (!c->level || weft_level_verify(&BE, rec, rl, c->space, &lv)) {
                    fprintf(stderr, "tc_pump: a level record this client cannot take\n");
                    check_failures++;
                } else {
                    c->level_records++;
                    if (lv.level > c->space_level) c->space_level = lv.level;
                }
            } else if (rl >= 2 && WEFT_RECORD_IS_MEMBERSHIP(rec[1])) {
                /* A membership record: only a client that said it reads
                 * them may get one, and it must verify. */
                weft_member_record mr;
                if (!c->members || weft_member_record_verify(&BE, rec, rl, c->space, &mr)) {
                    fprintf(stderr, "tc_pump: a membership record this client cannot take\n");
                    check_failures++;
                } else {
                    c->member_records++;
                }
            } else if (c->apply) {
                weft_apply_result res;
                if (weft_replica_apply(c->rep, rec, rl, &res) || res.rejected) {
                    fprintf(stderr, "tc_pump: a change from the relay did not apply\n");
                    check_failures++;
                }
            }
        }
        break;
    }
    case WEFT_FRAME_ACK: {
        if (f.cursor > c->cursor) c->cursor = f.cursor;
        if (f.cursor >= c->head) c->synced = 1;
        size_t pos = 0;
        uint8_t st;
        uint64_t v;
        while (weft_frame_ack_next(&f, &pos, &st, &v)) {
            uint64_t seq = c->in_head < c->in_tail ? c->inflight[c->in_head++] : 0;
            if ((st == WEFT_ACK_STORED || st == WEFT_ACK_DUPLICATE) && seq > c->acked_seq)
                c->acked_seq = seq;
            if (st == WEFT_ACK_STORED) {
                c->n_stored++;
                c->acked++;
                c->last_rseq = v;
            } else if (st == WEFT_ACK_DUPLICATE) {
                c->n_dup++;
                c->acked++;
            } else if (st == WEFT_ACK_PARKED) {
                c->n_parked++;
            } else {
                c->n_rejected++;
                c->last_reject = (uint32_t)v;
            }
        }
        break;
    }
    case WEFT_FRAME_ERROR:
        c->err_code = f.code;
        c->err_fatal = f.fatal;
        break;
    case WEFT_FRAME_SIGNAL:
    case WEFT_FRAME_PRESENCE:
        memcpy(c->last_peer, f.peer, 32);
        c->n_signals++;
        break;
    case WEFT_FRAME_SNAPSHOT:
        free(c->snap);
        free(c->snap_token);
        c->snap = f.snap_len ? malloc(f.snap_len) : NULL;
        c->snap_token = f.token_len ? malloc(f.token_len) : NULL;
        if ((f.snap_len && !c->snap) || (f.token_len && !c->snap_token)) abort();
        if (f.snap_len) memcpy(c->snap, f.snap, f.snap_len);
        if (f.token_len) memcpy(c->snap_token, f.token, f.token_len);
        c->snap_len = f.snap_len;
        c->snap_token_len = f.token_len;
        c->snap_rseq = f.snap_rseq;
        c->snap_flags = f.snap_flags;
        c->n_snapshots++;
        break;
    case WEFT_FRAME_SNAPSHOT_ACK:
        c->snap_ack_status = f.status;
        c->snap_ack_value = f.value;
        c->n_snap_acks++;
        break;
    default:
        break;
    }
    return 0;
}

int until_snapshots(tclient *c, uint64_t n) {
    return c->n_snapshots >= n;
}

int until_snapshot_acks(tclient *c, uint64_t n) {
    return c->n_snap_acks >= n;
}

int tc_wait(tclient *c, int (*pred)(tclient *, uint64_t), uint64_t arg, int timeout_ms) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!pred(c, arg)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= timeout_ms) return 0;
        int rc = tc_pump(c, (int)(timeout_ms - el));
        if (rc == WSC_CLOSED || rc == -1) return pred(c, arg);
    }
    return 1;
}

int until_synced(tclient *c, uint64_t u) {
    (void)u;
    return c->synced;
}
int until_received(tclient *c, uint64_t n) {
    return c->received >= n;
}
int until_acked(tclient *c, uint64_t n) {
    return c->acked + c->n_rejected + c->n_parked >= n;
}
int until_error(tclient *c, uint64_t u) {
    (void)u;
    return c->err_code != 0;
}
int until_closed(tclient *c, uint64_t u) {
    (void)u;
    return c->closed;
}

static void inflight_push(tclient *c, const uint8_t *rec, size_t len) {
    weft_change ch;
    uint64_t seq = 0;
    if (weft_change_decode(&ch, rec, len) == 0 && memcmp(ch.author, c->me.pk, 32) == 0)
        seq = ch.seq;
    if (c->in_head == c->in_tail) c->in_head = c->in_tail = 0;
    if (c->in_tail == c->in_cap) {
        c->in_cap = c->in_cap ? c->in_cap * 2 : 1024;
        c->inflight = realloc(c->inflight, c->in_cap * sizeof *c->inflight);
    }
    c->inflight[c->in_tail++] = seq;
}

int tc_send_record(tclient *c, const uint8_t *rec, size_t len) {
    size_t cap = 3 + weft_frame_change_entry_bound(len), flen;
    uint8_t *buf = malloc(cap);
    int rc = !buf || weft_frame_changes_begin(buf, cap, &flen, 0) ||
             weft_frame_changes_add(buf, cap, &flen, 0, rec, len) ||
             wsc_send(&c->ws, buf, flen, 2, 1);
    free(buf);
    if (rc) return -1;
    inflight_push(c, rec, len); /* not a change of ours: matched as 0 */
    c->sent++;
    return 0;
}

long tc_push_missing(tclient *c) {
    const uint8_t *recs;
    size_t rl;
    if (weft_replica_diff(c->rep, c->relay_vv, c->relay_vv_len, &recs, &rl)) return -1;
    size_t cap = 2 * rl + 64, fl = 0, pos = 0; /* entries add a length each */
    uint8_t *frame = malloc(cap);
    long n = 0;
    int in_frame = 0;
    while (pos < rl) {
        weft_change ch;
        if (weft_change_decode(&ch, recs + pos, rl - pos)) break;
        if (!in_frame) weft_frame_changes_begin(frame, cap, &fl, 0);
        if (weft_frame_changes_add(frame, cap, &fl, 0, recs + pos, ch.total_len)) {
            n = -1;
            break;
        }
        inflight_push(c, recs + pos, ch.total_len);
        pos += ch.total_len;
        n++;
        if (++in_frame == 100 || pos >= rl) {
            if (wsc_send(&c->ws, frame, fl, 2, 1)) n = -1;
            in_frame = 0;
            fl = 0;
        }
        if (n < 0) break;
    }
    free(frame);
    return n;
}

uint64_t tc_seq_of(tclient *c, const uint8_t *author) {
    const uint8_t *vv, *a;
    size_t len, pos = 0;
    uint64_t seq;
    if (weft_replica_vv(c->rep, &vv, &len)) return 0;
    while (weft_vv_next(vv, len, &pos, &a, &seq))
        if (memcmp(a, author, 32) == 0) return seq;
    return 0;
}

int tc_write(tclient *c, int n, size_t value_bytes, int per_frame) {
    size_t cap = 64 + (size_t)per_frame * (value_bytes + 600);
    uint8_t *frame = malloc(cap), *val = malloc(value_bytes + 16);
    size_t flen = 0, vlen;
    int in_frame = 0, rc = 0;
    char *text = malloc(value_bytes + 1);
    for (int i = 0; i < n && !rc; i++) {
        memset(text, 'a' + (int)((c->sent + (uint64_t)i) % 26), value_bytes);
        char doc[32];
        snprintf(doc, sizeof doc, "d%llu", (unsigned long long)(c->sent + (uint64_t)i));
        if (weft_value_write_string(val, value_bytes + 16, &vlen, text, value_bytes) ||
            weft_replica_put(c->rep, "notes", 5, doc, strlen(doc), "body", 4, val, vlen)) {
            rc = -1;
            break;
        }
        const uint8_t *rec;
        size_t rlen;
        if (weft_replica_commit(c->rep, 1700000000000ULL + c->sent + (uint64_t)i, &rec, &rlen)) {
            rc = -1;
            break;
        }
        if (!in_frame) weft_frame_changes_begin(frame, cap, &flen, 0);
        in_frame++;
        inflight_push(c, rec, rlen);
        if (weft_frame_changes_add(frame, cap, &flen, 0, rec, rlen)) rc = -1;
        if (in_frame == per_frame || i == n - 1) {
            if (!rc) rc = wsc_send(&c->ws, frame, flen, 2, 1);
            in_frame = 0;
        }
    }
    c->sent += (uint64_t)n;
    free(frame);
    free(val);
    free(text);
    return rc;
}

void tc_free(tclient *c) {
    wsc_close(&c->ws);
    free(c->relay_vv);
    free(c->inflight);
    c->relay_vv = NULL;
    c->inflight = NULL;
    free(c->snap);
    free(c->snap_token);
    c->snap = c->snap_token = NULL;
    weft_replica_free(c->rep);
    weft_suite_v1_wipe(&c->st);
    c->rep = NULL;
}

int same_state(tclient *a, tclient *b) {
    uint8_t ha[32], hb[32];
    if (weft_state_hash(a->rep, ha) || weft_state_hash(b->rep, hb)) return 0;
    return memcmp(ha, hb, 32) == 0;
}

/* ---- HAProxy and TLS for the deployment tests (issue 28) ---- */

static int haproxy_cfg(haproxy_proc *p, const char *tmpl, const int *ports, int n) {
    FILE *in = fopen(tmpl, "r");
    snprintf(p->cfg, sizeof p->cfg, "/tmp/weft-haproxy-XXXXXX");
    int fd = mkstemp(p->cfg);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!in || !out) {
        if (in) fclose(in);
        if (out) fclose(out);
        return -1;
    }
    char line[512];
    int servers = 0, binds = 0;
    while (fgets(line, sizeof line, in)) {
        char *s = line + strspn(line, " ");
        if (strncmp(s, "bind 127.0.0.1:", 15) == 0) {
            fprintf(out, "    bind 127.0.0.1:%d\n", p->port);
            binds++;
        } else if (strncmp(s, "server relay", 12) == 0) {
            if (servers < n)
                fprintf(out, "    server relay%d 127.0.0.1:%d\n", servers + 1, ports[servers]);
            servers++;
        } else if (strncmp(s, "maxconn ", 8) == 0) {
            /* Within this machine's descriptor limit (haproxy wants 2 per). */
            fprintf(out, "    maxconn 1000\n");
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    fclose(out);
    return binds == 1 && servers >= n ? 0 : -1;
}

int haproxy_spawn(haproxy_proc *p, const char *cfg_template, const int *ports, int n) {
    memset(p, 0, sizeof *p);
    p->port = free_port();
    if (p->port < 0 || haproxy_cfg(p, cfg_template, ports, n)) return -1;
    fflush(stdout);
    fflush(stderr);
    p->pid = fork();
    if (p->pid < 0) return -1;
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!getenv("WEFT_TEST_HAPROXY_LOG")) {
            FILE *f = freopen("/dev/null", "w", stdout);
            f = freopen("/dev/null", "w", stderr);
            (void)f;
        }
        execlp("haproxy", "haproxy", "-db", "-f", p->cfg, (char *)NULL);
        _exit(127);
    }
    return relay_wait_ready(p->port, 200, 5000) ? 0 : -1;
}

void haproxy_stop(haproxy_proc *p) {
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    p->pid = 0;
    if (p->cfg[0]) unlink(p->cfg);
    p->cfg[0] = 0;
}

int tls_make_cert(char dir[256]) {
    snprintf(dir, 256, "/tmp/weft-tls-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && E='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
             "openssl req -x509 $E -keyout ca.key -out ca.pem -days 2 -subj /CN=weft-test-ca && "
             "openssl req $E -keyout relay.key -out relay.csr -subj /CN=localhost && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext && "
             "openssl x509 -req -in relay.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out relay.pem -days 2 -extfile ext",
             dir);
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " >/dev/null 2>&1");
    return system(cmd) == 0 ? 0 : -1;
}
