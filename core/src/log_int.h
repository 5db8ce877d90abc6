/*
 * Internal view of weft_log for the replica and snapshots: authors are
 * numbered in the order the log first saw them, and the replica's state
 * uses the same numbers.
 */
#ifndef WEFT_LOG_INT_H
#define WEFT_LOG_INT_H

#include "weft/log.h"
#include "mem.h"

#define WEFT_NO_AUTHOR UINT32_MAX

/* The author's number, or WEFT_NO_AUTHOR when unknown and !create (or when
 * creating failed: out of memory). */
uint32_t weft__log_author(weft_log *log, const uint8_t *key, int create);
uint32_t weft__log_author_count(const weft_log *log);
const uint8_t *weft__log_author_key(const weft_log *log, uint32_t author);
/* Highest contiguous seq, the hash of that change and its last op id. */
uint64_t weft__log_author_seq(const weft_log *log, uint32_t author);
const uint8_t *weft__log_author_hash(const weft_log *log, uint32_t author);
uint64_t weft__log_author_lamport_end(const weft_log *log, uint32_t author);
/* Authors sorted by key (valid until an author is added). NULL with *n 0
 * when out of memory. */
const uint32_t *weft__log_sorted_authors(weft_log *log, uint32_t *n);
/* Key comparisons made by weft__log_sorted_authors so far (tests). */
uint64_t weft__log_sort_work(const weft_log *log);
/* Sets an author's chain head as a snapshot recorded it; only on a log that
 * holds nothing of that author yet. */
int weft__log_restore_author(weft_log *log, uint32_t author, uint64_t seq, const uint8_t *hash,
                             uint64_t lamport_end);
/* The hash weft_log_check computed for c (computes it if c was not the
 * change last checked). */
const uint8_t *weft__log_hash_of(weft_log *log, const weft_change *c);
/* The log's allocator. */
const weft_allocator *weft__log_allocator(const weft_log *log);

#endif
