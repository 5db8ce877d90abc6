// The shipped TypeScript declarations (wasm/index.d.ts) compile against a
// usage file that exercises the documented API, and reject misuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));

/** Type-checks `files` against wasm/index.d.ts as 'weftdb'; the diagnostics. */
function check(files, paths = {}) {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    paths: { weftdb: [join(here, '../../wasm/index.d.ts')], ...paths },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file) return msg;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName.split('/').pop()}:${line + 1}: ${msg}`;
  });
}

test('index.d.ts type-checks the documented API (strict)', () => {
  assert.deepEqual(check([join(here, 'fixtures/usage.ts')]), []);
});

// weftdb/react's types (wasm/react.d.ts) against @types/react: wasm/ has no
// node_modules of its own, so 'react' is mapped to the tests' copy.
test('react.d.ts type-checks the documented hooks (strict)', () => {
  const paths = { 'weftdb/react': [join(here, '../../wasm/react.d.ts')], react: [join(here, 'node_modules/@types/react/index.d.ts')] };
  assert.deepEqual(check([join(here, 'fixtures/react-usage.ts')], paths), []);
});

// weftdb/prosemirror's types (wasm/prosemirror.d.ts) against the
// prosemirror-* packages' own types (in wasm/node_modules, its dev deps).
test('prosemirror.d.ts type-checks the documented binding and blocks (strict)', () => {
  const pm = (p) => [join(here, `../../wasm/node_modules/${p}/dist/index.d.ts`)];
  const paths = { 'weftdb/prosemirror': [join(here, '../../wasm/prosemirror.d.ts')],
    ...Object.fromEntries(['prosemirror-model', 'prosemirror-state', 'prosemirror-view', 'prosemirror-transform', 'orderedmap'].map((p) => [p, pm(p)])) };
  assert.deepEqual(check([join(here, 'fixtures/prosemirror-usage.ts')], paths), []);
});

// ErrorCode is generated from error.h (wasm/gen_constants.c): every code
// the header names is in it, with WEFT_EUNKNOWN and nothing else, and
// ERRORS carries each one's number.
test('ErrorCode and ERRORS in the types are exactly the codes of error.h, plus WEFT_EUNKNOWN', () => {
  const h = readFileSync(join(here, '../../core/include/weft/error.h'), 'utf8');
  const codes = [...h.matchAll(/^\s*X\((\w+),\s*(-\d+),/gm)].map((m) => [`WEFT_E${m[1]}`, Number(m[2])]);
  assert.ok(codes.length >= 22, `read error.h (${codes.length} codes)`);
  const names = [...codes.map(([n]) => n), 'WEFT_EUNKNOWN'].map((n) => `'${n}'`);
  const dir = mkdtempSync(join(tmpdir(), 'weftdb-types-'));
  try {
    const file = join(dir, 'codes.ts');
    writeFileSync(file, `import { ERRORS, type ErrorCode, type Rights } from 'weftdb';
      const every: ErrorCode[] = [${names.join(', ')}];
      type Extra = Exclude<ErrorCode, ${names.join(' | ')}>;
      const noExtra: [Extra] extends [never] ? true : false = true;
      ${codes.map(([n, v]) => `const n_${n}: ${v} = ERRORS.${n};`).join('\n')}
      const rights: Rights[] = ['read', 'write', 'admin'];
      export { every, noExtra, rights };
    `);
    assert.deepEqual(check([file]), []);
    // The same check fails for a name error.h does not have.
    writeFileSync(file, `import type { ErrorCode } from 'weftdb'; export const bad: ErrorCode = 'WEFT_ENOSUCHCODE';`);
    assert.equal(check([file]).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
