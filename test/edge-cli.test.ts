import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, readStream, SECRET, token } from './edge-helpers.ts';
import { type StubUpstream, startStubUpstream } from './stub-upstream.ts';
import { selfSignedCert } from './tls-cert.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', 'bin', 'edgeserve.js');
const dir = mkdtempSync(join(tmpdir(), 'edge-cli-'));
const env = { ...process.env, JWT_SECRET: SECRET, BACKEND_URLS: '', EDGE_CONFIG: '' };

/** Starts `edgeserve edge` and resolves with its URL once it says it is listening. */
function startCli(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'edge', '--port', '0', ...args], { env });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve({ child, url: JSON.parse(line).url });
    });
    child.on('exit', (code) => reject(new Error(`edge exited ${code}: ${err}`)));
  });
}

const stop = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });

let stub: StubUpstream;
beforeAll(async () => {
  stub = await startStubUpstream({ reply: 'Reach me at bob@example.org.' });
});
afterAll(() => stub.close());

describe('edgeserve edge (CLI, real server)', () => {
  it('serves chat completions, plain and streamed, in front of a backend', async () => {
    const configFile = join(dir, 'edge.json');
    writeFileSync(configFile, JSON.stringify({ limits: { requestsPerMinute: 100 } }));
    const { child, url } = await startCli(['--backend', stub.url, '--config', configFile]);
    try {
      const headers = {
        authorization: `Bearer ${await token()}`,
        'content-type': 'application/json',
      };
      const plain = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...headers, 'x-request-id': 'cli-test-1' },
        body: JSON.stringify(chatBody('hi')),
      });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('x-request-id')).toBe('cli-test-1');
      expect(plain.headers.get('x-ratelimit-limit-requests')).toBe('100');
      expect((await plain.json()).choices[0].message.content).toBe('Reach me at [REDACTED:email].');
      const streamed = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify(chatBody('hi', { stream: true })),
      });
      expect((await readStream(streamed)).text).toBe('Reach me at [REDACTED:email].');
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      expect((await health.json()).backends[0].url).toBe(stub.url);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('serves HTTPS (TLS >= 1.2) with --tls-cert/--tls-key', async () => {
    const { cert, key } = selfSignedCert(dir);
    const { child, url } = await startCli([
      '--backend',
      stub.url,
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    try {
      expect(url.startsWith('https://')).toBe(true);
      const { status, protocol } = await new Promise<{ status: number; protocol: string }>(
        (resolve, reject) => {
          const req = request(`${url}/health`, { ca: readPem(cert) }, (res) => {
            res.resume();
            resolve({
              status: res.statusCode!,
              protocol: (res.socket as TLSSocket).getProtocol()!,
            });
          });
          req.on('error', reject);
          req.end();
        },
      );
      expect(status).toBe(200);
      expect(['TLSv1.2', 'TLSv1.3']).toContain(protocol);
    } finally {
      await stop(child);
    }
  });

  // `edge` runs from a bundle esbuild makes at start (bin/edge-bundle.js); its service process
  // must not outlive the build.
  it.runIf(existsSync('/proc/self/task'))('leaves no child process once it is up', async () => {
    const { child } = await startCli(['--backend', stub.url]);
    try {
      const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8');
      expect(children.trim()).toBe('');
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('exits 0 on a SIGTERM sent the moment it says it is listening', async () => {
    // A supervisor may stop it as soon as it reads the line: the handler must already be there.
    for (let i = 0; i < 3; i++) {
      const { child } = await startCli(['--backend', stub.url]);
      expect(await stop(child)).toBe(0);
    }
  });

  it('fails loudly on an unknown config key', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ cache: { sharde: true } }));
    const failed = await run(
      process.execPath,
      [BIN, 'edge', '--backend', stub.url, '--config', bad],
      {
        env,
      },
    ).catch((e) => e);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain("unknown key 'cache.sharde'");
  });
});

describe('edgeserve token', () => {
  it('mints an HS256 dev token for the configured secret', async () => {
    const { stdout } = await run(
      process.execPath,
      [BIN, 'token', '--sub', 'alice', '--ttl', '5m'],
      { env },
    );
    const { payload, protectedHeader } = await jwtVerify(
      stdout.trim(),
      new TextEncoder().encode(SECRET),
    );
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.sub).toBe('alice');
    expect(payload.exp! - payload.iat!).toBe(300);
  });
});

function readPem(path: string): string {
  return readFileSync(path, 'utf8');
}
