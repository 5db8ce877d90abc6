// The records of a restored device, delivered by the key it was restored
// from (SECURITY.md "Key backup"). A device restored from the backup of a
// member admitted by grant holds no grant yet, so the relay would refuse
// its own key before any record could go: the backed-up key, whose secret
// the backup holds, says HELLO once (by its grant), proves itself and sends
// the membership records signed for the new key (its link, and from an
// admin a grant), then closes. It writes no change, so its hash chain
// stays the first device's.
import { FORMAT_LEVEL } from './constants.js';
import { WeftError } from './errors.js';
import { ACK, F, PROTO_ERROR_NAMES, decodeFrame, encodeChanges, encodeHello, encodeProof } from './frames.js';

// A HELLO cursor past any head: the relay sends none of the log.
const FAR = Number.MAX_SAFE_INTEGER;

/**
 * Connects to `url` as the key of `secret` (64 bytes), admitted by its
 * grant, and sends `records`. Resolves once the relay stored each (or held
 * it already); rejects with the relay's refusal, or WEFT_EUNAVAILABLE when
 * it cannot be reached within `timeoutMs`.
 * @param {import('./core.js').Core} core
 * @param {{ url: string, space: Uint8Array, secret: Uint8Array, records: Uint8Array[], spaceLevel?: number, WebSocket?: any, timeoutMs?: number }} opts
 */
export function deliverAs(core, { url, space, secret, records, spaceLevel = 1, WebSocket: WS = globalThis.WebSocket, timeoutMs = 10_000 }) {
  if (!records.length) return Promise.resolve();
  if (typeof WS !== 'function') return Promise.reject(new WeftError('WEFT_EUNAVAILABLE', 'no WebSocket here: pass sync: { WebSocket }'));
  return new Promise((resolve, reject) => {
    let ws;
    const done = (err) => {
      clearTimeout(timer);
      try {
        ws?.close();
      } catch {
        // closing already
      }
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new WeftError('WEFT_EUNAVAILABLE', 'the relay did not take the restored device\'s records in time')), timeoutMs);
    try {
      ws = new WS(url, 'weft');
    } catch (e) {
      done(new WeftError('WEFT_EUNAVAILABLE', `cannot connect to ${url}: ${e.message}`, { cause: e }));
      return;
    }
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      const key = secret.slice(32);
      ws.send(encodeHello({ space, key, vv: new Uint8Array(0), token: new Uint8Array(0), cursor: FAR, versions: { formatLevel: FORMAT_LEVEL, spaceLevel, features: 0 }, members: true, byGrant: true }));
    };
    ws.onmessage = (ev) => {
      let f;
      try {
        f = decodeFrame(new Uint8Array(ev.data));
      } catch (e) {
        done(new WeftError('WEFT_EMALFORMED', `relay: ${e.message}`, { cause: e }));
        return;
      }
      if (f.type === F.CHALLENGE) {
        ws.send(encodeProof(core.proofSign(secret, space, f.nonce)));
        ws.send(encodeChanges(records));
      } else if (f.type === F.ERROR && f.fatal) {
        done(new WeftError(f.name === 'NOT_MEMBER' ? 'WEFT_ENOTMEMBER' : f.name === 'REVOKED' ? 'WEFT_EREVOKED' : 'WEFT_EUNAVAILABLE', `relay: ${f.name}: ${f.message} (as the backed-up key)`));
      } else if (f.type === F.ACK && f.entries.length === records.length) {
        const bad = f.entries.find((e) => e.status === ACK.REJECTED);
        done(bad ? new WeftError('WEFT_ERIGHTS', `relay: ${PROTO_ERROR_NAMES[bad.value] ?? 'UNKNOWN'}: the restored device's records were refused`) : null);
      }
    };
    ws.onerror = () => {};
    ws.onclose = () => done(new WeftError('WEFT_EUNAVAILABLE', 'the relay closed the link before taking the restored device\'s records'));
  });
}
