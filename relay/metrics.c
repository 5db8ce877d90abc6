/*
 * Metrics: plain counters in relay_metrics, bumped where things happen, and
 * the Prometheus text exposition of them (GET /metrics). Rejections are
 * labelled by the protocol error name, so one counter family covers every
 * limit and check. The relay's log line and clocks live here too: they are
 * the other things every module reports through.
 */
#include "admit.h"
#include "ratelimit.h"
#include "relay.h"
#include "ingest.h"
#include "storage.h"

#include "vec.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double relay_fsync_bounds[RELAY_FSYNC_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};

void relay_metrics_fsync(relay *r, double s) {
    int i = 0;
    while (i < RELAY_FSYNC_BUCKETS && s > relay_fsync_bounds[i])
        i++;
    r->m.fsync_buckets[i]++;
    r->m.fsync_count++;
    r->m.fsync_sum_s += s;
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t need = b->len + (size_t)n + 1;
        char *p = need > b->len ? weft__vec_grow(b->p, &b->cap, need, 1, 256) : NULL;
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
    }
}

static void counter(sbuf *b, const char *name, const char *help, uint64_t v) {
    sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
              (unsigned long long)v);
}
static void gauge(sbuf *b, const char *name, const char *help, uint64_t v) {
    sb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
              (unsigned long long)v);
}

