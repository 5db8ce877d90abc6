// A space's status as the app sees it: { state, pending, uploads }. The state is the
// relay link's ('offline' | 'connecting' | 'syncing' | 'synced'); pending
// counts the own changes the relay has not acknowledged when there is a
// link, else the writes not yet durable in the store. Every change of either
// is one 'status' event with a copy. uploads counts files not yet whole at
// the relay (files.js). error, once set, names what holds own
// changes back for good ('CHANGE_TOO_BIG': sync.js).
export class Status {
  #now = { state: 'offline', pending: 0, uploads: 0 };
  #emit;
  #linkPending;

  /**
   * emit(status): sends the 'status' event; linkPending(): the relay link's
   * pending count, or null while the space has no link.
   */
  constructor(emit, linkPending) {
    this.#emit = emit;
    this.#linkPending = linkPending;
  }

  /** A copy of the status now. */
  get() {
    return { ...this.#now };
  }

  /** Applies `patch` ({ state?, pending?, error?, uploads? }); emits when something changed. */
  set(patch) {
    const next = { ...this.#now, ...patch };
    const link = this.#linkPending();
    if (link !== null && patch.pending === undefined) next.pending = link;
    if (Object.keys(next).every((k) => next[k] === this.#now[k])) return;
    this.#now = next;
    this.#emit({ ...next });
  }

  /** Re-reads pending: the link's count, or `notDurable` without a link. */
  updatePending(notDurable) {
    const pending = this.#linkPending() ?? notDurable;
    if (pending !== this.#now.pending) this.set({ pending });
  }
}
