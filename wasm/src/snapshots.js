// Sealed snapshots between weftdb and the relay (docs/API.md, "Snapshots";
// PROTOCOL.md, "Snapshots"; SECURITY.md, "Snapshots: who may publish").
//
// Joining: an empty replica takes the relay's newest sealed snapshot
// instead of every change. Before anything is loaded, the token the relay
// kept with it must grant the snapshot's publisher `admin` (the relay is
// not trusted for that); the core then checks the signature and space,
// opens it with the content key and checks that the state inside covers
// exactly the header's vector. Any failure leaves the replica empty.
//
// Publishing: an admin's device seals its state once enough history has
// gone by since the newest snapshot it knows of (shouldPublish below), over
// the sync link when the frame fits the relay's default frame limit, else
// over REST. Only the tab that holds the relay link publishes, so one tab
// per device.
import { RECORD_GRANT, RIGHT } from './constants.js';
import { WeftError } from './errors.js';
import { bytesEqual, fromBase64url, relayAuthorization, toBase64url } from './util.js';
import { decodeVV } from './vv.js';

/**
 * Publish once this many records reached the relay since the newest
 * snapshot this device knows of (the relay sequences it has seen, or the
 * records through this link if more: every record, any author, counts
 * one)...
 */
export const SNAPSHOT_PUBLISH_CHANGES = 1000;
/**
 * ...or once this many bytes of change records went through this device's
 * link since it — and never before as many bytes as the last snapshot it
 * published took, so that a large state is not sealed again for a few
 * small edits (uploads stay below the history they replace).
 */
export const SNAPSHOT_PUBLISH_BYTES = 256 << 10;
/**
 * A replica that lacks at least this many of the relay's records (counted
 * from the relay's vector against its own) and has nothing of its own to
 * send joins from the relay's newest snapshot instead of reading them, when
 * that snapshot covers everything it holds.
 */
export const SNAPSHOT_JOIN_BEHIND = 2000;

/** How many records the holder of vector `have` lacks of those vector `want` names. */
export function recordsBehind(have, want) {
  const mine = decodeVV(have);
  let n = 0;
  for (const [author, seq] of decodeVV(want)) n += Math.max(0, seq - (mine.get(author) ?? 0));
  return n;
}

/**
 * Largest record sent in a SNAPSHOT frame: below the relay's default
 * `--max-frame` (4 MiB) with room for the frame's header. Larger ones go
 * over REST (POST /v1/spaces/{id}/snapshots, up to `--max-snapshot`).
 */
export const SNAPSHOT_FRAME_RECORD_MAX = (4 << 20) - 64;

/**
 * Checks what the relay cannot vouch for before a sealed snapshot is
 * loaded: it is for `space`, and `token` (the one the relay kept with it:
 * a token, or the grant chain of a publisher admitted by grant) verifies
 * now and grants its publisher `admin`. Returns the header.
 * Throws WEFT_ESPACE, WEFT_ERIGHTS, or the token's or header's own error.
 */
export function checkPublisher(core, space, record, token, nowSeconds = Math.floor(Date.now() / 1000)) {
  const h = core.snapshotHeader(record);
  if (!bytesEqual(h.space, space)) throw new WeftError('WEFT_ESPACE', 'the relay sent a snapshot of another space');
  // A publisher admitted by grant left its grant chain in the token's place.
  const chain = token.length > 1 && token[1] === RECORD_GRANT;
  let t;
  try {
    t = chain ? { rights: core.grantChainVerify(token, space, h.publisher, nowSeconds), grantee: null } : core.tokenVerify(token, space, nowSeconds);
  } catch (e) {
    throw new WeftError(e.code ?? 'WEFT_ERIGHTS', `the snapshot's ${chain ? 'grant chain' : 'token'} does not verify: ${e.message}`, { cause: e });
  }
  if (t.rights < RIGHT.ADMIN || (t.grantee && !bytesEqual(t.grantee, h.publisher)))
    throw new WeftError('WEFT_ERIGHTS', 'the snapshot was not published by an admin of the space');
  return h;
}

