// The relay's log over REST (RELAY.md, "HTTP": GET …/changes), read page
// by page: how space.historyFromRelay() reaches history older than the
// records this replica still holds. Each request carries its own proof
// (the target includes the cursor, so no proof serves twice).
import { FORMAT_LEVEL, FRAME } from './constants.js';
import { WeftError } from './errors.js';
import { decodeFrame } from './frames.js';
import { authHeaders, httpError, httpOrigin, spacePath } from './snapshots.js';

/**
 * Yields the relay's change records in relay order, one page (an array of
 * Uint8Array) at a time. A relay that trimmed its log answers from its
 * trim point on: `state.trimmed` is then that relay sequence (else 0).
 * Throws WEFT_EUNAVAILABLE when the relay cannot be read.
 * @param {import('./core.js').Core} core
 * @param {object} meta the space's key material (space, token, authorSecret)
 * @param {string} wsUrl the relay's ws:// or wss:// URL
 * @param {{ trimmed?: number }} state
 */
export async function* relayRecords(core, meta, wsUrl, state, { fetch: fetchFn = globalThis.fetch, limit = 1000 } = {}) {
  if (typeof fetchFn !== 'function') throw new WeftError('WEFT_EUNAVAILABLE', 'no fetch here: pass { fetch }');
  state.trimmed = 0;
  let after = 0;
  for (;;) {
    const target = `${spacePath(meta)}/changes?after=${after}&limit=${limit}`;
    let res;
    try {
      res = await fetchFn(httpOrigin(wsUrl) + target, { headers: { ...authHeaders(core, meta, 'GET', target), 'weft-format-level': String(FORMAT_LEVEL) } });
    } catch (e) {
      throw new WeftError('WEFT_EUNAVAILABLE', `relay: reading the log: ${e.message}`, { cause: e });
    }
    if (res.status === 410) {
      // Trimmed below `after`: what is left starts at the trim point.
      const t = Number(res.headers.get('weft-trimmed'));
      await res.arrayBuffer().catch(() => null);
      if (!(Number.isSafeInteger(t) && t > after)) throw new WeftError('WEFT_EMALFORMED', 'the relay said TRIMMED without a trim point past the cursor');
      state.trimmed = after = t;
      continue;
    }
    if (!res.ok) throw await httpError(res, 'reading the relay\'s log');
    const body = new Uint8Array(await res.arrayBuffer());
    if (!body.length) return;
    const f = decodeFrame(body);
    if (f.type !== FRAME.CHANGES) throw new WeftError('WEFT_EMALFORMED', `the relay's log page is frame ${f.type}, not CHANGES`);
    yield f.entries.map((e) => e.record);
    const next = Number(res.headers.get('weft-next-after'));
    if (!(Number.isSafeInteger(next) && next > after)) return;
    after = next;
  }
}
