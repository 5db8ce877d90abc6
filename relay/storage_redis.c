/*
 * Redis storage (storage_redis.h), driven from the libwebsockets loop.
 *
 * Key scheme, per space (hex = the space id in lowercase hex; the braces are
 * a Redis Cluster hash tag, so one space's keys live in one slot and the
 * append script may touch them all):
 *
 *   weft:{hex}:seq     string  the space's head relay sequence (INCR)
 *   weft:{hex}:log     stream  one entry per record, ID "<rseq>-0", field r
 *   weft:{hex}:hashes  hash    dedupe key (change hash, 32 bytes) -> rseq
 *   weft:{hex}:seqs    hash    fork key (author 32 bytes | seq u64 big-endian)
 *                              -> the change hash stored under it
 *   weft:{hex}:new     channel PUBLISHed with the new head after an append
 *   weft:{hex}:eph     channel ephemeral messages between relays (SIGNAL,
 *                      PRESENCE), never stored
 *
 * One Lua script appends a batch: for each record it looks the dedupe key
 * up (a duplicate), then the fork key (another change with the same author
 * and seq: a fork, refused and not stored), else INCRs seq, XADDs with the
 * stream ID equal to the relay sequence and records the hash and the fork
 * key; then it publishes the head once. The fork key makes (author, seq)
 * unique across every relay: two relays that each accepted a different
 * change for it locally cannot both store theirs. Redis runs scripts
 * one at a time, so sequences are gap-free and every relay sees one order.
 * The reply (hence the ACK) comes after Redis wrote the effects to its AOF,
 * and with appendfsync always after it fsynced them (docs/SCALING.md).
 * With cfg.wait_replicas the script does not publish: a WAIT pipelined
 * after it on the same connection says how many replicas hold the batch,
 * and only when enough do is the append answered and the head PUBLISHed,
 * so a failover cannot take back a sequence anyone was told about.
 *
 * Event loop: hiredis' async API needs five hooks (add/del read/write and
 * cleanup). Each connection's socket is dup()ed and adopted into the lws
 * context as a raw file descriptor on a vhost of our own (so the server's
 * protocol table stays untouched); lws polls it with the rest, and its
 * RAW_RX_FILE / RAW_WRITEABLE_FILE callbacks call redisAsyncHandleRead /
 * Write. The dup gives lws and hiredis one descriptor each to close. Read
 * interest is permanent (a Redis socket is always worth reading); write
 * interest is lws_callback_on_writable(), asked for by addWrite.
 *
 * Redis Cluster (redis+cluster:// seeds): one command connection per
 * primary, each command sent to its space's slot's primary (rcluster.c
 * computes slots), the map read with CLUSTER SLOTS at start and whenever a
 * primary's link drops or a MOVED arrives; MOVED, ASK and TRYAGAIN are
 * followed (the formatted command is kept for that), except by appends,
 * which fail instead (redirect() says why). WAIT is per primary connection. The
 * pub/sub link goes to any one node: a cluster forwards classic PUBLISH to
 * every node (docs/SCALING.md, "Redis Cluster", says why not sharded).
 *
 * When Redis goes away every pending callback gets WEFT_EUNAVAILABLE, and a
 * lws timer reconnects; the pub/sub link then subscribes again to every
 * space and reports head 0 ("re-read") for each, since notifications sent
 * while it was down are lost.
 */
#include "storage_redis.h"

#include "rcluster.h"

#include "hex.h"
#include "vec.h"

#include "weft/error.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <libwebsockets.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RS_EIO WEFT_EUNAVAILABLE /* the core has no I/O error code */

enum { CONN_CMD, CONN_SUB };

struct rnode;

typedef struct rconn {
    struct redis_store *st;
    struct rnode *node; /* CONN_CMD: the node it talks to */
    int kind;
    redisAsyncContext *ac;
    struct lws *wsi;
    char host[64]; /* where it connected */
    int port;
    int up;     /* Redis answered PING */
    int was_up; /* it did before, on an earlier connection */
} rconn;

/* One Redis server commands go to: the only one, or a cluster primary (or
 * a seed, until the slot map names the primaries). Allocated one by one:
 * hiredis and lws hold pointers into it. */
typedef struct rnode {
    struct redis_store *st;
    char host[64];
    int port;
    int wanted; /* kept connected: the single server, a primary in the map, or a seed before it */
    rconn cmd;
    /* Appends whose scripts were sent this turn and that wait for the WAIT
     * the timer sends once for all of them on this connection (WAIT counts
     * what was written on its own connection). */
    struct op *wait_first, *wait_last;
    lws_sorted_usec_list_t wait_sul;
} rnode;

typedef struct sub_ent {
    uint8_t space[32];
    unsigned refs;
} sub_ent;

#define MAX_NODES 64
#define NO_NODE   0xFFFF

struct redis_store {
    redis_store_config cfg;
    int cluster; /* redis+cluster://: route by slot (docs/SCALING.md, "Redis Cluster") */
    rnode *nodes[MAX_NODES];
    size_t n_nodes;
    uint16_t slot_node[RCLUSTER_SLOTS]; /* index into nodes, or NO_NODE */
    int map_known;                      /* a CLUSTER SLOTS reply filled slot_node */
    int refreshing;                     /* a CLUSTER SLOTS is in flight */
    lws_usec_t refresh_sent;            /* since when (a hung node is given 2 s) */
    int refresh_due;                    /* refresh_sul is scheduled */
    size_t refresh_next, sub_next;      /* round robins over nodes */
    lws_sorted_usec_list_t refresh_sul;
    struct op *retry_first; /* commands answered TRYAGAIN, sent again by retry_sul */
    lws_sorted_usec_list_t retry_sul;
    struct lws_vhost *vh;
    rconn sub; /* pub/sub: the only server, or any cluster node (PUBLISH reaches all) */
    sub_ent *subs;
    size_t n_subs, cap_subs;
    lws_sorted_usec_list_t sul; /* reconnect timer */
    int closing;
    uint64_t reconnects;
    redis_store_stats stats;
};

const redis_store_stats *redis_store_stats_of(const redis_store *st) {
    return &st->stats;
}

static void note_latency(redis_store *st, lws_usec_t since) {
    static const double redis_latency_bounds[REDIS_LATENCY_BUCKETS] = REDIS_LATENCY_BOUNDS;
    double s = (double)(lws_now_usecs() - since) / 1e6;
    int i = 0;
    while (i < REDIS_LATENCY_BUCKETS && s > redis_latency_bounds[i])
        i++;
    st->stats.buckets[i]++;
    st->stats.count++;
    st->stats.sum_s += s;
}

/* The append script; see the opening comment. Integers come back negative
 * for duplicates and 0 for forks, so the reply is one flat array. A seqs
 * entry counts only while the hash it names is still in hashes: a relay
 * older than the seqs key deletes a space without it (DEL of three keys),
 * and what it leaves behind must not refuse the changes of a space created
 * again under the same id. */
