// The list workload's shared pieces (bench/api_bench.mjs), free of Node
// modules so that bench/api/weftdb.mjs can use them in Chromium too: the
// transaction size, the check of a final list, and its digest, which the
// driver compares across implementations (every one must end with the same
// array: the ops are one replica's, so the result is fully determined).

/** List ops per transaction (one Y.transact, commit(), Automerge.change or weftdb transact). */
export const LIST_BATCH = 1000;

/**
 * Throws unless `arr` holds lops.len items, each an insert's value (its op
 * index) exactly once: a move may never duplicate or lose an item.
 */
export function checkList(lops, arr, who) {
  if (arr.length !== lops.len) throw new Error(`${who}: ${arr.length} items, expected ${lops.len}`);
  const seen = new Uint8Array(lops.n);
  for (const v of arr)
    if (!(Number.isInteger(v) && v >= 0 && v < lops.n) || lops.kind[v] !== 0 || seen[v]++)
      throw new Error(`${who}: item ${v} is not an insert's, or shows twice`);
}

/** FNV-1a (32-bit) over the items, in order. */
export function listDigest(arr) {
  let h = 0x811c9dc5;
  for (const v of arr) {
    h = Math.imul(h ^ (v & 0xffff), 0x01000193);
    h = Math.imul(h ^ (v >>> 16), 0x01000193);
  }
  return h >>> 0;
}
