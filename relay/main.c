/*
 * weft-relay's entry point: configuration from flags and WEFT_RELAY_*
 * environment variables (flags win), storage, server, signals.
 *
 * Every flag --some-name has the variable WEFT_RELAY_SOME_NAME. Sizes and
 * counts are plain integers; rates are per second (0 = unlimited).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "relay.h"
#include "admit.h"
#include "blobs.h"
#include "ingest.h"
#include "pubsub.h"
#include "ratelimit.h"
#include "server.h"
#include "space.h"
#include "storage.h"
#include "tls.h"

#include <libwebsockets.h>

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

static relay R;

static void on_signal(int sig) {
    if (sig == SIGHUP)
        R.reload = 1; /* the admission list and the TLS pair, at the next tick */
    else
        R.stop = 1;
}

typedef enum opt_kind { O_STR, O_SIZE, O_U32, O_INT, O_RATE, O_FLAG } opt_kind;

typedef struct opt {
    const char *name;
    opt_kind kind;
    void *dst;
    const char *help;
} opt;

static const char *listen_arg = "127.0.0.1:8787";

static const opt opts[] = {
    {"listen", O_STR, &listen_arg, "HOST:PORT to listen on (default 127.0.0.1:8787)"},
    {"data", O_STR, &R.cfg.data_dir, "data directory of file storage (default ./weft-data)"},
    {"storage", O_STR, &R.cfg.storage,
     "file (default, durable), memory (tests) or redis (scale-out, needs --redis)"},
    {"redis", O_STR, &R.cfg.redis_url,
     "redis://HOST:PORT of the Redis shared by all relays, or "
     "redis+cluster://HOST:PORT[,HOST:PORT...] (Redis Cluster seed nodes)"},
    {"redis-max-inflight", O_U32, &R.cfg.redis_max_inflight,
     "records per space sent to Redis and not confirmed before clients are paused (default "
     "20000)"},
    {"redis-wait-replicas", O_U32, &R.cfg.redis_wait_replicas,
     "Redis replicas that must hold an append before it is acked and announced (WAIT; default "
     "0: the primary's reply is enough; SCALING.md)"},
    {"redis-wait-ms", O_U32, &R.cfg.redis_wait_ms,
     "how long an append waits for --redis-wait-replicas before it fails unacked (default 2000)"},
    {"segment-bytes", O_SIZE, &R.cfg.segment_bytes,
     "file storage: start a new segment file at this size (default 64 MiB)"},
    {"static", O_STR, &R.cfg.static_dir, "serve static files (the PWA) from DIR"},
    {"tls-cert", O_STR, &R.cfg.tls_cert,
     "PEM certificate (chain) file: serve https:// and wss:// only (SIGHUP re-reads it)"},
    {"tls-key", O_STR, &R.cfg.tls_key, "PEM private key file of --tls-cert"},
    {"admin-token", O_STR, &R.cfg.admin_token,
     "a secret: GET /admin/spaces (the busiest spaces) needs it as a bearer token (default: "
     "the endpoint is off)"},
    {"max-frame", O_SIZE, &R.cfg.max_frame, "largest incoming frame in bytes (default 4 MiB)"},
    {"max-snapshot", O_SIZE, &R.cfg.max_snapshot,
     "largest sealed snapshot accepted, over REST (default 64 MiB; over WebSocket --max-frame "
     "also bounds it)"},
    {"max-changes", O_U32, &R.cfg.max_changes, "changes per frame or POST (default 1024)"},
    {"max-queue", O_SIZE, &R.cfg.max_queue,
     "unsent bytes per connection before it is dropped (default 8 MiB)"},
    {"max-conns", O_U32, &R.cfg.max_conns, "open connections, WebSocket and HTTP (default 10000)"},
    {"conn-rate", O_RATE, &R.cfg.conn_rate, "frames per second per connection (default 2000)"},
    {"conn-burst", O_RATE, &R.cfg.conn_burst, "burst of frames per connection (default 4000)"},
    {"token-rate", O_RATE, &R.cfg.token_rate,
     "changes per second per (space, token id) (default 20000)"},
    {"token-burst", O_RATE, &R.cfg.token_burst,
     "burst of changes per (space, token id) (default 40000)"},
    {"conn-verify-rate", O_RATE, &R.cfg.conn_verify_rate,
     "changes (signature checks) per second per connection (default 2000)"},
    {"conn-verify-burst", O_RATE, &R.cfg.conn_verify_burst,
     "burst of changes per connection (default 8192)"},
    {"ip-accept-rate", O_RATE, &R.cfg.ip_accept_rate,
     "new TCP connections per second per client address (default 50)"},
    {"ip-accept-burst", O_RATE, &R.cfg.ip_accept_burst,
     "burst of new TCP connections per address (default 500)"},
    {"ip-conns", O_U32, &R.cfg.ip_conns,
     "open WebSocket connections per client address (default 512, 0: no limit)"},
    {"ip-hello-rate", O_RATE, &R.cfg.ip_hello_rate, "HELLOs per second per address (default 20)"},
    {"ip-hello-burst", O_RATE, &R.cfg.ip_hello_burst, "burst of HELLOs per address (default 500)"},
    {"ip-space-rate", O_RATE, &R.cfg.ip_space_rate,
     "spaces opened (not in memory yet) per second per address (default 5)"},
    {"ip-space-burst", O_RATE, &R.cfg.ip_space_burst,
     "burst of spaces opened per address (default 100)"},
    {"ip-verify-rate", O_RATE, &R.cfg.ip_verify_rate,
     "changes (signature checks) per second per address (default 5000)"},
    {"ip-verify-burst", O_RATE, &R.cfg.ip_verify_burst,
     "burst of changes per address (default 40000)"},
    {"admit", O_STR, &R.cfg.admit,
     "which spaces this relay hosts: any (default), owners:FILE (owner keys, one a line; "
     "SIGHUP re-reads it) or signed:KEY (an admission token signed by KEY)"},
    {"space-bytes", O_SIZE, &R.cfg.space_bytes,
     "bytes of records one space may store (default 0: no quota); above: QUOTA"},
    {"space-rate", O_RATE, &R.cfg.space_rate,
     "changes per second per space, all writers together (default 0: no limit)"},
    {"space-burst", O_RATE, &R.cfg.space_burst, "burst of changes per space (default 0)"},
    {"space-conns", O_U32, &R.cfg.space_conns,
     "live connections per space (default 0: no limit); above: QUOTA"},
    {"eph-rate", O_RATE, &R.cfg.eph_rate,
     "SIGNAL/PRESENCE bytes per second per space (default 1048576)"},
    {"eph-burst", O_RATE, &R.cfg.eph_burst,
     "burst of SIGNAL/PRESENCE bytes per space (default 4194304)"},
    {"idle-unload", O_INT, &R.cfg.idle_unload_secs,
     "seconds after which a space nobody uses is closed (default 300, 0: never)"},
    {"handshake-timeout", O_INT, &R.cfg.handshake_secs,
     "seconds for HELLO and PROOF to arrive (default 10)"},
    {"format-level", O_U32, &R.cfg.format_level,
     "highest format level to accept level records for and announce (default: this build's; "
     "keep it at the oldest relay's during a rolling upgrade, SCALING.md)"},
    {"keep-history", O_STR, &R.cfg.keep_history,
     "history kept behind the newest snapshot: all, none or a duration (30d, 12h, 90m, 45s); "
     "older records it covers are trimmed (default 30d)"},
    {"snapshot-wanted", O_U32, &R.cfg.snapshot_wanted,
     "records past the newest snapshot after which admin clients are asked to publish one "
     "(default 1000, 0: never)"},
    {"blob-dir", O_STR, &R.cfg.blob_dir,
     "directory of files' encrypted chunks, may be shared by several relays (default "
     "DATA/blobs; memory storage: a temporary one, removed at exit)"},
    {"blob-grace", O_INT, &R.cfg.blob_grace_secs,
     "seconds a file's lease lasts unrenewed before it is deleted (default 2592000: 30 days)"},
    {"blob-url-ttl", O_INT, &R.cfg.blob_url_secs,
     "seconds a signed file URL stays valid (default 3600)"},
    {"verbose", O_FLAG, &R.cfg.verbose, "log libwebsockets warnings too"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static void usage(FILE *f) {
    fprintf(f, "usage: weft-relay [options]\n\n"
               "The Weft sync relay: WebSocket sync, REST log API, metrics and static files on\n"
               "one port. Every option can also be set as WEFT_RELAY_<NAME> in the environment\n"
               "(e.g. WEFT_RELAY_MAX_FRAME); options on the command line win.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char arg[40];
        snprintf(arg, sizeof arg, "--%s%s", opts[i].name, opts[i].kind == O_FLAG ? "" : " V");
        fprintf(f, "  %-24s %s\n", arg, opts[i].help);
    }
    fprintf(f, "  %-24s %s\n", "--help", "this text");
}

static int set_opt(const opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case O_STR:
        *(const char **)o->dst = v;
        return 0;
    case O_FLAG:
        *(int *)o->dst = !(v && (strcmp(v, "0") == 0 || strcmp(v, "false") == 0));
        return 0;
    case O_RATE: {
        double d = strtod(v, &end);
        if (errno || *end || d < 0) return -1;
        *(double *)o->dst = d;
        return 0;
    }
    default: {
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end || !*v || v[0] == '-') return -1;
        if (o->kind == O_SIZE) *(size_t *)o->dst = (size_t)n;
        if (o->kind == O_U32) {
            if (n > UINT32_MAX) return -1;
            *(uint32_t *)o->dst = (uint32_t)n;
        }
        if (o->kind == O_INT) {
            if (n > 1000000) return -1;
            *(int *)o->dst = (int)n;
        }
        return 0;
    }
    }
}

