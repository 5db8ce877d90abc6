// A throwaway certificate authority made at test time with the openssl CLI:
// the TLS tests trust only it, so nothing depends on the machine's trust store.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A new CA in its own temp dir: { dir, ca (PEM path), caPem (text), issue(name) }. */
export function makeCa(name = 'weft-test-ca') {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ca-'));
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  openssl('req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '2', '-subj', `/CN=${name}`);
  let serial = 0;
  return {
    dir,
    ca,
    caPem: readFileSync(ca, 'utf8'),
    /** A server certificate for localhost and 127.0.0.1: { cert, key } PEM paths. */
    issue(cn = 'localhost') {
      const base = join(dir, `server${++serial}`);
      openssl('req', ...ec, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`);
      writeFileSync(`${base}.ext`, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
      openssl('x509', '-req', '-in', `${base}.csr`, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.ext`);
      return { cert: `${base}.pem`, key: `${base}.key` };
    },
  };
}
