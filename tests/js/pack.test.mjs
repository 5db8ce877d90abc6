// `npm pack` of wasm/ installs into a fresh app and works from a plain .mjs
// file, with no flags: what a user of the published package gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';

const wasmDir = join(dirname(fileURLToPath(import.meta.url)), '../../wasm');

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Builds the installed package into a browser app with vite and runs it in Chromium. */
async function viteApp(app) {
  const { build } = await import('vite');
  writeFileSync(join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./app.js"></script>');
  writeFileSync(join(app, 'app.js'), `
    import { createSpace, openSpace } from 'weftdb';
    const a = await createSpace({ storage: 'indexeddb' });
    await a.collection('todos').put('t1', { title: 'bundled', done: false });
    const b = await openSpace({ storage: 'memory', invite: a.invite() });
    await b.applyChanges(a.changesSince(b.versionVector()));
    window.result = { title: b.collection('todos').get('t1').title, same: a.stateHash() === b.stateHash() };
  `);
  await build({ root: app, logLevel: 'error', build: { outDir: 'dist', target: 'es2022' } });
  const dist = join(app, 'dist');
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const server = createServer(async (req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    try {
      const f = join(dist, p === '/' ? 'index.html' : p.replace(/^\/+/, ''));
      if (!f.startsWith(dist)) throw new Error('outside');
      const body = await readFile(f);
      res.writeHead(200, { 'content-type': types[f.slice(f.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.result, null, { timeout: 30_000 }).catch(() => {});
    assert.deepEqual(errors, []);
    assert.deepEqual(await page.evaluate(() => window.result), { title: 'bundled', same: true });
  } finally {
    await browser.close();
    server.close();
  }
}

test('npm pack -> npm install in a fresh app -> import from a plain .mjs; vite bundles it for Chromium', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weftdb-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: wasmDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const info = JSON.parse(out.slice(out.indexOf('[')))[0];
    const files = info.files.map((f) => f.path).sort();
    for (const f of ['dist/weftdb_core.mjs', 'dist/weftdb_core.wasm', 'index.d.ts', 'package.json', 'src/index.js', 'src/core.js', 'src/constants.js', 'src/constants.d.ts'])
      assert.ok(files.includes(f), `${f} is in the tarball: ${files.join(', ')}`);
    assert.ok(!files.some((f) => f.endsWith('.c') || f.includes('node_modules')), 'no C sources or node_modules shipped');
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, tarball)], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] });
    writeFileSync(join(app, 'main.mjs'), `
      import { createSpace, openSpace, WeftError } from 'weftdb';
      const a = await createSpace({ storage: 'memory' });
      await a.collection('todos').put('t1', { title: 'from the tarball', done: false });
      const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'write' }) });
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
    // ...and type-check, generated parts (src/constants.d.ts) included.
    writeFileSync(join(app, 'types.ts'), `
      import { ERRORS, RIGHTS, type ErrorCode, type Rights } from 'weftdb';
      const c: ErrorCode = 'WEFT_EUNKNOWN';
      const n: -13 = ERRORS.WEFT_ENOTFOUND;
      const r: Rights = 'admin';
      const w: 2 = RIGHTS.write;
      export { c, n, r, w };
    `);
    const ts = (await import('typescript')).default;
    const program = ts.createProgram([join(app, 'types.ts')], {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [],
    });
    assert.deepEqual(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), []);
    if (existsSync(CHROMIUM)) await viteApp(app);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
