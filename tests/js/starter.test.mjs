// The starter (templates/create-weft-app): create-weft-app makes an app in
// a temporary folder, wired to `npm pack`ed tarballs of weftdb; npm
// installs it (from the npm cache when it can); the app's own test builds
// it with vite and drives it in Chromium against a weft-relay built from
// this repository.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveRelay, startRelay, RELAY } from './relay.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const skip = !haveRelay ? `no relay at ${RELAY} (tools/build native builds it)` : !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : false;

const relays = [];
after(async () => {
  for (const r of relays) await r.stop().catch(() => {});
});

test('create-weft-app refuses bad arguments and a non-empty folder', () => {
  const bin = join(repo, 'templates/create-weft-app/index.mjs');
  const run = (...args) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  assert.equal(run().status, 2);
  assert.equal(run('x', '--relay', 'http://not-ws').status, 2);
  const r = run(here); // tests/js is not empty
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not empty/);
});

test('a new app from the starter installs from the packed tarball, builds and passes its own Chromium test against a relay', { skip, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-starter-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: join(repo, 'wasm'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const tarball = join(dir, JSON.parse(out.slice(out.indexOf('[')))[0].filename);
    const relay = await startRelay();
    relays.push(relay);

    const app = join(dir, 'my-app');
    const made = spawnSync(process.execPath, [join(repo, 'templates/create-weft-app/index.mjs'), app, '--relay', relay.url, '--weftdb', `file:${tarball}`], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /npm install/);
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    assert.equal(pkg.name, 'my-app');
    assert.equal(pkg.dependencies.weftdb, `file:${tarball}`);
    assert.equal(readFileSync(join(app, '.env.local'), 'utf8'), `VITE_WEFT_RELAY=${relay.url}\n`);
    assert.ok(readdirSync(app).includes('.gitignore'));

    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
    // Not NODE_TEST_CONTEXT: the app's `node --test` would take itself for a child of this run and run nothing.
    const { NODE_TEST_CONTEXT, ...env } = process.env;
    const t = spawnSync('npm', ['test'], { cwd: app, encoding: 'utf8', env: { ...env, WEFT_RELAY: relay.url, CHROMIUM }, timeout: 300_000 });
    const report = `${t.stdout}\n${t.stderr}`;
    assert.equal(t.status, 0, report);
    assert.match(report, /# pass 2/, report);
    assert.match(report, /# skipped 0/, report);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
