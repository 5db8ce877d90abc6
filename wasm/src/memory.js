// In-memory storage: the reference implementation of the storage interface
// (docs/API.md, "Custom storage"). memoryStorage() returns an adapter whose
// spaces live as long as the adapter object, so a test can close a space
// and reopen it from the same adapter; the string 'memory' gives every
// openSpace a fresh adapter (nothing survives close()).

/** @returns {import('../index.js').StorageAdapter} */
export function memoryStorage() {
  const spaces = new Map();
  return {
    kind: 'memory',
    async open(spaceId) {
      if (!spaces.has(spaceId)) spaces.set(spaceId, { meta: null, snapshot: null, records: [], outbox: new Map(), files: new Map() });
      const s = spaces.get(spaceId);
      return {
        async load() {
          return { meta: s.meta, snapshot: s.snapshot, records: s.records.slice(), outbox: [...s.outbox.values()] };
        },
        async saveMeta(meta, { ifAbsent = false } = {}) {
          if (ifAbsent && s.meta) return s.meta;
          s.meta = meta;
          return meta;
        },
        async write({ records = [], snapshot = null, outbox = [], acked = null }) {
          if (snapshot) {
            s.snapshot = snapshot;
            s.records = [];
          } else {
            for (const r of records) s.records.push(r);
          }
          for (const o of outbox) s.outbox.set(o.seq, o.record);
          if (acked !== null) for (const seq of s.outbox.keys()) if (seq <= acked) s.outbox.delete(seq);
        },
        // Files' upload queue and reference index (files.js).
        async loadFiles() {
          return [...s.files];
        },
        async putFile(key, value) {
          s.files.set(key, value);
        },
        async deleteFile(key) {
          s.files.delete(key);
        },
        async close() {},
      };
    },
    async delete(spaceId) {
      spaces.delete(spaceId);
    },
  };
}