/**
 * Whether to publish now. head: the relay's head as seen; base: the base of
 * the newest snapshot known (null: none known); changes, bytes: change
 * records and their bytes through the link since; lastBytes: the size of
 * the last one published here.
 */
export function shouldPublish({ head, base, changes, bytes, lastBytes }) {
  if (Math.max(changes, head - (base ?? 0)) >= SNAPSHOT_PUBLISH_CHANGES && bytes >= lastBytes) return true;
  return bytes >= Math.max(SNAPSHOT_PUBLISH_BYTES, lastBytes);
}

/** The relay's HTTP origin for a ws:// or wss:// URL. */
export function httpOrigin(wsUrl) {
  const u = new URL(wsUrl);
  return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
}

export function spacePath(meta) {
  return `/v1/spaces/${toBase64url(meta.space)}`;
}

/** Authorization and Weft-Proof headers for one request (RELAY.md, "Authorization"). */
export function authHeaders(core, meta, method, target) {
  const s = core.sodium;
  const rnd = Array.from(core.random(6), (b) => b.toString(16).padStart(2, '0')).join('');
  const stamp = `${Math.floor(Date.now() / 1000)}:${rnd}`;
  const head = new TextEncoder().encode(`${stamp} ${method} `);
  const nonce = new Uint8Array(head.length + 32);
  nonce.set(head);
  nonce.set(s.crypto_generichash(32, new TextEncoder().encode(target)), head.length);
  const sig = core.proofSign(meta.authorSecret, meta.space, nonce);
  return { authorization: relayAuthorization(meta), 'weft-proof': `${stamp}.${toBase64url(sig)}` };
}

export async function httpError(res, what) {
  let body = '';
  try {
    body = await res.text();
  } catch {
    // the status says enough
  }
  return new WeftError('WEFT_EUNAVAILABLE', `${what}: HTTP ${res.status} ${body.slice(0, 200)}`);
}

/**
 * GET …/snapshot: the newest snapshot over REST, for a SNAPSHOT frame that
 * said USE_REST. Resolves to { record, token, rseq } or null (none held).
 */
export async function fetchSnapshot(core, meta, wsUrl) {
  const target = `${spacePath(meta)}/snapshot`;
  const res = await fetch(httpOrigin(wsUrl) + target, { headers: authHeaders(core, meta, 'GET', target) });
  if (res.status === 404) return null;
  if (!res.ok) throw await httpError(res, 'fetching the relay\'s snapshot');
  const token = res.headers.get('weft-snapshot-token');
  const rseq = Number(res.headers.get('weft-snapshot-rseq'));
  if (!token || !Number.isSafeInteger(rseq)) throw new WeftError('WEFT_EMALFORMED', 'the relay\'s snapshot came without its token or base');
  return { record: new Uint8Array(await res.arrayBuffer()), token: fromBase64url(token, 'snapshot token'), rseq };
}

/**
 * POST …/snapshots: a record too large for a frame. Resolves to its base.
 * chain: a device admitted by grant's grant chain (it signs the request
 * and sends the chain in Weft-Grant-Chain), else null (its bearer token).
 */
export async function postSnapshot(core, meta, wsUrl, record, chain = null) {
  const target = `${spacePath(meta)}/snapshots`;
  const auth = chain ? { ...authHeaders(core, meta, 'POST', target), 'weft-grant-chain': toBase64url(chain) } : { authorization: `Bearer ${toBase64url(meta.token)}` };
  const res = await fetch(httpOrigin(wsUrl) + target, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/vnd.weft.snapshot' },
    body: record,
  });
  if (!res.ok) throw await httpError(res, 'uploading a snapshot');
  const j = await res.json();
  return j.rseq;
}
