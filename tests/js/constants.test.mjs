// The constants the package's JS shares with the core (wasm/src/constants.js,
// written at build time by wasm/gen_constants.c) agree with the core: with
// the WASM module's weft_err_name and weft_strerror for every error code,
// and with the text of the headers they come from, so that a constant added
// to a header and not to the generator, or a stale generated file, fails
// here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as C from '../../wasm/src/constants.js';
import { loadCore } from '../../wasm/src/core.js';
import { ERRORS, RIGHTS, WeftError } from '../../wasm/src/index.js';

const include = join(dirname(fileURLToPath(import.meta.url)), '../../core/include/weft');
const header = (name) => readFileSync(join(include, name), 'utf8');

/** X(NAME, value, "message") entries of an X-macro list in a header. */
function xEntries(text, list) {
  const at = text.indexOf(`#define ${list}(X)`);
  assert.ok(at >= 0, `no ${list} in the header`);
  const lines = text.slice(at).split('\n');
  const out = [];
  // The list's lines: each after one that ends in a backslash.
  for (let i = 1; i < lines.length && lines[i - 1].trimEnd().endsWith('\\'); i++) {
    const m = /^\s*X\((\w+),\s*(-?\d+),\s*"((?:[^"\\]|\\.)*)"\)\s*\\?\s*$/.exec(lines[i]);
    assert.ok(m, `${list}: cannot read '${lines[i]}'`);
    out.push({ name: m[1], value: Number(m[2]), message: JSON.parse(`"${m[3]}"`) });
  }
  return out;
}

/** #define PREFIXNAME number, as { NAME: number }. */
function defines(text, prefix) {
  const out = {};
  for (const m of text.matchAll(new RegExp(`^#define ${prefix}(\\w+)\\s+(0x[0-9a-fA-F]+|\\d+)\\b`, 'gm'))) out[m[1]] = Number(m[2]);
  return out;
}

test('error codes: constants.js = error.h = weft_err_name / weft_strerror in the WASM module', async () => {
  const errs = xEntries(header('error.h'), 'WEFT_ERRORS').filter((e) => e.value < 0);
  assert.ok(errs.length >= 22, `parsed error.h's list (${errs.length} codes)`);
  assert.deepEqual(C.ERRORS, Object.fromEntries(errs.map((e) => [`WEFT_E${e.name}`, e.value])));
  assert.deepEqual(C.ERROR_MESSAGES, Object.fromEntries(errs.map((e) => [`WEFT_E${e.name}`, e.message])));

  const core = await loadCore();
  const lowest = Math.min(...Object.values(C.ERRORS));
  // One past the end too, and the gaps (codes allocated to work not yet
  // merged): the module must not know a code the JS does not.
  for (let code = lowest - 1; code < 0; code++) {
    const name = core.cstr(core.x.weft_err_name(code));
    const known = Object.keys(C.ERRORS).find((k) => C.ERRORS[k] === code);
    // Below the lowest, and in a gap (codes are allocated to work in
    // progress ahead of time): unknown to both sides.
    if (code < lowest || !known) {
      assert.equal(name, 'UNKNOWN', `the core knows code ${code} (${name}), constants.js does not`);
      continue;
    }
    assert.equal(`WEFT_E${name}`, known, `code ${code}`);
    assert.equal(C.ERROR_MESSAGES[`WEFT_E${name}`], core.cstr(core.x.weft_strerror(code)), `message of ${code}`);
  }
  assert.equal(ERRORS, C.ERRORS, 'the package exports the generated ERRORS');
  assert.equal(new WeftError('WEFT_ENOTFOUND', 'x').errno, C.ERRORS.WEFT_ENOTFOUND);
  assert.equal(WeftError.fromCode(lowest - 1, 'x').code, 'WEFT_EUNKNOWN');
});

test('protocol constants: constants.js = protocol.h', () => {
  const h = header('protocol.h');
  const perrs = xEntries(h, 'WEFT_PROTO_ERRORS');
  assert.ok(perrs.length >= 24, `parsed protocol.h's list (${perrs.length} codes)`);
  assert.deepEqual(C.PROTO_ERROR, Object.fromEntries(perrs.map((e) => [e.name, e.value])));
  assert.deepEqual(C.PROTO_ERROR_NAMES, Object.fromEntries(perrs.map((e) => [e.value, e.name])));
  assert.equal(C.PROTOCOL_VERSION, defines(h, 'WEFT_').PROTOCOL_VERSION);
  // WEFT_FRAME_HEADER_BYTES shares the frame types' prefix; every other one is a type.
  const { HEADER_BYTES, ...frameTypes } = defines(h, 'WEFT_FRAME_');
  assert.equal(HEADER_BYTES, 2);
  assert.deepEqual(C.FRAME, frameTypes, 'frame types (a new one must be named in wasm/gen_constants.c)');
  assert.deepEqual(C.ACK, defines(h, 'WEFT_ACK_'), 'ACK statuses');
  const d = defines(h, 'WEFT_');
  assert.deepEqual(C.PROTO, {
    NONCE_BYTES: d.NONCE_BYTES, MAX_TOKEN: d.PROTO_MAX_TOKEN, MAX_DATA: d.PROTO_MAX_DATA,
    MAX_MESSAGE: d.PROTO_MAX_MESSAGE, HELLO_CURSOR: d.HELLO_CURSOR, HELLO_VERSIONS: d.HELLO_VERSIONS, HELLO_MEMBERS: d.HELLO_MEMBERS, HELLO_GRANT: d.HELLO_GRANT, CHANGES_RSEQ: d.CHANGES_RSEQ,
    // clang-format puts this one's value on a continuation line
    SNAPSHOT_USE_REST: Number(h.match(/#define WEFT_SNAPSHOT_USE_REST\s*\\?\s*(0x[0-9a-fA-F]+|\d+)/)[1]),
  });
});

test('format levels: constants.js = level.h', () => {
  const d = defines(header('level.h'), 'WEFT_');
  assert.equal(C.FORMAT_LEVEL, d.FORMAT_LEVEL);
  assert.equal(C.RECORD_LEVEL, d.RECORD_LEVEL);
  assert.equal(C.LEVEL_LISTS, d.LEVEL_LISTS);
  assert.ok(C.FORMAT_LEVEL >= 2 && C.LEVEL_MAX_BYTES > 600);
});

test('rights: constants.js = auth.h, and the package names them in lower case', () => {
  const r = defines(header('auth.h'), 'WEFT_RIGHT_');
  assert.deepEqual(C.RIGHT, r, 'rights (a new one must be named in wasm/gen_constants.c)');
  assert.deepEqual(RIGHTS, { read: r.READ, write: r.WRITE, admin: r.ADMIN });
});

test('the header parser above reads what it should (so the checks above can fail)', () => {
  const fake = '#define WEFT_ERRORS(X)  \\\n    X(OK, 0, "ok") \\\n    X(A, -1, "say \\"a\\"") \\\n    X(B_C, -2, "b")\n\nX(NOT, -3, "n")\n#define WEFT_FRAME_Z 9 /* z */\n';
  assert.deepEqual(xEntries(fake, 'WEFT_ERRORS').map((e) => [e.name, e.value, e.message]),
    [['OK', 0, 'ok'], ['A', -1, 'say "a"'], ['B_C', -2, 'b']]);
  assert.deepEqual(defines(fake, 'WEFT_FRAME_'), { Z: 9 });
  assert.notDeepEqual({ ...C.FRAME, EXTRA: 9 }, defines(header('protocol.h'), 'WEFT_FRAME_'));
});