char *relay_metrics_render(const relay *r, size_t *len) {
    sbuf b = {malloc(4096), 0, 4096, 0};
    if (!b.p) return NULL;
    const relay_metrics *m = &r->m;
    gauge(&b, "weft_relay_connections", "open WebSocket connections", m->ws_open);
    gauge(&b, "weft_relay_connections_open",
          "open connections, WebSocket and HTTP (what --max-conns bounds)", m->conns_open);
    counter(&b, "weft_relay_connections_total", "WebSocket connections accepted", m->conns_total);
    counter(&b, "weft_relay_http_requests_total", "HTTP requests served", m->http_requests);
    gauge(&b, "weft_relay_spaces", "spaces open in memory", m->spaces_open);
    counter(&b, "weft_relay_spaces_unloaded_total", "idle spaces closed (--idle-unload)",
            m->spaces_unloaded);
    counter(&b, "weft_relay_parked_expired_total",
            "parked changes dropped after waiting too long for what they depend on",
            m->parked_expired);
    counter(&b, "weft_relay_changes_in_total", "change records received", m->changes_in);
    counter(&b, "weft_relay_changes_stored_total", "change records stored", m->changes_stored);
    counter(&b, "weft_relay_changes_duplicate_total", "change records already held",
            m->changes_dup);
    counter(&b, "weft_relay_changes_out_total", "change records sent to subscribers",
            m->changes_out);
    counter(&b, "weft_relay_bytes_in_total", "WebSocket and REST payload bytes received",
            m->bytes_in);
    counter(&b, "weft_relay_bytes_out_total", "WebSocket and REST payload bytes sent",
            m->bytes_out);
    counter(&b, "weft_relay_frames_in_total", "protocol frames received", m->frames_in);
    counter(&b, "weft_relay_frames_out_total", "protocol frames sent", m->frames_out);
    counter(&b, "weft_relay_slow_consumers_total", "connections dropped for falling behind",
            m->slow_dropped);
    counter(&b, "weft_relay_rest_proofs_replayed_total",
            "REST requests refused (401 PROOF): their Weft-Proof was used before",
            m->proofs_replayed);
    counter(&b, "weft_relay_idempotency_conflicts_total",
            "POSTs refused (422): an Idempotency-Key reused for another request body",
            m->idem_conflicts);
    gauge(&b, "weft_relay_ephemeral_bytes_held",
          "bytes of SIGNAL/PRESENCE frames queued, each counted once however many readers share it",
          m->eph_bytes_held);
    counter(&b, "weft_relay_ephemeral_frames_total", "SIGNAL/PRESENCE frames accepted for fan-out",
            m->eph_frames);
    sb_printf(&b,
              "# HELP weft_relay_ephemeral_dropped_total SIGNAL/PRESENCE frames dropped: over "
              "the space's --eph-rate (per frame), or for a reader whose queue is full (per "
              "reader)\n# TYPE weft_relay_ephemeral_dropped_total counter\n"
              "weft_relay_ephemeral_dropped_total{reason=\"space_rate\"} %llu\n"
              "weft_relay_ephemeral_dropped_total{reason=\"slow_reader\"} %llu\n",
              (unsigned long long)m->eph_dropped_rate, (unsigned long long)m->eph_dropped_slow);
    counter(&b, "weft_relay_snapshots_stored_total", "sealed snapshots stored durably",
            m->snapshots_stored);
    counter(&b, "weft_relay_snapshots_served_total", "sealed snapshots sent to clients",
            m->snapshots_served);
    counter(&b, "weft_relay_snapshots_wanted_total",
            "admin sessions asked to publish a snapshot (--snapshot-wanted)", m->snapshots_wanted);
    counter(&b, "weft_relay_trims_total", "log prefixes trimmed behind a snapshot (--keep-history)",
            m->trims);
    counter(&b, "weft_relay_trimmed_records_total", "log records dropped by trimming",
            m->trimmed_records);
    counter(&b, "weft_relay_trimmed_bytes_total", "bytes of log records dropped by trimming",
            m->trimmed_bytes);
    counter(&b, "weft_relay_trim_failures_total",
            "trims that failed (nothing is lost; the next one retries)", m->trim_failures);
    counter(&b, "weft_relay_snapshots_damaged_total",
            "stored snapshots skipped on read: their CRC, length or signature failed",
            m->snapshots_damaged);
    sb_printf(&b, "# HELP weft_relay_snapshots_refused_total snapshot uploads refused, by reason\n"
                  "# TYPE weft_relay_snapshots_refused_total counter\n");
    static const char *const snap_labels[] = {
#define RELAY_X_SNAP(name, label) label,
        RELAY_SNAP_REASONS(RELAY_X_SNAP)
#undef RELAY_X_SNAP
    };
    for (int i = 0; i < RELAY_SNAP_N; i++)
        sb_printf(&b, "weft_relay_snapshots_refused_total{reason=\"%s\"} %llu\n", snap_labels[i],
                  (unsigned long long)m->snapshots_refused[i]);
    counter(&b, "weft_relay_blob_chunks_stored_total", "file chunks stored durably",
            m->blob_chunks_stored);
    counter(&b, "weft_relay_blob_bytes_in_total", "file chunk bytes stored", m->blob_bytes_in);
    counter(&b, "weft_relay_blob_chunks_served_total",
            "file chunks (or ranges of them) served through signed URLs", m->blob_chunks_served);
    counter(&b, "weft_relay_blob_bytes_out_total", "file chunk bytes served", m->blob_bytes_out);
    counter(&b, "weft_relay_blobs_deleted_total",
            "files deleted because no member renewed their lease within --blob-grace",
            m->blobs_deleted);
    sb_printf(&b, "# HELP weft_relay_blob_refused_total file requests refused, by reason\n"
                  "# TYPE weft_relay_blob_refused_total counter\n");
    static const char *const blob_labels[] = {
#define RELAY_X_BLOB(name, label) label,
        RELAY_BLOB_REASONS(RELAY_X_BLOB)
#undef RELAY_X_BLOB
    };
    for (int i = 0; i < RELAY_BLOB_N; i++)
        sb_printf(&b, "weft_relay_blob_refused_total{reason=\"%s\"} %llu\n", blob_labels[i],
                  (unsigned long long)m->blob_refused[i]);
    sb_printf(&b, "# HELP weft_relay_rejections_total requests, frames and changes refused, by "
                  "reason\n# TYPE weft_relay_rejections_total counter\n");
    for (uint32_t i = 1; i < RELAY_N_REASONS; i++) {
        const char *name = weft_proto_err_name(i);
        if (strcmp(name, "UNKNOWN") == 0) continue;
        sb_printf(&b, "weft_relay_rejections_total{reason=\"%s\"} %llu\n", name,
                  (unsigned long long)m->rejections[i]);
    }
    sb_printf(&b, "# HELP weft_relay_limited_total requests, frames and connections refused by a "
                  "rate or count limit, by limit (docs/RELAY.md)\n"
                  "# TYPE weft_relay_limited_total counter\n");
    for (int i = 0; i < RL_N; i++)
        sb_printf(&b, "weft_relay_limited_total{limit=\"%s\"} %llu\n", rl_limit_label(i),
                  (unsigned long long)m->limited[i]);
    gauge(&b, "weft_relay_admitted_spaces", "spaces on the --admit owners list (0: any)",
          admit_count(r->admit));
    gauge(&b, "weft_relay_limit_addresses", "client addresses whose limits are tracked",
          rl_count(r->ip_limits));
    gauge(&b, "weft_relay_limit_tokens", "(space, token id) buckets tracked",
          rl_count(r->token_buckets));
    sb_printf(&b, "# HELP weft_relay_fsync_seconds storage flush (group commit) latency\n"
                  "# TYPE weft_relay_fsync_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < RELAY_FSYNC_BUCKETS; i++) {
        cum += m->fsync_buckets[i];
        sb_printf(&b, "weft_relay_fsync_seconds_bucket{le=\"%g\"} %llu\n", relay_fsync_bounds[i],
                  (unsigned long long)cum);
    }
    cum += m->fsync_buckets[RELAY_FSYNC_BUCKETS];
    sb_printf(&b, "weft_relay_fsync_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    sb_printf(&b, "weft_relay_fsync_seconds_sum %.9f\nweft_relay_fsync_seconds_count %llu\n",
              m->fsync_sum_s, (unsigned long long)m->fsync_count);
    counter(&b, "weft_relay_storage_sync_failures_total",
            "group-commit syncs that failed (the space was reopened from the disk)",
            m->storage_sync_failures);
    if (r->cfg.tls_cert) {
        sb_printf(&b,
                  "# HELP weft_relay_tls_handshakes_total TLS handshakes, by result (failed: the "
                  "connection went before its handshake finished)\n"
                  "# TYPE weft_relay_tls_handshakes_total counter\n"
                  "weft_relay_tls_handshakes_total{result=\"ok\"} %llu\n"
                  "weft_relay_tls_handshakes_total{result=\"failed\"} %llu\n",
                  (unsigned long long)m->tls_handshakes_ok,
                  (unsigned long long)m->tls_handshakes_failed);
        sb_printf(&b,
                  "# HELP weft_relay_tls_reloads_total certificate reloads on SIGHUP, by result "
                  "(failed: the old pair stays)\n# TYPE weft_relay_tls_reloads_total counter\n"
                  "weft_relay_tls_reloads_total{result=\"ok\"} %llu\n"
                  "weft_relay_tls_reloads_total{result=\"failed\"} %llu\n",
                  (unsigned long long)m->tls_reloads, (unsigned long long)m->tls_reload_failures);
    }
    if (r->redis) {
        gauge(&b, "weft_relay_redis_up", "1 when both Redis connections are up",
              r->storage->ops->ready(r->storage));
        gauge(&b, "weft_relay_redis_inflight_appends",
              "change records sent to Redis and not confirmed yet", m->redis_inflight);
        counter(&b, "weft_relay_redis_reconnects_total",
                "Redis connections re-established after a loss", ingest_reconnects(r));
        counter(&b, "weft_relay_redis_append_failures_total",
                "append batches Redis did not confirm (never acked)", m->redis_append_failures);
        counter(&b, "weft_relay_redis_forks_refused_total",
                "changes refused because another relay stored one with the same author and seq",
                m->redis_forks_refused);
        counter(&b, "weft_relay_redis_spaces_dropped_total",
                "spaces reloaded from Redis after a failed append or a remote delete",
                m->redis_spaces_dropped);
        counter(
            &b, "weft_relay_redis_pauses_total",
            "times a client stopped being read: too many appends in flight (--redis-max-inflight)",
            m->redis_pauses);
        const redis_store_stats *rs = ingest_stats(r);
        if (rs) {
            static const double redis_latency_bounds[REDIS_LATENCY_BUCKETS] = REDIS_LATENCY_BOUNDS;
            sb_printf(&b, "# HELP weft_relay_redis_append_seconds append round trip to Redis "
                          "(the script, and the WAIT with --redis-wait-replicas)\n"
                          "# TYPE weft_relay_redis_append_seconds histogram\n");
            uint64_t c = 0;
            for (int i = 0; i < REDIS_LATENCY_BUCKETS; i++) {
                c += rs->buckets[i];
                sb_printf(&b, "weft_relay_redis_append_seconds_bucket{le=\"%g\"} %llu\n",
                          redis_latency_bounds[i], (unsigned long long)c);
            }
            c += rs->buckets[REDIS_LATENCY_BUCKETS];
            sb_printf(&b,
                      "weft_relay_redis_append_seconds_bucket{le=\"+Inf\"} %llu\n"
                      "weft_relay_redis_append_seconds_sum %.9f\n"
                      "weft_relay_redis_append_seconds_count %llu\n",
                      (unsigned long long)c, rs->sum_s, (unsigned long long)rs->count);
            counter(
                &b, "weft_relay_redis_wait_short_total",
                "appends not acked: fewer replicas than --redis-wait-replicas held them in time",
                rs->wait_short);
            counter(&b, "weft_relay_redis_redirects_total",
                    "Redis Cluster MOVED and ASK answers (slots moved, or failed over)",
                    rs->redirects);
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

void relay_log(const char *fmt, ...) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1024];
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ ", ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

uint64_t relay_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t relay_unix_s(void) {
    return (uint64_t)time(NULL);
}
