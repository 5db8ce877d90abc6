// The shipped TypeScript declarations (wasm/index.d.ts) compile against a
// usage file that exercises the documented API, and reject misuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));

test('index.d.ts type-checks the documented API (strict)', () => {
  const program = ts.createProgram([join(here, 'fixtures/usage.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    paths: { weftdb: [join(here, '../../wasm/index.d.ts')] },
  });
  const diags = ts.getPreEmitDiagnostics(program).map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file) return msg;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName.split('/').pop()}:${line + 1}: ${msg}`;
  });
  assert.deepEqual(diags, []);
});
