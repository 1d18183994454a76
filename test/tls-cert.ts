/** A throwaway self-signed TLS certificate for 127.0.0.1 (openssl), for the HTTPS tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function selfSignedCert(dir = mkdtempSync(join(tmpdir(), 'edgeserve-tls-'))): {
  cert: string;
  key: string;
} {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const subject = ['-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'];
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    ...subject,
  ]);
  return { cert, key };
}