/* clang-format off */
static const char append_lua[] =
    "local out = {}\n"
    "local head = nil\n"
    "for i = 2, #ARGV, 3 do\n"
    "  local old = redis.call('HGET', KEYS[3], ARGV[i])\n"
    "  if old then\n"
    "    out[#out + 1] = -tonumber(old)\n"
    "  else\n"
    "    local held = redis.call('HGET', KEYS[4], ARGV[i + 1])\n"
    "    if held and redis.call('HEXISTS', KEYS[3], held) == 1 then\n"
    "      out[#out + 1] = 0\n"
    "    else\n"
    "      local n = redis.call('INCR', KEYS[1])\n"
    "      redis.call('XADD', KEYS[2], n .. '-0', 'r', ARGV[i + 2])\n"
    "      redis.call('HSET', KEYS[3], ARGV[i], n)\n"
    "      redis.call('HSET', KEYS[4], ARGV[i + 1], ARGV[i])\n"
    "      out[#out + 1] = n\n"
    "      head = n\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if head and ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], head) end\n"
    "return out\n";

/* The rate-limit script: a sliding window approximated by two fixed windows
 * (the previous one weighted by how much of it still overlaps), kept in one
 * hash per token id so it is one key (one cluster slot). Time is Redis'
 * own, so relays with skewed clocks agree. */
static const char rate_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local win = tonumber(ARGV[3])\n"
    "local idx = math.floor(now / win)\n"
    "local v = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')\n"
    "local w = tonumber(v[1]) or idx\n"
    "local c = tonumber(v[2]) or 0\n"
    "local p = tonumber(v[3]) or 0\n"
    "if w > idx then idx = w end\n"
    "if w == idx - 1 then p = c; c = 0 elseif w < idx - 1 then p = 0; c = 0 end\n"
    "local used = p * (1 - (now % win) / win) + c\n"
    "local n = tonumber(ARGV[1])\n"
    "if used + n > tonumber(ARGV[2]) then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'w', idx, 'c', c + n, 'p', p)\n"
    "redis.call('PEXPIRE', KEYS[1], 2 * win)\n"
    "return 1\n";

/* Stores a sealed snapshot (its stored form, common/snapfile.h) as the
 * space's newest, keeping the one before it: refused (0) when its base is
 * below the newest held; an equal base replaces the newest. One script, so
 * two relays storing at once never leave a torn pair. */
static const char snap_put_lua[] =
    "local cur = redis.call('HGET', KEYS[1], 'base')\n"
    "local b = tonumber(ARGV[1])\n"
    "if cur and b < tonumber(cur) then return 0 end\n"
    "if not cur or b ~= tonumber(cur) then\n"
    "  local n = redis.call('HGET', KEYS[1], 'new')\n"
    "  if n then redis.call('HSET', KEYS[1], 'old', n) end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'base', ARGV[1], 'new', ARGV[2])\n"
    "return 1\n";

/* Trims a space's log up to ARGV[1] (--keep-history): the checkpoint first
 * (weft:{hex}:trim, common/trimfile.h), then XTRIM MINID, in one script, so
 * a reader never finds the records gone without the checkpoint that
 * replaces them. A cut at or below the current one does nothing (0). */
static const char trim_lua[] =
    "local cur = tonumber(redis.call('HGET', KEYS[1], 'upto') or '0')\n"
    "if tonumber(ARGV[1]) <= cur then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'upto', ARGV[1], 'ckpt', ARGV[2])\n"
    "redis.call('XTRIM', KEYS[2], 'MINID', (tonumber(ARGV[1]) + 1) .. '-0')\n"
    "return 1\n";
/* clang-format on */

/* "weft:{hex}:<what>" */
static void key_of(char out[96], const uint8_t space[32], const char *what) {
    char hex[WEFT__HEX_LEN(32)];
    weft__hex_encode(hex, sizeof hex, space, 32);
    snprintf(out, 96, "weft:{%s}:%s", hex, what);
}

/* The slot of every key of a space: they all carry the tag {hex}. */
static unsigned space_slot(const uint8_t space[32]) {
    char hex[WEFT__HEX_LEN(32)];
    weft__hex_encode(hex, sizeof hex, space, 32);
    return rcluster_crc16((const uint8_t *)hex, 64) & (RCLUSTER_SLOTS - 1);
}

int redis_url_parse(const char *url, char *host, size_t host_cap, int *port) {
    static const char scheme[] = "redis://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0) return WEFT_EINVAL;
    const char *h = url + sizeof scheme - 1, *end = h + strcspn(h, ":/");
    size_t hlen = (size_t)(end - h);
    if (!hlen || hlen >= host_cap) return WEFT_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    *port = 6379;
    if (*end == ':') {
        char *e;
        long p = strtol(end + 1, &e, 10);
        if (e == end + 1 || p <= 0 || p > 65535 || (*e && strcmp(e, "/") != 0)) return WEFT_EINVAL;
        *port = (int)p;
    } else if (*end && strcmp(end, "/") != 0) {
        return WEFT_EINVAL;
    }
    return 0;
}

/* ---- hiredis <-> lws glue ---- */

static void ev_add_write(void *priv) {
    rconn *c = priv;
    if (c->wsi) lws_callback_on_writable(c->wsi);
}

static void ev_noop(void *priv) {
    (void)priv;
}

static void schedule_reconnect(redis_store *st);
static void schedule_refresh(redis_store *st, int ms);

/* hiredis is freeing the context (it closes its descriptor): let go of
 * ours. The wsi is killed on the next service turn, not here, because we may
 * be inside one of its callbacks. */
static void ev_cleanup(void *priv) {
    rconn *c = priv;
    c->ac = NULL;
    c->up = 0;
    if (c->wsi) {
        lws_set_opaque_user_data(c->wsi, NULL);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
        c->wsi = NULL;
    }
    /* Every way a context dies passes here (a failed connect calls no
     * disconnect callback), so this is where reconnecting is decided. A
     * cluster node that went away may have failed over: ask for the map. */
    if (!c->st->closing) {
        schedule_reconnect(c->st);
        if (c->st->cluster && c->kind == CONN_CMD) schedule_refresh(c->st, 100);
    }
}

