// The relay's files API over HTTP (docs/RELAY.md, "Files"): a file's
// status (chunks held, a signed URL, its lease renewed), chunk uploads
// and chunk downloads through the signed URL. Requests carry the space's
// token and a single-use proof signed with this device's author key, as
// the REST log API wants (RELAY.md, "Authorization").
import { PROTO_ERROR_NAMES } from './frames.js';
import { WeftError } from './errors.js';
import { randomBytes } from './filecrypt.js';
import { relayAuthorization, toBase64url, toHex } from './util.js';

const enc = new TextEncoder();
const CODE_FOR = { RIGHTS: 'WEFT_ERIGHTS', AUTH: 'WEFT_ECRYPTO', PROOF: 'WEFT_ECRYPTO', EXPIRED: 'WEFT_EEXPIRED', NOT_FOUND: 'WEFT_ENOTFOUND', TOO_BIG: 'WEFT_ETOOBIG' };

/**
 * An HTTP answer the relay refused. `status` the HTTP status, `protocolError`
 * its error name, `retry` whether trying again later may help.
 */
function httpError(res, body, what) {
  let name = 'UNKNOWN';
  let message = body;
  try {
    const j = JSON.parse(body);
    name = j.error ?? PROTO_ERROR_NAMES[j.code] ?? name;
    message = j.message ?? body;
  } catch {
    // not JSON: a proxy's page
  }
  const e = new WeftError(CODE_FOR[name] ?? 'WEFT_EUNAVAILABLE', `relay: ${what}: ${res.status} ${name}: ${message}`);
  e.status = res.status;
  e.protocolError = name;
  // 507 QUOTA stays until an operator or a deletion makes room.
  e.retry = (res.status >= 500 && res.status !== 507) || res.status === 429 || res.status === 408;
  return e;
}

/** A network failure (relay down, connection dropped): worth retrying. */
function netError(e, what) {
  const err = new WeftError('WEFT_EUNAVAILABLE', `relay: ${what}: ${e.message}`, { cause: e });
  err.retry = true;
  return err;
}

/**
 * What the files API needs from its space.
 * @typedef {object} BlobPort
 * @property {import('./core.js').Core} core proofSign, sodium
 * @property {{ space: Uint8Array, authorSecret: Uint8Array, token: Uint8Array }} meta
 */

export class BlobHttp {
  /** @param {BlobPort} port @param {string} relay ws:// or wss:// URL of the relay */
  constructor(port, relay, fetchImpl = globalThis.fetch) {
    this.port = port;
    this.base = relay.replace(/^ws/, 'http').replace(/\/+$/, '');
    // Called as a plain function: a browser's fetch refuses another `this`.
    this.fetch = (url, init) => fetchImpl(url, init);
    this.spaceHex = toHex(port.meta.space);
  }

  /** Authorization and a single-use Weft-Proof for METHOD on target (path and query). */
  authHeaders(method, target) {
    const { core, meta } = this.port;
    const stamp = `${Math.floor(Date.now() / 1000)}:${toBase64url(randomBytes(9))}`;
    const head = enc.encode(`${stamp} ${method} `);
    const nonce = new Uint8Array(head.length + 32);
    nonce.set(head);
    nonce.set(core.sodium.crypto_generichash(32, enc.encode(target)), head.length);
    const sig = core.proofSign(meta.authorSecret, meta.space, nonce);
    return { authorization: relayAuthorization(meta), 'weft-proof': `${stamp}.${toBase64url(sig)}` };
  }

  /**
   * fetch, tried a second time at once when it fails before any answer: a
   * kept-alive connection the relay closed while idle fails the first
   * request on it. Every request here may be repeated (a chunk stored again
   * is the same bytes); make() builds it again (a proof is good once).
   */
  async #fetch(make, what) {
    for (let attempt = 0; ; attempt++) {
      try {
        const [url, init] = make();
        return await this.fetch(url, init);
      } catch (e) {
        if (attempt) throw netError(e, what);
      }
    }
  }

  async #call(method, path, { body, headers = {} } = {}, what) {
    const res = await this.#fetch(() => [this.base + path, { method, body, headers: { ...this.authHeaders(method, path), ...headers } }], what);
    let text;
    try {
      text = await res.text();
    } catch (e) {
      throw netError(e, what);
    }
    if (!res.ok) throw httpError(res, text, what);
    return JSON.parse(text);
  }

  /**
   * The file's status, which also renews its lease: { chunks: Map index ->
   * size, url: chunk URL prefix, query: signed query, expires: unix s }.
   */
  async status(idHex) {
    const j = await this.#call('GET', `/v1/spaces/${this.spaceHex}/blobs/${idHex}`, {}, 'file status');
    return { chunks: new Map(j.chunks), url: j.url, query: j.query, expires: j.expires };
  }

  /** Uploads one sealed chunk with its SHA-256 (hex). */
  async putChunk(idHex, index, sealed, hashHex) {
    await this.#call('POST', `/v1/spaces/${this.spaceHex}/blobs/${idHex}/${index}`, { body: sealed, headers: { 'content-type': 'application/octet-stream', 'weft-chunk-hash': hashHex } }, `uploading chunk ${index}`);
  }

  /** Downloads chunk `index` through a signed URL (status()). */
  async getChunk(st, index) {
    const res = await this.#fetch(() => [`${this.base}${st.url}${index}?${st.query}`], `downloading chunk ${index}`);
    if (!res.ok) throw httpError(res, await res.text().catch(() => ''), `downloading chunk ${index}`);
    try {
      return new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw netError(e, `downloading chunk ${index}`);
    }
  }
}
