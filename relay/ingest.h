/*
 * Redis scale-out wiring (docs/SCALING.md, "Wiring it into the relay"):
 * how a relay with --storage redis keeps its view of each space in step
 * with Redis, without ever blocking on it.
 *
 * One ingest path per space: the space's log, index and the memory mirror
 * its sessions read from are fed only by reading Redis in relay-sequence
 * order (XRANGE after the local head). A change a client sends is checked
 * and committed to the local log at once (so the next change of the same
 * turn can chain on it) and queued in the space's batch for the turn; at
 * the end of the turn one append script per space carries the batch. Its
 * answer fills in the relay sequences; the held ACKs (and POST answers)
 * that wait for the batch go out once the ingest has read up to them, so a
 * client acked by this relay finds its change on this relay too.
 *
 * When Redis does not confirm an append (an error, or Redis went away), the
 * local log holds changes Redis may lack: the space is dropped (its sessions
 * fail with STORAGE, as after a flush error) and loaded again from Redis by
 * the next client. Clients resend what was not acked; dedupe by hash makes
 * that safe. A duplicate answered while appends are in flight goes through
 * Redis too, so DUPLICATE is only ever said of a change Redis holds.
 *
 * Opening a space is asynchronous: the space is "loading" (sessions that
 * need it wait on it) until the ingest reached the head Redis reported.
 * Pub/sub tells this relay when another relay appended (head) and carries
 * SIGNAL/PRESENCE frames between relays (the :eph channel).
 *
 * Without hiredis at build time (WEFT_RELAY_REDIS 0) the functions below
 * are stubs and --storage redis is refused.
 */
#ifndef WEFT_RELAY_INGEST_H
#define WEFT_RELAY_INGEST_H

#include "space.h"

#ifndef WEFT_RELAY_REDIS
#define WEFT_RELAY_REDIS 0
#endif

struct space;
struct session;

typedef struct append_batch append_batch;

/* Internal ACK status of an entry whose append Redis has not confirmed yet
 * (never on the wire). Its value is the record's index in the batch. */
#define ACK_PENDING 0xff

/* Connects to cfg.redis_url on the relay's loop (after server_start).
 * Returns 0 or a WEFT_E code. */
int ingest_start(relay *r);
/* Fails every pending Redis callback and disconnects (before the lws
 * context is destroyed). */
void ingest_stop(relay *r);
/* 1 while appends are queued or in flight (the drain waits for them). */
int ingest_busy(const relay *r);
/* 1 when the relay can serve: no Redis configured, or Redis is up. */
int ingest_ready(const relay *r);
/* Connections to Redis re-established after a loss. */
uint64_t ingest_reconnects(const relay *r);
/* Every 100 ms: retries loads and reads that failed. */
void ingest_tick(relay *r);

/* Starts loading a new space (sp->loading until the head is reached). */
int ingest_open(struct space *sp);
/* Detaches a space from everything in flight and frees its ingest state. */
void ingest_close(struct space *sp);
/* Waits until sp is loaded: fn(ud, 0) then, fn(ud, 1) when it could not
 * be (the space went). *slot holds the waiter until then (waiter_cancel).
 * Returns 0 or WEFT_ENOMEM (then fn is never called). */
int ingest_wait(struct space *sp, waiter **slot, relay_answer_fn fn, void *ud);
/* Waits until this relay has read sp up to the head Redis has now
 * (another relay may have appended what no notification brought yet), so
 * a HELLO's CHALLENGE and a GET are as fresh as Redis: what was acked
 * anywhere before is there. fn(ud, 0) is called then (possibly before
 * this returns, when Redis is unreachable), fn(ud, 1) if the space went.
 * Returns 0 or WEFT_ENOMEM. */
int ingest_sync(struct space *sp, waiter **slot, relay_answer_fn fn, void *ud);

/* Queues a change the local log just committed (origin: the session that
 * sent it, 0 for none) into this turn's batch. OUT: *slot, its index in
 * the batch. Returns 0 or WEFT_ENOMEM. */
int ingest_queue(struct space *sp, const uint8_t *rec, size_t len, const uint8_t hash[32],
                 uint64_t origin, uint32_t *slot);
/* Whether a DUPLICATE answer must wait for Redis (appends in flight). */
int ingest_dup_needs_redis(const struct space *sp);
/* This turn's batch of sp (NULL when none), with a reference for the
 * caller (batch_unref when done). */
append_batch *ingest_batch_ref(struct space *sp);
/* Records queued or in flight for sp, against --redis-max-inflight. */
uint64_t ingest_inflight(const struct space *sp);
/* Sends every space's batch (end of turn). */
void ingest_flush(relay *r);

/* 1: Redis confirmed the batch and the ingest read past it; 0: not yet;
 * -1: not confirmed (nothing in it may be acked). */
int batch_state(const append_batch *b);
/* Turns ACK_PENDING entries into STORED (rseq) or DUPLICATE. */
void batch_resolve(const append_batch *b, ack_entry *e, uint32_t n);
void batch_unref(append_batch *b);

/* Shared rate limit, per token id: spends n units of the credit this relay
 * took from Redis before. Returns 1 when it had them, else 0 (nothing
 * spent: ask with ingest_rate_take). */
int ingest_rate_spend(relay *r, const uint8_t id[16], uint32_t n);
/* Asks Redis for n units (and a chunk of credit on top when it can);
 * fn(ud, 1) when allowed, fn(ud, 0) when not. A Redis error allows: see
 * docs/SCALING.md. Returns 0, or a WEFT_E code when nothing was asked
 * (then fn is never called). */
int ingest_rate_take(relay *r, const uint8_t id[16], uint32_t n, waiter **slot, relay_answer_fn fn,
                     void *ud);

/* Sends an ephemeral frame (already stamped with the sender's key) to the
 * other relays' sessions of the space: to the one holding `peer`, or all
 * when broadcast. */
void ingest_publish_eph(struct space *sp, const uint8_t peer[32], int broadcast,
                        const uint8_t *frame, size_t len);
/* Deletes the space in Redis and tells the other relays to drop it;
 * fn(ud, 0) once Redis confirmed, fn(ud, 1) when it did not. Returns 0,
 * or a WEFT_E code when nothing was sent (then fn is never called). The
 * caller then removes the space locally. */
int ingest_delete(struct space *sp, waiter **slot, relay_answer_fn fn, void *ud);

#endif
