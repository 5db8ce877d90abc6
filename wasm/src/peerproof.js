// The peer handshake's binding to its WebRTC channel (PROTOCOL.md §5a,
// SECURITY.md "What peers check"). A peer's PROOF signs, with the nonce it
// was sent, both ends' DTLS certificate fingerprints as the signer's own
// RTCPeerConnection negotiated them; the verifier rebuilds the message from
// its own connection. Whoever relays the signaling and terminates either
// DTLS channel (a member running the relay) changes what one side sees, so
// the proof it forwards from the other side fails. Pure functions: p2p.js
// calls them with its connection's SDP.
import { Out } from './frames.js';

const enc = new TextEncoder();

/**
 * The DTLS certificate fingerprints an SDP names (its `a=fingerprint:`
 * lines), canonical: "<algorithm lowercase> <hex uppercase, colons>", the
 * distinct ones sorted and joined by "\n"; "" when there are none.
 */
export function sdpFingerprints(sdp) {
  const out = new Set();
  for (const line of String(sdp ?? '').split(/\r?\n/)) {
    const m = /^a=fingerprint:(\S+)\s+([0-9A-Fa-f:]+)\s*$/.exec(line);
    if (m) out.add(`${m[1].toLowerCase()} ${m[2].toUpperCase()}`);
  }
  return [...out].sort().join('\n');
}

/**
 * What a peer's PROOF signs (PROTOCOL.md §5a): "weft-peer-proof-v1", the
 * space id, the nonce, then the signer's and the verifier's DTLS
 * fingerprints (sdpFingerprints), each as a varint length and UTF-8 bytes.
 * Its own domain string: no peer proof is a relay's PROOF, nor the reverse.
 */
export function peerProofMessage(space, nonce, signerFp, verifierFp) {
  const d = enc.encode('weft-peer-proof-v1');
  const a = enc.encode(signerFp);
  const b = enc.encode(verifierFp);
  const o = new Out(d.length + space.length + nonce.length + 10 + a.length + 10 + b.length);
  o.raw(d);
  o.raw(space);
  o.raw(nonce);
  o.bytes(a);
  o.bytes(b);
  return o.done();
}

/** Signs a peer's PROOF with meta.authorSecret: mine = this side's fingerprints, theirs = the other's. */
export function peerProofSign(core, meta, nonce, mine, theirs) {
  return core.sodium.crypto_sign_detached(peerProofMessage(meta.space, nonce, mine, theirs), meta.authorSecret);
}
