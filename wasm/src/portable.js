// Your data is yours: a space as plain JSON and back (export, import), and
// the REST call by which an owner deletes a space on its relay.
//
// The export holds every visible document of every collection, as stored
// (no schema migration): JSON values as themselves, and the two value
// types JSON lacks tagged as one-key objects, { "$bytes": base64url } and
// { "$bigint": "123" }; a map that would look like a tag is wrapped as
// { "$map": {...} }. A collaborative text exports as its string (the
// document's field reads as the text); imported, it is a string again,
// which becomes a text on its first edit (docs/API.md, "Text").
import { WeftError } from './errors.js';
import { authHeaders } from './snapshots.js';
import { fromBase64url, toBase64url } from './util.js';

export const EXPORT_FORMAT = 'weftdb-export';
const EXPORT_VERSION = 1;
const TAGS = new Set(['$bytes', '$bigint', '$map']);
const IMPORT_CHUNK = 500; // documents per change on import

function toJSONValue(v) {
  if (v instanceof Uint8Array) return { $bytes: toBase64url(v) };
  if (typeof v === 'bigint') return { $bigint: String(v) };
  if (Array.isArray(v)) return v.map(toJSONValue);
  if (v !== null && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJSONValue(x);
    const keys = Object.keys(out);
    return keys.length === 1 && TAGS.has(keys[0]) ? { $map: out } : out;
  }
  return v;
}

/** A document's fields: the document itself is never a tag, so it is never wrapped. */
function fieldsToJSON(doc) {
  const out = {};
  for (const [k, x] of Object.entries(doc)) out[k] = toJSONValue(x);
  return out;
}

function fromJSONValue(v, where) {
  if (Array.isArray(v)) return v.map((x) => fromJSONValue(x, where));
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  if (keys.length === 1 && TAGS.has(keys[0])) {
    const x = v[keys[0]];
    if (keys[0] === '$bytes' && typeof x === 'string') return fromBase64url(x, `${where}: $bytes`);
    if (keys[0] === '$bigint' && typeof x === 'string' && /^-?\d+$/.test(x)) return BigInt(x);
    if (keys[0] === '$map' && x !== null && typeof x === 'object' && !Array.isArray(x)) return fromEntries(x, where);
    throw new WeftError('WEFT_EINVAL', `${where}: a bad ${keys[0]} value`);
  }
  return fromEntries(v, where);
}

function fromEntries(obj, where) {
  const out = {};
  for (const [k, x] of Object.entries(obj)) out[k] = fromJSONValue(x, where);
  return out;
}

/**
 * The export of what `rep` (a settled Replica) holds: { format, version,
 * space, exportedAt, collections: { name: { id: doc } } }.
 */
export function exportState(rep, spaceId) {
  const collections = {};
  for (const name of rep.collections()) {
    const docs = {};
    let any = false;
    for (const id of rep.keys(name)) {
      docs[id] = fieldsToJSON(rep.getDoc(name, id));
      any = true;
    }
    if (any) collections[name] = docs;
  }
  return { format: EXPORT_FORMAT, version: EXPORT_VERSION, space: spaceId, exportedAt: new Date().toISOString(), collections };
}

/**
 * Writes every document of an export (an object, or its JSON text) into
 * `space` through the normal write path (schemas apply), IMPORT_CHUNK
 * documents per change. Checks the whole export before writing anything.
 * Resolves to the number of documents once they are durable.
 */
export async function importState(space, data) {
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch (e) {
      throw new WeftError('WEFT_EINVAL', `an export is JSON: ${e.message}`, { cause: e });
    }
  }
  if (data?.format !== EXPORT_FORMAT) throw new WeftError('WEFT_EINVAL', `not a weftdb export (format is not '${EXPORT_FORMAT}')`);
  if (data.version !== EXPORT_VERSION) throw new WeftError('WEFT_EVERSION', `a weftdb export of version ${data.version}; this build reads version ${EXPORT_VERSION}`);
  const colls = data.collections;
  if (colls === null || typeof colls !== 'object' || Array.isArray(colls)) throw new WeftError('WEFT_EINVAL', 'an export has collections: { name: { id: document } }');
  const writes = [];
  for (const [name, docs] of Object.entries(colls)) {
    if (docs === null || typeof docs !== 'object' || Array.isArray(docs)) throw new WeftError('WEFT_EINVAL', `export: collection ${name} is not an object of documents`);
    for (const [id, doc] of Object.entries(docs)) {
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new WeftError('WEFT_EINVAL', `export: ${name}/${id} is not a document`);
      writes.push([name, id, fromEntries(doc, `${name}/${id}`)]);
    }
  }
  for (let i = 0; i < writes.length; i += IMPORT_CHUNK) {
    await space.transact((s) => {
      for (const [name, id, doc] of writes.slice(i, i + IMPORT_CHUNK)) s.collection(name).put(id, doc);
    });
  }
  return writes.length;
}

/** The relay's HTTP base URL for its WebSocket URL (ws → http, wss → https). */
export function relayHttpBase(relay) {
  let u;
  try {
    u = new URL(relay);
  } catch {
    throw new WeftError('WEFT_EINVAL', `not a relay URL: ${relay}`);
  }
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  else if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new WeftError('WEFT_EINVAL', `not a relay URL: ${relay}`);
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/**
 * DELETE /v1/spaces/{id} on the relay (docs/RELAY.md): the admin token and
 * a one-time proof signed with this device's key. Resolves when the relay
 * answered 200/204 (or 404: nothing there); rejects with the relay's code.
 */
export async function deleteOnRelay({ core, meta, relay, fetch: fetchFn = globalThis.fetch }) {
  if (typeof fetchFn !== 'function') throw new WeftError('WEFT_EUNAVAILABLE', 'no fetch here: pass { fetch }');
  const id = toBase64url(meta.space);
  const path = `/v1/spaces/${id}`;
  let res;
  try {
    res = await fetchFn(relayHttpBase(relay) + path, {
      method: 'DELETE',
      headers: authHeaders(core, meta, 'DELETE', path),
    });
  } catch (e) {
    throw new WeftError('WEFT_EUNAVAILABLE', `relay: deleting the space: ${e.message}`, { cause: e });
  }
  if (res.ok || res.status === 404) return { deleted: res.ok };
  const body = await res.text().catch(() => '');
  const code = res.status === 403 ? 'WEFT_ERIGHTS' : res.status === 401 ? 'WEFT_ECRYPTO' : 'WEFT_EUNAVAILABLE';
  throw new WeftError(code, `relay: deleting the space: HTTP ${res.status} ${body.slice(0, 200)}`.trim());
}
