/*
 * Waiters: how an answer that comes later finds whoever waits for it, or
 * finds nobody because the waiting party went first. Used by storage (a
 * space loaded, a delete confirmed) and the shared rate limit.
 *
 * The answerer owns the waiter (it allocates it, waiter_answer frees it);
 * the waiting party keeps a pointer in *slot, which is cleared before its
 * callback runs, and cancels with waiter_cancel if it goes first.
 */
#ifndef WEFT_RELAY_WAITER_H
#define WEFT_RELAY_WAITER_H

#include <stdlib.h>

/* An answer that comes later (a space loaded, a shared rate verdict, a
 * delete confirmed): result is 0 or 1 as the call that took it says. */
typedef void (*relay_answer_fn)(void *ud, int result);

/* A cancellable reference to whoever waits for such an answer. The
 * answerer owns it (waiter_init, waiter_answer frees it); the waiting party
 * keeps a pointer in *slot and, if it goes first, cancels with
 * waiter_cancel: the answer then finds nobody. */
typedef struct waiter {
    relay_answer_fn fn; /* NULL once cancelled */
    void *ud;
    struct waiter **slot;
} waiter;

/* Fills w (allocated by the answerer, possibly inside a larger request)
 * and points *slot at it. */
static inline void waiter_init(waiter *w, waiter **slot, relay_answer_fn fn, void *ud) {
    w->fn = fn;
    w->ud = ud;
    w->slot = slot;
    *slot = w;
}

/* Calls the waiting party (unless it cancelled) after clearing its *slot.
 * The caller frees w, first (copy what it needs). */
static inline void waiter_call(relay_answer_fn fn, void *ud, waiter **slot, int result) {
    if (!fn) return;
    *slot = NULL;
    fn(ud, result);
}

/* A malloc'd waiter answered and freed. */
static inline void waiter_answer(waiter *w, int result) {
    relay_answer_fn fn = w->fn;
    void *ud = w->ud;
    waiter **slot = w->slot;
    free(w);
    waiter_call(fn, ud, slot, result);
}

static inline void waiter_cancel(waiter *w) {
    w->fn = NULL;
}

#endif
