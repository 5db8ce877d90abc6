// TLS end to end (issue 28): weft-relay with --tls-cert/--tls-key, weftdb
// over wss:// and the CLI over https://, trusting only a CA made at test
// time (tlsca.mjs); the certificate reloaded on SIGHUP without dropping a
// connection; handshakes counted on /metrics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { haveRelay, httpsGet, startRelay, RELAY } from './relay.mjs';
import { makeCa } from './tlsca.mjs';

const WEFT = join(dirname(fileURLToPath(import.meta.url)), '../../build/cli/weft');
const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
const skip = !haveRelay ? `no relay at ${RELAY} (tools/build native builds it)` : !haveOpenssl ? 'no openssl CLI' : false;
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

/** ws with its own trust: Node's TLS trusts only `ca` for this socket. */
const trusting = (ca) =>
  class extends WebSocket {
    constructor(url, protocols, opts) {
      super(url, protocols, { ...opts, ca });
    }
  };

async function until(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const metric = (text, name) => {
  const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
};

/** A plain TCP client that sends HTTP to the TLS port: a failed handshake. */
const plainHttp = (port) =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('error', resolve);
    s.on('close', resolve);
    s.setTimeout(3000, () => s.destroy());
  });

test('wss:// and https:// with a private CA; SIGHUP swaps the certificate and drops nobody', { skip, timeout: 90_000 }, async () => {
  const ca1 = makeCa('weft-test-ca-1');
  const ca2 = makeCa('weft-test-ca-2');
  cleanup.push(async () => rmSync(ca1.dir, { recursive: true, force: true }));
  cleanup.push(async () => rmSync(ca2.dir, { recursive: true, force: true }));
  // The relay reads these two paths; a reload replaces the files under them.
  const live = mkdtempSync(join(tmpdir(), 'weft-tls-'));
  cleanup.push(async () => rmSync(live, { recursive: true, force: true }));
  const cert = join(live, 'relay.pem');
  const key = join(live, 'relay.key');
  const first = ca1.issue();
  copyFileSync(first.cert, cert);
  copyFileSync(first.key, key);
  const r = await startRelay({ tls: { cert, key, ca: ca1.ca } });
  cleanup.push(() => r.stop());
  assert.match(r.url, /^wss:\/\/localhost:/);

  // Two weftdb replicas over wss://.
  const sync = { WebSocket: trusting(ca1.caPem), minDelay: 50, maxDelay: 400 };
  const a = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => a.close());
  const b = await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync });
  cleanup.push(() => b.close());
  await a.collection('notes').put('n1', { text: 'over TLS' });
  await until('b sees a over wss', () => b.collection('notes').get('n1')?.text === 'over TLS');

  // The CLI over https://, trusting the CA through SSL_CERT_FILE.
  if (existsSync(WEFT)) {
    const dir = join(live, 'cli');
    const https = `https://localhost:${r.port}`;
    const untrusted = spawnSync(WEFT, ['sync', dir, '--invite', a.invite({ rights: 'write' }), '--relay', https], { encoding: 'utf8', env: { ...process.env, SSL_CERT_FILE: ca2.ca } });
    assert.notEqual(untrusted.status, 0);
    assert.match(untrusted.stderr, /certificate not trusted/);
    const env = { ...process.env, SSL_CERT_FILE: ca1.ca };
    const out = JSON.parse(execFileSync(WEFT, ['sync', dir, '--invite', a.invite({ rights: 'write' }), '--relay', https], { encoding: 'utf8', env }).trim().split('\n').at(-1));
    assert.equal(out.applied, 1);
    execFileSync(WEFT, ['put', dir, 'notes', 'cli', '{"text":"from the CLI"}'], { env });
    execFileSync(WEFT, ['sync', dir], { env });
    await until('a sees the CLI', () => a.collection('notes').get('cli')?.text === 'from the CLI');
  }

  // Handshakes: a plain-HTTP client and one that does not trust the CA fail.
  let m = (await httpsGet(r.port, '/metrics', ca1.caPem)).body;
  const ok0 = metric(m, 'weft_relay_tls_handshakes_total{result="ok"}');
  const failed0 = metric(m, 'weft_relay_tls_handshakes_total{result="failed"}');
  assert.ok(ok0 >= 3, `ok handshakes ${ok0}`);
  await plainHttp(r.port);
  await assert.rejects(httpsGet(r.port, '/healthz', ca2.caPem));
  await until('two failed handshakes', async () => metric((await httpsGet(r.port, '/metrics', ca1.caPem)).body, 'weft_relay_tls_handshakes_total{result="failed"}') >= failed0 + 2);
  const conns0 = metric(m, 'weft_relay_connections_total');
  assert.equal(metric(m, 'weft_relay_connections'), 2);

  // SIGHUP with a certificate from CA 2: new connections get it, the open
  // WebSockets stay up and keep syncing.
  const second = ca2.issue();
  copyFileSync(second.cert, join(live, 'next.pem'));
  copyFileSync(second.key, join(live, 'next.key'));
  renameSync(join(live, 'next.pem'), cert);
  renameSync(join(live, 'next.key'), key);
  r.signal('SIGHUP');
  await until('the new certificate is served', () => httpsGet(r.port, '/healthz', ca2.caPem).then((x) => x.status === 200, () => false));
  await assert.rejects(httpsGet(r.port, '/healthz', ca1.caPem));
  await b.collection('notes').put('n2', { text: 'after the reload' });
  await until('a sees b after the reload', () => a.collection('notes').get('n2')?.text === 'after the reload');
  m = (await httpsGet(r.port, '/metrics', ca2.caPem)).body;
  assert.equal(metric(m, 'weft_relay_connections'), 2, 'both WebSockets still open');
  assert.equal(metric(m, 'weft_relay_connections_total'), conns0, 'nobody reconnected');
  assert.equal(metric(m, 'weft_relay_tls_reloads_total{result="ok"}'), 1);

  // A key that does not match: the reload is refused, the pair in use stays.
  copyFileSync(first.key, join(live, 'next.key'));
  renameSync(join(live, 'next.key'), key);
  r.signal('SIGHUP');
  await until('the refused reload is counted', async () => metric((await httpsGet(r.port, '/metrics', ca2.caPem)).body, 'weft_relay_tls_reloads_total{result="failed"}') === 1);
  assert.equal((await httpsGet(r.port, '/healthz', ca2.caPem)).status, 200);
  assert.match(r.log(), /keeping the old certificate/);

  // A newcomer trusting CA 2 joins over wss:// and gets everything.
  const c = await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync: { ...sync, WebSocket: trusting(ca2.caPem) } });
  cleanup.push(() => c.close());
  await until('c converges', () => c.stateHash() === a.stateHash() && c.collection('notes').get('n2'));
});

test('the relay refuses to start with a key that does not match its certificate', { skip, timeout: 30_000 }, async () => {
  const ca = makeCa();
  cleanup.push(async () => rmSync(ca.dir, { recursive: true, force: true }));
  const x = ca.issue();
  const y = ca.issue();
  const run = spawnSync(RELAY, ['--listen', '127.0.0.1:1', '--storage', 'memory', '--tls-cert', x.cert, '--tls-key', y.key], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /does not match/);
  const half = spawnSync(RELAY, ['--listen', '127.0.0.1:1', '--storage', 'memory', '--tls-cert', x.cert], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(half.status, 2);
  assert.match(half.stderr, /go together/);
});
