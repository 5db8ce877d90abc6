/*
 * The storage interface: where a space's change records become durable.
 *
 * One fixed interface, several backends chosen at start-up (storage_memory.c
 * for tests, storage_file.c by default; a Redis backend will implement the
 * same table). A backend stores opaque records per space, numbers them with
 * the space's relay sequence (1, 2, 3... in append order) and hands them back
 * in that order. It checks nothing about their content: the space module has
 * verified each record before it appends it.
 *
 * Durability is explicit: append may buffer, and only after flush returns 0
 * is every record appended before it durable. The relay calls flush once per
 * event-loop turn for all spaces (group commit), then ACKs.
 */
#ifndef WEFT_RELAY_STORAGE_H
#define WEFT_RELAY_STORAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct relay_store relay_store;
typedef struct relay_space_store relay_space_store;

/* Called for each record in relay-sequence order; the bytes are borrowed for
 * the call. A non-zero return stops the walk and is returned by it. */
typedef int (*relay_record_fn)(void *ud, uint64_t rseq, const uint8_t *rec, size_t len);

typedef struct relay_store_ops {
    const char *name;
    /* Opens a space's log, creating it when create is set (else a missing
     * space is WEFT_ENOTFOUND), and replays every stored record through fn
     * (may be NULL). OUT: *out. Returns 0 or a negative WEFT_E code. */
    int (*open_space)(relay_store *st, const uint8_t space[32], int create, relay_space_store **out,
                      relay_record_fn fn, void *ud);
    /* Appends n records; they take relay sequences head+1 .. head+n. OUT:
     * *first (head+1). Not durable until flush. Returns 0 or a WEFT_E code
     * (then the records before the failing one stay appended, the failing
     * one and the rest are not). */
    int (*append)(relay_space_store *s, const uint8_t *const *recs, const size_t *lens, size_t n,
                  uint64_t *first);
    /* Calls fn for records with relay sequence > after, in order, until fn
     * returns non-zero, about max_bytes of records were read, or the head
     * is reached. Records appended but not yet flushed may be returned.
     * Returns 0, fn's non-zero value, or a WEFT_E code (a corrupt record is
     * never handed out: WEFT_EMALFORMED). */
    int (*read)(relay_space_store *s, uint64_t after, size_t max_bytes, relay_record_fn fn,
                void *ud);
    /* The highest relay sequence appended (0: none). */
    uint64_t (*head)(const relay_space_store *s);
    /* Makes every record appended so far, in every space, durable. Returns
     * 0 or a WEFT_E code. */
    int (*flush)(relay_store *st);
    /* Deletes the space's records for good and closes s. */
    int (*delete_space)(relay_space_store *s);
    /* Closes a space (after a flush). NULL is a no-op. */
    void (*close_space)(relay_space_store *s);
    /* Closes the backend; every space must be closed first. NULL is a no-op. */
    void (*close)(relay_store *st);
} relay_store_ops;

struct relay_store {
    const relay_store_ops *ops;
};

/* Every backend's per-space handle starts with this. */
struct relay_space_store {
    relay_store *store;
};

/* Constructors. OUT: *out. Return 0 or a WEFT_E code. */
int relay_store_memory_new(relay_store **out);
/* root: the data directory (created if missing); one subdirectory per
 * space, named by the space id in hex. segment_bytes: size at which a new
 * segment file starts (0: 64 MiB). */
int relay_store_file_new(relay_store **out, const char *root, size_t segment_bytes);

#endif