static int parse_listen(const char *s) {
    const char *colon = strrchr(s, ':');
    if (!colon) return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof R.cfg.listen_host) return -1;
    /* [::1]:port */
    const char *h = s;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(R.cfg.listen_host, h, hl);
    R.cfg.listen_host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return -1;
    R.cfg.port = (int)port;
    return 0;
}

/* "all" (-1), "none" (0) or N followed by s, m, h or d, in seconds. */
static int parse_keep_history(const char *v, int64_t *out) {
    if (strcmp(v, "all") == 0) {
        *out = -1;
        return 0;
    }
    if (strcmp(v, "none") == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno || !*end || end[1]) return -1;
    uint64_t unit = *end == 's'   ? 1
                    : *end == 'm' ? 60
                    : *end == 'h' ? 3600
                    : *end == 'd' ? 86400
                                  : 0;
    if (!unit || n > (uint64_t)INT64_MAX / unit / 1000) return -1;
    *out = (int64_t)(n * unit);
    return 0;
}

static int configure(int argc, char **argv) {
    R.cfg = (relay_config){
        .data_dir = "./weft-data",
        .storage = "file",
        .max_frame = 4u << 20,
        .max_snapshot = 64u << 20,
        .keep_history = "30d",
        .snapshot_wanted = 1000,
        .max_changes = 1024,
        .max_queue = 8u << 20,
        .max_conns = 10000,
        .conn_rate = 2000,
        .conn_burst = 4000,
        .token_rate = 20000,
        .token_burst = 40000,
        .conn_verify_rate = 2000,
        .conn_verify_burst = 8192,
        .ip_accept_rate = 50,
        .ip_accept_burst = 500,
        .ip_conns = 512,
        .ip_hello_rate = 20,
        .ip_hello_burst = 500,
        .ip_space_rate = 5,
        .ip_space_burst = 100,
        .ip_verify_rate = 5000,
        .ip_verify_burst = 40000,
        .handshake_secs = 10,
        .eph_rate = 1048576,
        .idle_unload_secs = 300,
        .eph_burst = 4194304,
        .redis_max_inflight = 20000,
        .redis_wait_ms = 2000,
        .format_level = WEFT_FORMAT_LEVEL,
        .blob_grace_secs = 30 * 86400,
        .blob_url_secs = 3600,
    };
    for (size_t i = 0; i < N_OPTS; i++) {
        char env[64] = "WEFT_RELAY_";
        size_t n = strlen(env);
        for (const char *p = opts[i].name; *p && n < sizeof env - 1; p++)
            env[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        env[n] = 0;
        const char *v = getenv(env);
        if (v && set_opt(&opts[i], v)) {
            fprintf(stderr, "weft-relay: bad value for %s: '%s'\n", env, v);
            return -1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        const opt *o = NULL;
        for (size_t k = 0; k < N_OPTS && !o; k++)
            if (strncmp(a, "--", 2) == 0 && strcmp(a + 2, opts[k].name) == 0) o = &opts[k];
        if (!o) {
            fprintf(stderr, "weft-relay: unknown option '%s' (try --help)\n", a);
            return -1;
        }
        const char *v = NULL;
        if (o->kind != O_FLAG) {
            if (++i >= argc) {
                fprintf(stderr, "weft-relay: %s needs a value\n", a);
                return -1;
            }
            v = argv[i];
        }
        if (set_opt(o, v)) {
            fprintf(stderr, "weft-relay: bad value for %s: '%s'\n", a, v);
            return -1;
        }
    }
    if (parse_listen(listen_arg)) {
        fprintf(stderr, "weft-relay: --listen wants HOST:PORT, got '%s'\n", listen_arg);
        return -1;
    }
    if (R.cfg.space_rate > 0 && R.cfg.space_burst <= 0) R.cfg.space_burst = R.cfg.space_rate;
    if (R.cfg.format_level < 1 || R.cfg.format_level > WEFT_FORMAT_LEVEL) {
        fprintf(stderr, "weft-relay: --format-level must be 1..%d\n", WEFT_FORMAT_LEVEL);
        return -1;
    }
    if (parse_keep_history(R.cfg.keep_history, &R.cfg.keep_history_s)) {
        fprintf(stderr,
                "weft-relay: --keep-history wants all, none or a duration such as 30d, "
                "12h, 90m or 45s; got '%s'\n",
                R.cfg.keep_history);
        return -1;
    }
    if (R.cfg.max_snapshot < 1024 || R.cfg.max_snapshot > WEFT_MAX_SEALED_SNAPSHOT_BYTES) {
        fprintf(stderr, "weft-relay: --max-snapshot must be 1 KiB to 256 MiB\n");
        return -1;
    }
    if (R.cfg.blob_grace_secs < 1 || R.cfg.blob_url_secs < 1) {
        fprintf(stderr, "weft-relay: --blob-grace and --blob-url-ttl must be >= 1\n");
        return -1;
    }
    if (R.cfg.max_frame < 1024 || R.cfg.max_changes == 0 || R.cfg.max_queue < 65536 ||
        R.cfg.max_conns == 0) {
        fprintf(stderr, "weft-relay: limits too small (max-frame >= 1024, max-queue >= 65536)\n");
        return -1;
    }
    char err[320];
    if (tls_check(&R.cfg, err, sizeof err)) {
        fprintf(stderr, "weft-relay: %s\n", err);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path) ? -1 : 0;
}

/* Removes dir and everything under it (memory storage's blob directory). */
static void remove_tree(const char *dir) {
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv) {
    if (configure(argc, argv)) return 2;
    lws_set_log_level(R.cfg.verbose ? LLL_ERR | LLL_WARN : LLL_ERR, NULL);
    if (weft_sodium_backend(&R.be) || R.be.random(R.be.ctx, R.hash_seed, sizeof R.hash_seed)) {
        fprintf(stderr, "weft-relay: libsodium failed to start\n");
        return 1;
    }
    weft__idtab_init(&R.spaces, R.hash_seed);
    if (admit_new(&R.admit, R.cfg.admit, R.hash_seed)) return 2;
    int rc;
    relay_store *driver = NULL;
    if (strcmp(R.cfg.storage, "memory") == 0) {
        rc = relay_store_memory_new(&driver);
        if (!rc && (rc = storage_local_new(&R.storage, &R, driver)) != 0)
            driver->ops->close(driver);
    } else if (strcmp(R.cfg.storage, "file") == 0) {
        rc = relay_store_file_new(&driver, R.cfg.data_dir, R.cfg.segment_bytes);
        if (!rc && (rc = storage_local_new(&R.storage, &R, driver)) != 0)
            driver->ops->close(driver);
    } else if (strcmp(R.cfg.storage, "redis") == 0) {
        if (!R.cfg.redis_url || !WEFT_RELAY_REDIS) {
            fprintf(stderr, "weft-relay: --storage redis needs --redis redis://HOST:PORT%s\n",
                    WEFT_RELAY_REDIS ? "" : " and a build with hiredis");
            return 2;
        }
        /* Redis holds the logs; the relay keeps a memory copy of what it
         * read from Redis, for sending (ingest.h). */
        rc = storage_redis_new(&R.storage, &R);
    } else {
        fprintf(stderr, "weft-relay: --storage is file, memory or redis, not '%s'\n",
                R.cfg.storage);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "weft-relay: cannot open %s storage: %s\n", R.cfg.storage,
                weft_strerror(rc));
        return 1;
    }
    static char blob_dir[4096];
    int blobs_temporary = 0;
    if (!R.cfg.blob_dir && strcmp(R.cfg.storage, "memory") == 0) {
        /* Memory storage keeps nothing after exit, files included: a
         * directory of its own, removed at exit, never one in the cwd. */
        const char *tmp = getenv("TMPDIR");
        snprintf(blob_dir, sizeof blob_dir, "%s/weft-relay-blobs-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(blob_dir)) {
            fprintf(stderr, "weft-relay: cannot make a blob directory %s: %s\n", blob_dir,
                    strerror(errno));
            return 1;
        }
        R.cfg.blob_dir = blob_dir;
        blobs_temporary = 1;
    } else if (!R.cfg.blob_dir) {
        mkdir(R.cfg.data_dir, 0755); /* Redis storage has not made it */
        snprintf(blob_dir, sizeof blob_dir, "%s/blobs", R.cfg.data_dir);
        R.cfg.blob_dir = blob_dir;
    }
    if (blobs_open(&R.blobs, R.cfg.blob_dir)) {
        fprintf(stderr, "weft-relay: cannot open the blob store %s: %s\n", R.cfg.blob_dir,
                strerror(errno));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (server_start(&R)) return 1;
    if (strcmp(R.cfg.storage, "redis") == 0 && (rc = ingest_start(&R, pubsub_on_message)) != 0) {
        fprintf(stderr, "weft-relay: --redis %s: %s\n", R.cfg.redis_url, weft_strerror(rc));
        return 2;
    }
    server_run(&R);
    space_close_all(&R);
    R.storage->ops->free(R.storage);
    rl_tab_free(R.token_buckets);
    rl_tab_free(R.ip_limits);
    admit_free(R.admit);
    blobs_close(R.blobs);
    if (blobs_temporary) remove_tree(R.cfg.blob_dir);
    return 0;
}