static int callback_redis(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len) {
    (void)user;
    (void)in;
    (void)len;
    rconn *c = lws_get_opaque_user_data(wsi);
    if (!c || c->wsi != wsi) return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (c->ac) redisAsyncHandleRead(c->ac); /* may free c->ac: nothing after */
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (c->ac) redisAsyncHandleWrite(c->ac);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        /* lws saw a hangup before hiredis saw the EOF: hiredis can no longer
         * be told about the socket, so it is torn down here. */
        c->wsi = NULL;
        if (c->ac) redisAsyncFree(c->ac);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols redis_protocols[] = {
    {"weft-redis", callback_redis, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void sub_message(redisAsyncContext *ac, void *reply_, void *priv);

static void on_connect(const redisAsyncContext *ac, int status) {
    (void)ac;
    (void)status; /* "up" waits for the PING; a failure goes through ev_cleanup */
}

/* A connection counts as up once Redis answers PING: a Redis restarting
 * accepts connections while it still loads its AOF and answers LOADING to
 * everything, and commands sent then would only fail. So an error drops the
 * connection and the reconnect timer asks again later. */
static void on_ping(redisAsyncContext *ac, void *reply_, void *priv) {
    rconn *c = priv;
    const redisReply *r = reply_;
    if (!r) return; /* the connection is going away already */
    if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) {
        c->up = 1;
        if (c->was_up) c->st->reconnects++;
        c->was_up = 1;
        return;
    }
    if (!c->st->closing)
        lwsl_notice("weft-redis: %s:%d not ready: %s\n", c->host, c->port,
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected PING reply");
    redisAsyncDisconnect(ac);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    (void)status;
    rconn *c = ac->data;
    c->up = 0;
    if (!c->st->closing)
        lwsl_notice("weft-redis: connection %d to %s:%d lost: %s\n", c->kind, c->host, c->port,
                    ac->errstr ? ac->errstr : "closed");
}

static int subscribe_one(redis_store *st, const uint8_t space[32]) {
    rconn *c = &st->sub;
    if (!c->ac) return 0; /* the reconnect subscribes */
    char ch[96], eph[96];
    key_of(ch, space, "new");
    key_of(eph, space, "eph");
    const char *argv[3] = {"SUBSCRIBE", ch, eph};
    size_t lens[3] = {9, strlen(ch), strlen(eph)};
    return redisAsyncCommandArgv(c->ac, sub_message, st, 3, argv, lens) == REDIS_OK ? 0 : RS_EIO;
}

static int conn_open(redis_store *st, rconn *c, const char *host, int port) {
    if (c->ac) return 0;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac) return WEFT_ENOMEM;
    if (ac->err) {
        lwsl_notice("weft-redis: connect %s:%d: %s\n", host, port, ac->errstr);
        redisAsyncFree(ac);
        return RS_EIO;
    }
    int fd = dup(ac->c.fd);
    lws_sock_file_fd_type desc;
    desc.filefd = fd;
    struct lws *wsi = fd < 0 ? NULL
                             : lws_adopt_descriptor_vhost(st->vh, LWS_ADOPT_RAW_FILE_DESC, desc,
                                                          redis_protocols[0].name, NULL);
    if (!wsi) {
        if (fd >= 0) close(fd);
        redisAsyncFree(ac);
        return RS_EIO;
    }
    c->ac = ac;
    c->wsi = wsi;
    c->up = 0;
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = ev_noop;
    ac->ev.delRead = ev_noop;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_noop;
    ac->ev.cleanup = ev_cleanup;
    lws_set_opaque_user_data(wsi, c);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* hiredis notices the connection is up on the first writeable event.
     * PING goes first, before any SUBSCRIBE turns the link to pub/sub. */
    lws_callback_on_writable(wsi);
    if (redisAsyncCommand(ac, on_ping, c, "PING") != REDIS_OK) return RS_EIO;
    if (c->kind == CONN_SUB)
        for (size_t i = 0; i < st->n_subs; i++)
            if (subscribe_one(st, st->subs[i].space)) return RS_EIO;
    return 0;
}

/* The pub/sub link: to the only server, or to the next cluster node in
 * turn (so a dead node is not retried forever; any node hears every
 * PUBLISH of the cluster). */
static int sub_open(redis_store *st) {
    if (st->sub.ac || !st->n_nodes) return 0;
    const rnode *n = st->nodes[st->sub_next++ % st->n_nodes];
    return conn_open(st, &st->sub, n->host, n->port);
}

static void reconnect(lws_sorted_usec_list_t *sul) {
    redis_store *st = lws_container_of(sul, redis_store, sul);
    if (st->closing) return;
    int ok = 1;
    for (size_t i = 0; i < st->n_nodes; i++) {
        rnode *n = st->nodes[i];
        if (n->wanted) ok &= !conn_open(st, &n->cmd, n->host, n->port);
    }
    ok &= !sub_open(st);
    if (!ok) schedule_reconnect(st);
}

static void schedule_reconnect(redis_store *st) {
    int ms = st->cfg.reconnect_ms > 0 ? st->cfg.reconnect_ms : 200;
    lws_sul_schedule(st->cfg.ctx, 0, &st->sul, reconnect, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* ---- cluster: nodes and the slot map ---- */

/* The node at host:port, made (and connected) when new. NULL: too many. */
static rnode *node_get(redis_store *st, const char *host, int port) {
    for (size_t i = 0; i < st->n_nodes; i++)
        if (st->nodes[i]->port == port && strcmp(st->nodes[i]->host, host) == 0)
            return st->nodes[i];
    if (st->n_nodes == MAX_NODES || strlen(host) >= sizeof st->nodes[0]->host) return NULL;
    rnode *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->st = st;
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    n->cmd.st = st;
    n->cmd.node = n;
    n->cmd.kind = CONN_CMD;
    st->nodes[st->n_nodes++] = n;
    return n;
}

static size_t node_index(const redis_store *st, const rnode *n) {
    size_t i = 0;
    while (st->nodes[i] != n)
        i++;
    return i;
}

/* Where a command for a slot goes: its primary; before the map is known,
 * any seed that is connected (a MOVED then says where). */
static rnode *node_for_slot(redis_store *st, unsigned slot) {
    if (!st->cluster) return st->nodes[0];
    if (st->slot_node[slot] != NO_NODE) return st->nodes[st->slot_node[slot]];
    for (size_t i = 0; i < st->n_nodes; i++)
        if (st->nodes[i]->wanted && st->nodes[i]->cmd.ac) return st->nodes[i];
    return NULL;
}

/* CLUSTER SLOTS: [[start, end, [host, port, id...], replicas...], ...].
 * An empty host means the node that answered. Replaces the whole map. */
static int slots_parse(redis_store *st, const redisReply *r, const char *asked) {
    if (r->type != REDIS_REPLY_ARRAY) return WEFT_EMALFORMED;
    static uint16_t map[RCLUSTER_SLOTS];
    for (size_t i = 0; i < RCLUSTER_SLOTS; i++)
        map[i] = NO_NODE;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
            e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            return WEFT_EMALFORMED;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        long long port = e->element[2]->element[1]->integer;
        const char *host = e->element[2]->element[0]->str;
        if (lo < 0 || hi < lo || hi >= RCLUSTER_SLOTS || port <= 0 || port > 65535)
            return WEFT_EMALFORMED;
        rnode *n = node_get(st, *host ? host : asked, (int)port);
        if (!n) return WEFT_ENOMEM;
        for (long long s = lo; s <= hi; s++)
            map[s] = (uint16_t)node_index(st, n);
    }
    memcpy(st->slot_node, map, sizeof map);
    for (size_t i = 0; i < st->n_nodes; i++)
        st->nodes[i]->wanted = 0;
    for (size_t s = 0; s < RCLUSTER_SLOTS; s++)
        if (map[s] != NO_NODE) st->nodes[map[s]]->wanted = 1;
    st->map_known = 1;
    return 0;
}

/* 1 when every slot has a primary whose connection is up. */
static int map_whole(const redis_store *st) {
    if (!st->map_known) return 0;
    for (size_t s = 0; s < RCLUSTER_SLOTS; s++)
        if (st->slot_node[s] == NO_NODE || !st->nodes[st->slot_node[s]]->cmd.up) return 0;
    return 1;
}

static void on_slots(redisAsyncContext *ac, void *reply_, void *priv) {
    redis_store *st = priv;
    const redisReply *r = reply_;
    st->refreshing = 0;
    if (st->closing) return;
    const rconn *c = ac->data;
    int rc = !r || r->type == REDIS_REPLY_ERROR ? RS_EIO : slots_parse(st, r, c->host);
    if (rc) {
        lwsl_notice("weft-redis: CLUSTER SLOTS from %s:%d: %s\n", c->host, c->port,
                    r && r->type == REDIS_REPLY_ERROR ? r->str : weft_strerror(rc));
        schedule_refresh(st, 250);
        return;
    }
    reconnect(&st->sul); /* connects the primaries it named */
    /* During a failover the map still names the dead primary: ask again
     * until every slot's primary answers. */
    if (!map_whole(st)) schedule_refresh(st, 250);
}

/* Asks a node for the slot map: one that is up, in turn, else any. */
static void refresh(lws_sorted_usec_list_t *sul) {
    redis_store *st = lws_container_of(sul, redis_store, refresh_sul);
    st->refresh_due = 0;
    if (st->closing || (st->refreshing && lws_now_usecs() - st->refresh_sent < 2 * LWS_US_PER_SEC))
        return;
    rconn *pick = NULL;
    for (size_t k = 0; k < st->n_nodes && !pick; k++) {
        rnode *n = st->nodes[(st->refresh_next + k) % st->n_nodes];
        if (n->cmd.up) pick = &n->cmd;
    }
    st->refresh_next++;
    if (!pick) {
        reconnect(&st->sul);
        schedule_refresh(st, 250);
        return;
    }
    if (redisAsyncCommand(pick->ac, on_slots, st, "CLUSTER SLOTS") == REDIS_OK) {
        st->refreshing = 1;
        st->refresh_sent = lws_now_usecs();
    } else
        schedule_refresh(st, 250);
}

static void schedule_refresh(redis_store *st, int ms) {
    if (!st->cluster || st->closing || st->refresh_due) return;
    st->refresh_due = 1;
    lws_sul_schedule(st->cfg.ctx, 0, &st->refresh_sul, refresh, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* redis+cluster://host:port[,host:port...]: the seed nodes. */
static int cluster_seeds(redis_store *st, const char *url) {
    static const char scheme[] = "redis+cluster://";
    const char *p = url + sizeof scheme - 1;
    while (*p) {
        size_t len = strcspn(p, ",");
        char one[128], host[64];
        int port;
        if (len + 8 >= sizeof one) return WEFT_EINVAL;
        snprintf(one, sizeof one, "redis://%.*s", (int)len, p);
        if (redis_url_parse(one, host, sizeof host, &port)) return WEFT_EINVAL;
        rnode *n = node_get(st, host, port);
        if (!n) return WEFT_EINVAL;
        n->wanted = 1;
        p += len;
        if (*p == ',' && !*++p) return WEFT_EINVAL;
    }
    return st->n_nodes ? 0 : WEFT_EINVAL;
}

/* ---- the store ---- */

int redis_store_new(redis_store **out, const redis_store_config *cfg) {
    redis_store *st = calloc(1, sizeof *st);
    if (!st) return WEFT_ENOMEM;
    st->cfg = *cfg;
    st->sub.st = st;
    st->sub.kind = CONN_SUB;
    for (size_t i = 0; i < RCLUSTER_SLOTS; i++)
        st->slot_node[i] = NO_NODE;
    int rc;
    if (cfg->url && strncmp(cfg->url, "redis+cluster://", 16) == 0) {
        st->cluster = 1;
        rc = cluster_seeds(st, cfg->url);
    } else {
        char host[64];
        int port;
        rc = redis_url_parse(cfg->url, host, sizeof host, &port);
        rnode *n = rc ? NULL : node_get(st, host, port);
        if (!rc && !n) rc = WEFT_ENOMEM;
        if (n) n->wanted = 1;
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = redis_protocols;
    info.vhost_name = "weft-redis";
    st->vh = rc ? NULL : lws_create_vhost(cfg->ctx, &info);
    if (!rc && !st->vh) rc = WEFT_ENOMEM;
    if (rc) {
        for (size_t i = 0; i < st->n_nodes; i++)
            free(st->nodes[i]);
        free(st);
        return rc;
    }
    /* A Redis that is not up yet is retried, like one that goes away. */
    reconnect(&st->sul);
    schedule_refresh(st, 0);
    *out = st;
    return 0;
}

static void fail_unwaited(rnode *n);
static void fail_retries(redis_store *st);

void redis_store_free(redis_store *st) {
    if (!st) return;
    st->closing = 1;
    lws_sul_cancel(&st->sul);
    lws_sul_cancel(&st->refresh_sul);
    lws_sul_cancel(&st->retry_sul);
    fail_retries(st);
    if (st->sub.ac) redisAsyncFree(st->sub.ac);
    for (size_t i = 0; i < st->n_nodes; i++) {
        rnode *n = st->nodes[i];
        lws_sul_cancel(&n->wait_sul);
        if (n->cmd.ac) redisAsyncFree(n->cmd.ac); /* fails pending callbacks */
        fail_unwaited(n);                         /* their scripts were answered (failed) above */
    }
    lws_vhost_destroy(st->vh);
    for (size_t i = 0; i < st->n_nodes; i++)
        free(st->nodes[i]);
    free(st->subs);
    free(st);
}

/* A cluster counts as up while the map is known and some primary answers:
 * a failed primary's spaces get errors until its replica takes over, the
 * other spaces carry on (and a load balancer keeps the relay in). */
int redis_store_connected(const redis_store *st) {
    if (!st->sub.up) return 0;
    if (!st->cluster) return st->nodes[0]->cmd.up;
    for (size_t s = 0; st->map_known && s < RCLUSTER_SLOTS; s++)
        if (st->slot_node[s] != NO_NODE && st->nodes[st->slot_node[s]]->cmd.up) return 1;
    return 0;
}

uint64_t redis_store_reconnects(const redis_store *st) {
    return st->reconnects;
}
/* One pending command: which callback to answer, and how. */
typedef struct op {
    int kind;
    union {
        redis_append_fn append;
        redis_read_fn read;
        redis_head_fn head;
        redis_rate_fn rate;
        redis_snap_fn snap;
    } fn;
    void *ud;
    size_t n; /* records sent, for appends */
    /* Appends followed by a WAIT: the script's answer, kept until the
     * WAIT's arrives (hiredis answers one connection's commands in order).
     * A WAIT op holds the appends it covers in `batch`. */
    redis_store *st;
    lws_usec_t sent;
    int waiting;           /* answered by a WAIT, not by its script's reply */
    int script_rc;         /* the script's answer: 0, or why it failed */
    int script_done;       /* its reply came */
    int late_rc;           /* the batch failed before its reply came: answer this */
    struct op *retry_next; /* the store's TRYAGAIN list */
    struct op *wait_next;  /* the store's list, then the WAIT op's batch */
    struct op *batch;      /* OP_WAIT: the appends it answers, in order */
    rnode *node;           /* where it was sent (appends: whose WAIT answers it) */
    char *cmd;             /* the command as sent, kept for a MOVED or ASK (cluster) */
    int cmd_len;
    int redirects;
    unsigned slot;
    uint64_t *seq;
    uint8_t *dup;
    uint8_t space[32];
} op;

enum {
    OP_APPEND,
    OP_WAIT,
    OP_READ,
    OP_HEAD,
    OP_DELETE,
    OP_RATE,
    OP_SNAP_PUT,
    OP_SNAP_GET,
    OP_TRIM
};

static void op_free(op *o);

static int reply_error(const redisReply *r) {
    if (!r) return RS_EIO; /* disconnected or freed before the answer */
    if (r->type == REDIS_REPLY_ERROR) {
        lwsl_err("weft-redis: %s\n", r->str);
        return RS_EIO;
    }
    return 0;
}

/* The script's reply: into o->seq and o->dup, or o->script_rc. */
static void append_parse(op *o, const redisReply *r) {
    int rc = reply_error(r);
    if (!rc && (r->type != REDIS_REPLY_ARRAY || r->elements != o->n)) rc = WEFT_EMALFORMED;
    if (!rc) {
        o->seq = malloc(o->n * sizeof *o->seq + 1);
        o->dup = malloc(o->n + 1);
        if (!o->seq || !o->dup) rc = WEFT_ENOMEM;
    }
    for (size_t i = 0; !rc && i < o->n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_INTEGER) {
            rc = WEFT_EMALFORMED;
            break;
        }
        o->dup[i] = e->integer < 0 ? REDIS_APPEND_DUP : e->integer == 0 ? REDIS_APPEND_FORK : 0;
        o->seq[i] = (uint64_t)(e->integer < 0 ? -e->integer : e->integer);
    }
    o->script_rc = rc;
}

/* Answers the append: rc, or the script's own failure. */
static void append_done(op *o, int rc) {
    if (!rc) rc = o->script_rc;
    if (o->st) note_latency(o->st, o->sent);
    if (rc)
        o->fn.append(o->ud, rc, NULL, NULL, 0);
    else
        o->fn.append(o->ud, 0, o->seq, o->dup, o->n);
    free(o->seq);
    free(o->dup);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* The highest relay sequence an append stored (0: none). */
static uint64_t head_of(const op *o) {
    uint64_t head = 0;
    for (size_t i = 0; !o->script_rc && i < o->n; i++)
        if (!o->dup[i] && o->seq[i] > head) head = o->seq[i];
    return head;
}

/* Tells the other relays about a space's new head. */
static void publish_head(redis_store *st, const uint8_t space[32], uint64_t head) {
    const rnode *n = node_for_slot(st, space_slot(space));
    redisAsyncContext *ac = n ? n->cmd.ac : NULL;
    if (!head || !ac || st->closing) return;
    char ch[96], h[24];
    key_of(ch, space, "new");
    snprintf(h, sizeof h, "%llu", (unsigned long long)head);
    const char *argv[3] = {"PUBLISH", ch, h};
    size_t lens[3] = {7, strlen(ch), strlen(h)};
    redisAsyncCommandArgv(ac, NULL, NULL, 3, argv, lens);
}

/* Answers every append of a list with rc (or its script's failure), and
 * when they succeeded, announces their heads; frees them. */
static void answer_batch(redis_store *st, op *list, int rc) {
    for (op *o = list, *next; o; o = next) {
        next = o->wait_next;
        if (!o->script_done) { /* hiredis still holds it: its reply answers */
            o->waiting = 0;
            o->late_rc = rc ? rc : RS_EIO;
            continue;
        }
        /* append_done frees the script's answer: take the head first. */
        uint64_t head = !rc ? head_of(o) : 0;
        append_done(o, rc);
        publish_head(st, o->space, head);
        op_free(o);
    }
}

static void fail_unwaited(rnode *n) {
    op *list = n->wait_first;
    n->wait_first = n->wait_last = NULL;
    answer_batch(n->st, list, RS_EIO);
}

/* WAIT's reply: how many replicas hold everything written on this
 * connection so far, so every append of its batch. Enough: answer them,
 * then tell the other relays about the new heads. */
static void wait_reply(op *w, const redisReply *r) {
    redis_store *st = w->st;
    int rc = reply_error(r);
    if (!rc && r->type != REDIS_REPLY_INTEGER) rc = WEFT_EMALFORMED;
    if (!rc && r->integer < st->cfg.wait_replicas) {
        for (op *o = w->batch; o; o = o->wait_next)
            st->stats.wait_short++;
        lwsl_warn("weft-redis: WAIT: %lld of %d replicas in %d ms: not acknowledged\n",
                  (long long)r->integer, st->cfg.wait_replicas, st->cfg.wait_ms);
        rc = RS_EIO;
    }
    answer_batch(st, w->batch, rc);
}

/* The timer: one WAIT for every append sent since the last one. */
static void send_wait(lws_sorted_usec_list_t *sul) {
    rnode *n = lws_container_of(sul, rnode, wait_sul);
    redis_store *st = n->st;
    if (!n->wait_first) return;
    op *w = malloc(sizeof *w);
    redisAsyncContext *ac = n->cmd.ac;
    if (!w || !ac) {
        free(w);
        fail_unwaited(n);
        return;
    }
    *w = (op){.kind = OP_WAIT, .st = st, .batch = n->wait_first};
    n->wait_first = n->wait_last = NULL;
    char nrep[16], ms[16];
    snprintf(nrep, sizeof nrep, "%d", st->cfg.wait_replicas);
    snprintf(ms, sizeof ms, "%d", st->cfg.wait_ms > 0 ? st->cfg.wait_ms : 2000);
    const char *argv[3] = {"WAIT", nrep, ms};
    size_t lens[3] = {4, strlen(nrep), strlen(ms)};
    if (redisAsyncCommandArgv(ac, on_reply, w, 3, argv, lens) != REDIS_OK) {
        answer_batch(st, w->batch, RS_EIO);
        free(w);
    }
}

/* XRANGE reply: [[id, [field, value]], ...] with id "<rseq>-0". */
static void read_reply(const op *o, const redisReply *r) {
    int rc = reply_error(r);
    if (!rc && r->type != REDIS_REPLY_ARRAY) rc = WEFT_EMALFORMED;
    size_t n = rc ? 0 : r->elements;
    uint64_t *seq = malloc(n * sizeof *seq + 1);
    const uint8_t **recs = malloc(n * sizeof *recs + 1);
    size_t *lens = malloc(n * sizeof *lens + 1);
    if (!rc && (!seq || !recs || !lens)) rc = WEFT_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
            e->element[1]->elements != 2 || e->element[1]->element[1]->type != REDIS_REPLY_STRING) {
            rc = WEFT_EMALFORMED;
            break;
        }
        seq[i] = strtoull(e->element[0]->str, NULL, 10);
        recs[i] = (const uint8_t *)e->element[1]->element[1]->str;
        lens[i] = e->element[1]->element[1]->len;
    }
    if (rc)
        o->fn.read(o->ud, rc, NULL, NULL, NULL, 0);
    else
        o->fn.read(o->ud, 0, seq, recs, lens, n);
    free(seq);
    free(recs);
    free(lens);
}

static void head_reply(const op *o, const redisReply *r) {
    int rc = reply_error(r);
    uint64_t head = 0;
    if (!rc && o->kind == OP_HEAD) {
        if (r->type == REDIS_REPLY_STRING)
            head = strtoull(r->str, NULL, 10);
        else if (r->type != REDIS_REPLY_NIL)
            rc = WEFT_EMALFORMED;
    }
    if (!rc && (o->kind == OP_SNAP_PUT || o->kind == OP_TRIM)) { /* 1 done, 0 refused */
        if (r->type == REDIS_REPLY_INTEGER)
            head = r->integer == 1;
        else
            rc = WEFT_EMALFORMED;
    }
    o->fn.head(o->ud, rc, head);
}

static void rate_reply(const op *o, const redisReply *r) {
    int rc = reply_error(r);
    if (!rc && r->type != REDIS_REPLY_INTEGER) rc = WEFT_EMALFORMED;
    o->fn.rate(o->ud, rc, rc ? 0 : r->integer == 1);
}

/* HMGET new old: each a string or nil. */
static void snap_reply(const op *o, const redisReply *r) {
    int rc = reply_error(r);
    if (!rc && (r->type != REDIS_REPLY_ARRAY || r->elements != 2)) rc = WEFT_EMALFORMED;
    const uint8_t *blob[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    for (size_t i = 0; !rc && i < 2; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_STRING) {
            blob[i] = (const uint8_t *)e->str;
            len[i] = e->len;
        } else if (e->type != REDIS_REPLY_NIL) {
            rc = WEFT_EMALFORMED;
        }
    }
    o->fn.snap(o->ud, rc, blob, len);
}

static int dispatch(redis_store *st, op *o, int asking);

/* An append sent to o->node is answered by the WAIT the timer sends there
 * after this turn's appends. */
static void wait_enqueue(op *o) {
    rnode *node = o->node;
    o->waiting = 1;
    if (node->wait_last)
        node->wait_last->wait_next = o;
    else
        node->wait_first = o;
    node->wait_last = o;
    if (node->wait_first == o)
        lws_sul_schedule(node->st->cfg.ctx, 0, &node->wait_sul, send_wait, 0);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* The retry timer: every command that met TRYAGAIN goes again. One that
 * cannot be sent is answered as if its connection had dropped. */
static void send_retries(lws_sorted_usec_list_t *sul) {
    redis_store *st = lws_container_of(sul, redis_store, retry_sul);
    op *list = st->retry_first;
    st->retry_first = NULL;
    for (op *o = list, *next; o; o = next) {
        next = o->retry_next;
        o->retry_next = NULL;
        if (dispatch(st, o, 0)) on_reply(NULL, NULL, o);
    }
}

static void fail_retries(redis_store *st) {
    while (st->retry_first) {
        op *o = st->retry_first;
        st->retry_first = o->retry_next;
        on_reply(NULL, NULL, o);
    }
}

/* A cluster's answer that the command belongs elsewhere or later: MOVED
 * (the map learns the slot at once and is refreshed), ASK (this command
 * only, on the named node, after ASKING), TRYAGAIN (a multi-key command on
 * a slot half migrated: again in 50 ms, in order). Appends are never sent
 * again: ingest.c counts on one space's appends being answered in the
 * order they were sent, which a command re-sent elsewhere could overtake;
 * a failed append drops the space there, and its client resends.
 * Returns 1 when the command is on its way again. */
static int redirect(op *o, const redisReply *r) {
    redis_store *st = o->st;
    rcluster_redirect rd;
    if (!st || !o->cmd || !r || r->type != REDIS_REPLY_ERROR) return 0;
    int resend = o->kind != OP_APPEND;
    if (r->len >= 8 && strncmp(r->str, "TRYAGAIN", 8) == 0) {
        if (!resend || ++o->redirects > 5) return 0;
        op **tail = &st->retry_first;
        while (*tail)
            tail = &(*tail)->retry_next;
        *tail = o;
        if (st->retry_first == o)
            lws_sul_schedule(st->cfg.ctx, 0, &st->retry_sul, send_retries, 50 * LWS_US_PER_MS);
        return 1;
    }
    if (!rcluster_parse_redirect(r->str, r->len, &rd)) return 0;
    st->stats.redirects++;
    rnode *n = node_get(st, rd.host, rd.port);
    if (!rd.ask) {
        schedule_refresh(st, 0);
        if (n) {
            st->slot_node[rd.slot] = (uint16_t)node_index(st, n);
            n->wanted = 1;
        }
    }
    if (!n || !resend || ++o->redirects > 5) return 0;
    if (!n->cmd.ac && conn_open(st, &n->cmd, n->host, n->port)) return 0;
    o->node = n; /* ASK: this command goes there, after ASKING */
    return dispatch(st, o, rd.ask) == 0;
}

static void op_free(op *o) {
    if (o->cmd) redisFreeCommand(o->cmd);
    free(o);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    op *o = priv;
    if (redirect(o, reply)) return;
    switch (o->kind) {
    case OP_APPEND:
        append_parse(o, reply);
        o->script_done = 1;
        if (o->waiting) return; /* the WAIT answers it, and frees it */
        append_done(o, o->late_rc);
        break;
    case OP_WAIT:
        wait_reply(o, reply);
        break;
    case OP_READ:
        read_reply(o, reply);
        break;
    case OP_RATE:
        rate_reply(o, reply);
        break;
    case OP_SNAP_GET:
        snap_reply(o, reply);
        break;
    default:
        head_reply(o, reply);
        break;
    }
    op_free(o);
}

/* Sends o's command to the node of its slot (asking: after ASKING). */
static int dispatch(redis_store *st, op *o, int asking) {
    rnode *n = asking ? o->node : node_for_slot(st, o->slot);
    if (!n || !n->cmd.ac) {
        schedule_refresh(st, 100); /* a primary we cannot reach: failed over? */
        return RS_EIO;
    }
    if (asking && redisAsyncCommand(n->cmd.ac, NULL, NULL, "ASKING") != REDIS_OK) return RS_EIO;
    o->node = n;
    return redisAsyncFormattedCommand(n->cmd.ac, on_reply, o, o->cmd, (size_t)o->cmd_len) ==
                   REDIS_OK
               ? 0
               : RS_EIO;
}

static int send_cmd(redis_store *st, op *o, const uint8_t space[32], int argc, const char **argv,
                    const size_t *lens) {
    o->st = st;
    o->slot = space_slot(space);
    o->cmd_len = redisFormatCommandArgv(&o->cmd, argc, argv, lens);
    int rc = o->cmd_len < 0 ? WEFT_ENOMEM : dispatch(st, o, 0);
    if (o->cmd_len < 0) o->cmd = NULL;
    if (rc) op_free(o);
    return rc;
}

int redis_store_append(redis_store *st, const uint8_t space[32], const uint8_t (*keys)[32],
                       const uint8_t (*forks)[REDIS_FORK_KEY], const uint8_t *const *recs,
                       const size_t *lens, size_t n, redis_append_fn fn, void *ud) {
    if (!n || !fn) return WEFT_EINVAL;
    int argc = 8 + 3 * (int)n;
    const char **argv = malloc((size_t)argc * sizeof *argv);
    size_t *alen = malloc((size_t)argc * sizeof *alen);
    op *o = malloc(sizeof *o);
    if (!argv || !alen || !o) {
        free(argv);
        free(alen);
        free(o);
        return WEFT_ENOMEM;
    }
    char k_seq[96], k_log[96], k_hash[96], k_seqs[96], ch[96];
    key_of(k_seq, space, "seq");
    key_of(k_log, space, "log");
    key_of(k_hash, space, "hashes");
    key_of(k_seqs, space, "seqs");
    key_of(ch, space, "new");
    int wait = st->cfg.wait_replicas > 0;
    const char *fixed[8] = {"EVAL", append_lua, "4", k_seq, k_log, k_hash, k_seqs, wait ? "" : ch};
    for (int i = 0; i < 8; i++) {
        argv[i] = fixed[i];
        alen[i] = i == 1 ? sizeof append_lua - 1 : strlen(fixed[i]);
    }
    for (size_t i = 0; i < n; i++) {
        argv[8 + 3 * i] = (const char *)keys[i];
        alen[8 + 3 * i] = 32;
        /* Without fork keys the dedupe key stands in: unique per record, so
         * nothing is refused as a fork. */
        argv[9 + 3 * i] = forks ? (const char *)forks[i] : (const char *)keys[i];
        alen[9 + 3 * i] = forks ? REDIS_FORK_KEY : 32;
        argv[10 + 3 * i] = (const char *)recs[i];
        alen[10 + 3 * i] = lens[i];
    }
    *o = (op){
        .kind = OP_APPEND, .fn.append = fn, .ud = ud, .n = n, .st = st, .sent = lws_now_usecs()};
    memcpy(o->space, space, 32);
    int rc = send_cmd(st, o, space, argc, argv, alen); /* hiredis copied the arguments */
    free(argv);
    free(alen);
    if (rc || !wait) return rc;
    wait_enqueue(o);
    return 0;
}

int redis_store_read(redis_store *st, const uint8_t space[32], uint64_t after, size_t max_n,
                     redis_read_fn fn, void *ud) {
    if (!fn || !max_n) return WEFT_EINVAL;
    op *o = malloc(sizeof *o);
    if (!o) return WEFT_ENOMEM;
    *o = (op){.kind = OP_READ, .fn.read = fn, .ud = ud};
    char k_log[96], from[32], count[32];
    key_of(k_log, space, "log");
    snprintf(from, sizeof from, "%llu-0", (unsigned long long)after + 1);
    snprintf(count, sizeof count, "%zu", max_n);
    const char *argv[6] = {"XRANGE", k_log, from, "+", "COUNT", count};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    return send_cmd(st, o, space, 6, argv, lens);
}

int redis_store_head(redis_store *st, const uint8_t space[32], redis_head_fn fn, void *ud) {
    if (!fn) return WEFT_EINVAL;
    op *o = malloc(sizeof *o);
    if (!o) return WEFT_ENOMEM;
    *o = (op){.kind = OP_HEAD, .fn.head = fn, .ud = ud};
    char k_seq[96];
    key_of(k_seq, space, "seq");
    const char *argv[2] = {"GET", k_seq};
    size_t lens[2] = {3, strlen(k_seq)};
    return send_cmd(st, o, space, 2, argv, lens);
}

int redis_store_delete(redis_store *st, const uint8_t space[32], redis_head_fn fn, void *ud) {
    if (!fn) return WEFT_EINVAL;
    op *o = malloc(sizeof *o);
    if (!o) return WEFT_ENOMEM;
    *o = (op){.kind = OP_DELETE, .fn.head = fn, .ud = ud};
    char k_seq[96], k_log[96], k_hash[96], k_seqs[96], k_snap[96], k_trim[96];
    key_of(k_seq, space, "seq");
    key_of(k_log, space, "log");
    key_of(k_hash, space, "hashes");
    key_of(k_seqs, space, "seqs");
    key_of(k_snap, space, "snap");
    key_of(k_trim, space, "trim");
    const char *argv[7] = {"DEL", k_seq, k_log, k_hash, k_seqs, k_snap, k_trim};
    size_t lens[7] = {3,
                      strlen(k_seq),
                      strlen(k_log),
                      strlen(k_hash),
                      strlen(k_seqs),
                      strlen(k_snap),
                      strlen(k_trim)};
    return send_cmd(st, o, space, 7, argv, lens);
}

int redis_store_snap_put(redis_store *st, const uint8_t space[32], uint64_t base,
                         const uint8_t *blob, size_t len, redis_head_fn fn, void *ud) {
    if (!fn || !blob || !len) return WEFT_EINVAL;
    op *o = malloc(sizeof *o);
    if (!o) return WEFT_ENOMEM;
    *o = (op){.kind = OP_SNAP_PUT, .fn.head = fn, .ud = ud};
    char k_snap[96], b[24];
    key_of(k_snap, space, "snap");
    snprintf(b, sizeof b, "%llu", (unsigned long long)base);
    const char *argv[6] = {"EVAL", snap_put_lua, "1", k_snap, b, (const char *)blob};
    size_t lens[6] = {4, sizeof snap_put_lua - 1, 1, strlen(k_snap), strlen(b), len};
    return send_cmd(st, o, space, 6, argv, lens);
}

int redis_store_trim(redis_store *st, const uint8_t space[32], uint64_t upto, const uint8_t *ckpt,
                     size_t len, redis_head_fn fn, void *ud) {
    if (!fn || !ckpt || !len) return WEFT_EINVAL;
    op *o = malloc(sizeof *o);
    if (!o) return WEFT_ENOMEM;
    *o = (op){.kind = OP_TRIM, .fn.head = fn, .ud = ud};
    char k_trim[96], k_log[96], u[24];
    key_of(k_trim, space, "trim");
    key_of(k_log, space, "log");
    snprintf(u, sizeof u, "%llu", (unsigned long long)upto);
    const char *argv[7] = {"EVAL", trim_lua, "2", k_trim, k_log, u, (const char *)ckpt};
    size_t lens[7] = {4, sizeof trim_lua - 1, 1, strlen(k_trim), strlen(k_log), strlen(u), len};
    return send_cmd(st, o, space, 7, argv, lens);
}

int redis_store_trim_get(redis_store *st, const uint8_t space[32], redis_snap_fn fn, void *ud) {
    if (!fn) return WEFT_EINVAL;
    op *o = malloc(sizeof *o);
    if (!o) return WEFT_ENOMEM;
    *o = (op){.kind = OP_SNAP_GET, .fn.snap = fn, .ud = ud};
    char k_trim[96];
    key_of(k_trim, space, "trim");
    const char *argv[4] = {"HMGET", k_trim, "ckpt", "upto"};
    size_t lens[4] = {5, strlen(k_trim), 4, 4};
    return send_cmd(st, o, space, 4, argv, lens);
}

int redis_store_snap_get(redis_store *st, const uint8_t space[32], redis_snap_fn fn, void *ud) {
    if (!fn) return WEFT_EINVAL;
    op *o = malloc(sizeof *o);
    if (!o) return WEFT_ENOMEM;
    *o = (op){.kind = OP_SNAP_GET, .fn.snap = fn, .ud = ud};
    char k_snap[96];
    key_of(k_snap, space, "snap");
    const char *argv[4] = {"HMGET", k_snap, "new", "old"};
    size_t lens[4] = {5, strlen(k_snap), 3, 3};
    return send_cmd(st, o, space, 4, argv, lens);
}

int redis_store_rate_take(redis_store *st, const uint8_t space[32], const uint8_t id[16],
                          uint32_t n, uint64_t limit, uint32_t window_ms, redis_rate_fn fn,
                          void *ud) {
    if (!fn || !window_ms) return WEFT_EINVAL;
    op *o = malloc(sizeof *o);
    if (!o) return WEFT_ENOMEM;
    *o = (op){.kind = OP_RATE, .fn.rate = fn, .ud = ud};
    char shex[WEFT__HEX_LEN(32)], hex[WEFT__HEX_LEN(16)], key[128], a_n[24], a_limit[24], a_win[24];
    weft__hex_encode(shex, sizeof shex, space, 32);
    weft__hex_encode(hex, sizeof hex, id, 16);
    /* Keyed by space and token id: ids are chosen by issuers (issue 23). */
    snprintf(key, sizeof key, "weft:rl:{%s}:%s", shex, hex);
    snprintf(a_n, sizeof a_n, "%u", n);
    snprintf(a_limit, sizeof a_limit, "%llu", (unsigned long long)limit);
    snprintf(a_win, sizeof a_win, "%u", window_ms);
    const char *argv[7] = {"EVAL", rate_lua, "1", key, a_n, a_limit, a_win};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = i == 1 ? sizeof rate_lua - 1 : strlen(argv[i]);
    return send_cmd(st, o, space, 7, argv, lens);
}

int redis_store_publish(redis_store *st, const uint8_t space[32], const uint8_t *msg, size_t len) {
    const rnode *n = node_for_slot(st, space_slot(space));
    redisAsyncContext *ac = n && n->cmd.up ? n->cmd.ac : NULL;
    if (!ac) return RS_EIO;
    char ch[96];
    key_of(ch, space, "eph");
    const char *argv[3] = {"PUBLISH", ch, (const char *)msg};
    size_t lens[3] = {7, strlen(ch), len};
    return redisAsyncCommandArgv(ac, NULL, NULL, 3, argv, lens) == REDIS_OK ? 0 : RS_EIO;
}

/* ---- pub/sub ---- */

/* Every message of every subscribed channel arrives here (hiredis keeps the
 * SUBSCRIBE callback for the channel's lifetime). */
static void sub_message(redisAsyncContext *ac, void *reply_, void *priv) {
    (void)ac;
    redis_store *st = priv;
    const redisReply *r = reply_;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
    const redisReply *kind = r->element[0], *ch = r->element[1], *val = r->element[2];
    if (kind->type != REDIS_REPLY_STRING || ch->type != REDIS_REPLY_STRING) return;
    /* channel: weft:{<64 hex>}:new or :eph */
    uint8_t space[32];
    if (ch->len != 6 + 64 + 5 || weft__hex_decode(space, 32, NULL, ch->str + 6, 64)) return;
    if (memcmp(ch->str + 6 + 64, "}:eph", 5) == 0) {
        if (strcmp(kind->str, "message") == 0 && val->type == REDIS_REPLY_STRING && st->cfg.on_eph)
            st->cfg.on_eph(st->cfg.ud, space, (const uint8_t *)val->str, val->len);
        return;
    }
    uint64_t head;
    if (strcmp(kind->str, "message") == 0 && val->type == REDIS_REPLY_STRING)
        head = strtoull(val->str, NULL, 10);
    else if (strcmp(kind->str, "subscribe") == 0)
        head = 0; /* (re)subscribed: anything published before was missed */
    else
        return;
    if (st->cfg.on_new) st->cfg.on_new(st->cfg.ud, space, head);
}

int redis_store_subscribe(redis_store *st, const uint8_t space[32]) {
    for (size_t i = 0; i < st->n_subs; i++)
        if (memcmp(st->subs[i].space, space, 32) == 0) {
            st->subs[i].refs++;
            return 0;
        }
    sub_ent *p = weft__vec_grow(st->subs, &st->cap_subs, st->n_subs + 1, sizeof *p, 16);
    if (!p) return WEFT_ENOMEM;
    st->subs = p;
    sub_ent *e = &st->subs[st->n_subs++];
    memcpy(e->space, space, 32);
    e->refs = 1;
    return subscribe_one(st, space);
}

void redis_store_unsubscribe(redis_store *st, const uint8_t space[32]) {
    for (size_t i = 0; i < st->n_subs; i++) {
        if (memcmp(st->subs[i].space, space, 32) != 0) continue;
        if (--st->subs[i].refs) return;
        st->subs[i] = st->subs[--st->n_subs];
        rconn *c = &st->sub;
        if (c->ac) {
            char ch[96], eph[96];
            key_of(ch, space, "new");
            key_of(eph, space, "eph");
            const char *argv[3] = {"UNSUBSCRIBE", ch, eph};
            size_t lens[3] = {11, strlen(ch), strlen(eph)};
            redisAsyncCommandArgv(c->ac, NULL, NULL, 3, argv, lens);
        }
        return;
    }
}
