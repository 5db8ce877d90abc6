// `npm pack` of wasm/ installs into a fresh app and works from a plain .mjs
// file, with no flags: what a user of the published package gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const wasmDir = join(dirname(fileURLToPath(import.meta.url)), '../../wasm');

test('npm pack -> npm install in a fresh app -> import from a plain .mjs', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'weftdb-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: wasmDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const info = JSON.parse(out.slice(out.indexOf('[')))[0];
    const files = info.files.map((f) => f.path).sort();
    for (const f of ['dist/weftdb_core.mjs', 'dist/weftdb_core.wasm', 'index.d.ts', 'package.json', 'src/index.js', 'src/core.js'])
      assert.ok(files.includes(f), `${f} is in the tarball: ${files.join(', ')}`);
    assert.ok(!files.some((f) => f.endsWith('.c') || f.includes('node_modules')), 'no C sources or node_modules shipped');
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, tarball)], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] });
    writeFileSync(join(app, 'main.mjs'), `
      import { createSpace, openSpace, WeftError } from 'weftdb';
      const a = await createSpace();
      await a.collection('todos').put('t1', { title: 'from the tarball', done: false });
      const b = await openSpace({ invite: a.invite({ rights: 'write' }) });
      await b.applyChanges(a.changesSince(b.versionVector()));
      const ok = a.stateHash() === b.stateHash() && b.collection('todos').get('t1').title === 'from the tarball';
      let code = null;
      try { await b.collection('todos').put('', {}); } catch (e) { code = e instanceof WeftError && e.code; }
      await a.close(); await b.close();
      console.log(JSON.stringify({ ok, code }));
    `);
    const res = JSON.parse(execFileSync('node', ['main.mjs'], { cwd: app, encoding: 'utf8' }).trim());
    assert.deepEqual(res, { ok: true, code: 'WEFT_EINVAL' });
    // the types resolve through the exports map
    const pkg = JSON.parse(execFileSync('node', ['-e', "process.stdout.write(JSON.stringify(require('weftdb/package.json').exports))"], { cwd: app, encoding: 'utf8' }));
    assert.equal(pkg['.'].types, './index.d.ts');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
