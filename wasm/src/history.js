// space.history(collection, doc): who changed a document, when, and which
// fields, read from the change records this replica still holds (docs/API.md,
// "History"). Those are the records since the snapshot it was last loaded
// from (its own compaction, the store's, or the relay's): older ones were
// folded into a state and are gone from here, which the answer says
// (`trimmed`) instead of passing a partial list off as the whole.
//
// Each record is verified, opened and decoded once (wdb_change_ops) and
// what it did is kept, per change, for as long as the replica holds it.
//
// fromRelay() adds what the relay's log still holds (relay_log.js): every
// page is read, and only the changes touching the document are kept.
import { toBase64url, toHex } from './util.js';

const OP_DELETE_DOC = 2;

/**
 * One change to the document, newest first in history().
 * person: the person the author's device belongs to (space.js fills it in).
 * @typedef {{ author: string, person?: string, seq: number, at: number, fields: string[], deleted: boolean }} HistoryEntry
 */

/**
 * What History needs from its space.
 * @typedef {object} HistoryHost
 * @property {import('./core.js').Core} core
 * @property {() => import('./replica.js').Replica} rep the replica, with every write so far committed
 * @property {() => Uint8Array} baseVV the vector below which it holds no change records
 */

export class History {
  #host;
  /** `${author hex}:${seq}` -> { author, seq, at, docs: Map(coll\0doc -> { fields: Set, deleted }) } */
  #changes = new Map();

  /** @param {HistoryHost} host */
  constructor(host) {
    this.#host = host;
  }

  /** @returns {{ entries: HistoryEntry[], trimmed: boolean }} */
  of(collection, doc) {
    const { core } = this.#host;
    const rep = this.#host.rep();
    const base = this.#host.baseVV();
    const held = core.splitRecords(rep.diff(base));
    const keep = new Map();
    const key = `${collection}\u0000${doc}`;
    const entries = [];
    for (const r of held) {
      const id = `${toHex(r.author)}:${r.seq}`;
      let c = this.#changes.get(id);
      if (!c) c = summarize(rep, r);
      keep.set(id, c);
      const d = c.docs.get(key);
      if (d) entries.push({ author: c.author, seq: c.seq, at: c.at, fields: [...d.fields].sort(), deleted: d.deleted });
    }
    this.#changes = keep; // forget changes the replica no longer holds
    return { entries: sorted(entries), trimmed: base.length > 0 };
  }

  /**
   * of(), with what the relay's log holds besides: pages is relayRecords()
   * (relay_log.js) and state its state (state.trimmed: where the relay's
   * log starts, 0 when it holds it all). trimmed: history older than both
   * is gone. A record this replica cannot open (a key epoch it never held)
   * is skipped and counted in `unreadable`. local: of()'s answer, when
   * the caller has it.
   * @returns {Promise<{ entries: HistoryEntry[], trimmed: boolean, unreadable: number }>}
   */
  async fromRelay(collection, doc, pages, state, local = this.of(collection, doc)) {
    const { core } = this.#host;
    const key = `${collection}\u0000${doc}`;
    const seen = new Set(local.entries.map((e) => `${e.author}:${e.seq}`));
    const entries = [...local.entries];
    let unreadable = 0;
    for await (const page of pages) {
      const rep = this.#host.rep(); // again per page: compaction may swap it
      const total = page.reduce((n, r) => n + r.length, 0);
      const all = new Uint8Array(total);
      let off = 0;
      for (const r of page) all.set(r, (off += r.length) - r.length);
      for (const r of core.splitRecords(all)) {
        const id = `${toBase64url(r.author)}:${r.seq}`;
        if (seen.has(id)) continue;
        seen.add(id);
        let c;
        try {
          c = summarize(rep, r);
        } catch {
          unreadable++;
          continue;
        }
        const d = c.docs.get(key);
        if (d) entries.push({ author: c.author, seq: c.seq, at: c.at, fields: [...d.fields].sort(), deleted: d.deleted });
      }
    }
    return { entries: sorted(entries), trimmed: state.trimmed > 0, unreadable };
  }
}

/** Newest first; ties by author, then newer seq first. */
function sorted(entries) {
  return entries.sort((a, b) => b.at - a.at || (a.author < b.author ? -1 : a.author > b.author ? 1 : b.seq - a.seq));
}

function summarize(rep, r) {
  const docs = new Map();
  for (const op of rep.changeOps(r.record)) {
    const k = `${op.coll}\u0000${op.doc}`;
    let d = docs.get(k);
    if (!d) docs.set(k, (d = { fields: new Set(), deleted: false }));
    if (op.code === OP_DELETE_DOC) d.deleted = true;
    else d.fields.add(op.field);
  }
  return { author: toBase64url(r.author), seq: r.seq, at: r.wallMs, docs };
}
