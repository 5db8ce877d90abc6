// The JS half of core/sodium/weft_sodium_js.c (an emcc --js-library).
//
// Module.sodium must hold a ready libsodium-wrappers instance before the
// core calls weft_sodium_backend(); Module.sodiumSumo (libsodium-wrappers-
// sumo, loaded only when a passphrase key is needed) supplies Argon2id.
// Each function copies its inputs out of our heap (libsodium.js has its own
// memory), copies the result back, and answers 0 done, 1 crypto failure,
// 2 not loaded.
mergeInto(LibraryManager.library, {
  $weftSodium__docs: '/** the loaded libsodium-wrappers, or null */',
  $weftSodium: function () {
    return Module['sodium'] || null;
  },
  $weftBytes: function (ptr, len) {
    return HEAPU8.subarray(ptr, ptr + len);
  },

  weft_js_sodium_ready__deps: ['$weftSodium'],
  weft_js_sodium_ready: function () {
    return weftSodium() ? 0 : 2;
  },

  // The platform's CSPRNG straight into our heap: libsodium.js's own
  // randombytes_buf costs ~140 us a call in Node 20, ~40x a signature.
  weft_js_random: function (buf, len) {
    // Node 18 (Debian's) has Web Crypto only as require('crypto').webcrypto.
    var c = globalThis.crypto;
    if ((!c || !c.getRandomValues) && typeof require === 'function') c = require('crypto').webcrypto;
    if (!c || !c.getRandomValues) return 2;
    for (var off = 0; off < len; off += 65536) // the API's per-call limit
      c.getRandomValues(HEAPU8.subarray(buf + off, buf + Math.min(len, off + 65536)));
    return 0;
  },

  weft_js_sign_seed_keypair__deps: ['$weftSodium', '$weftBytes'],
  weft_js_sign_seed_keypair: function (pk, sk, seed) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      var kp = s.crypto_sign_seed_keypair(weftBytes(seed, 32));
      HEAPU8.set(kp.publicKey, pk);
      HEAPU8.set(kp.privateKey, sk);
      return 0;
    } catch (e) {
      return 1;
    }
  },

  weft_js_sign__deps: ['$weftSodium', '$weftBytes'],
  weft_js_sign: function (sig, msg, len, sk) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      HEAPU8.set(s.crypto_sign_detached(weftBytes(msg, len), weftBytes(sk, 64)), sig);
      return 0;
    } catch (e) {
      return 1;
    }
  },

  weft_js_verify__deps: ['$weftSodium', '$weftBytes'],
  weft_js_verify: function (sig, msg, len, pk) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      return s.crypto_sign_verify_detached(weftBytes(sig, 64), weftBytes(msg, len), weftBytes(pk, 32)) ? 0 : 1;
    } catch (e) {
      return 1;
    }
  },

  weft_js_aead_encrypt__deps: ['$weftSodium', '$weftBytes'],
  weft_js_aead_encrypt: function (c, m, mlen, ad, adlen, nonce, key) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      HEAPU8.set(s.crypto_aead_xchacha20poly1305_ietf_encrypt(
        weftBytes(m, mlen), weftBytes(ad, adlen), null, weftBytes(nonce, 24), weftBytes(key, 32)), c);
      return 0;
    } catch (e) {
      return 1;
    }
  },

  weft_js_aead_decrypt__deps: ['$weftSodium', '$weftBytes'],
  weft_js_aead_decrypt: function (m, c, clen, ad, adlen, nonce, key) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      // Throws when the tag does not match: wrong key or altered bytes.
      HEAPU8.set(s.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null, weftBytes(c, clen), weftBytes(ad, adlen), weftBytes(nonce, 24), weftBytes(key, 32)), m);
      return 0;
    } catch (e) {
      return 1;
    }
  },

  weft_js_pwhash__deps: ['$weftBytes'],
  weft_js_pwhash: function (out, outlen, pw, pwlen, salt, opslimit, memlimit) {
    var s = Module['sodiumSumo'];
    if (!s) return 2;
    try {
      HEAPU8.set(s.crypto_pwhash(outlen, weftBytes(pw, pwlen), weftBytes(salt, 16), opslimit,
                                 memlimit, s.crypto_pwhash_ALG_ARGON2ID13), out);
      return 0;
    } catch (e) {
      return 1;
    }
  },

  // Key envelopes (weft/members.h): a member's Ed25519 key as X25519, and
  // anonymous sealed boxes to it. All four are in the small build.
  weft_js_sign_pk_to_box__deps: ['$weftSodium', '$weftBytes'],
  weft_js_sign_pk_to_box: function (xpk, pk) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      HEAPU8.set(s.crypto_sign_ed25519_pk_to_curve25519(weftBytes(pk, 32)), xpk);
      return 0;
    } catch (e) {
      return 1;
    }
  },

  weft_js_sign_sk_to_box__deps: ['$weftSodium', '$weftBytes'],
  weft_js_sign_sk_to_box: function (xsk, sk) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      var k = s.crypto_sign_ed25519_sk_to_curve25519(weftBytes(sk, 64));
      HEAPU8.set(k, xsk);
      k.fill(0);
      return 0;
    } catch (e) {
      return 1;
    }
  },

  weft_js_box_seal__deps: ['$weftSodium', '$weftBytes'],
  weft_js_box_seal: function (c, m, mlen, xpk) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      HEAPU8.set(s.crypto_box_seal(weftBytes(m, mlen), weftBytes(xpk, 32)), c);
      return 0;
    } catch (e) {
      return 1;
    }
  },

  weft_js_box_seal_open__deps: ['$weftSodium', '$weftBytes'],
  weft_js_box_seal_open: function (m, c, clen, xpk, xsk) {
    var s = weftSodium();
    if (!s) return 2;
    try {
      // Throws when the box is not for this key pair or was altered.
      var out = s.crypto_box_seal_open(weftBytes(c, clen), weftBytes(xpk, 32), weftBytes(xsk, 32));
      HEAPU8.set(out, m);
      out.fill(0);
      return 0;
    } catch (e) {
      return 1;
    }
  },
});
