/**
 * Raw HTTP/1.1 against the real edge and backend processes: request smuggling shapes
 * (Content-Length + Transfer-Encoding, duplicate Content-Length, obs-fold), oversized headers, and
 * path traversal on every route. Each bad request gets a 4xx, nothing smuggled reaches the
 * backend, no file content ever comes back, and the server keeps serving. The smuggling and
 * header cases also run against an edge serving HTTPS (--tls-cert/--tls-key).
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../edge/dev-token.ts';
import { fixtureModelCache } from '../fixtures/models.ts';
import { killAll, type Proc, spawnBackend, spawnEdge } from '../reliability/processes.ts';
import { type StubUpstream, startStubUpstream } from '../stub-upstream.ts';
import { selfSignedCert } from '../tls-cert.ts';

const SECRET = 'http-hardening-secret-0123456789abcdef';
let stub: StubUpstream;
let edge: Proc;
let tlsEdge: Proc;
let backend: Proc;
let token: string;
let ca: string;

beforeAll(async () => {
  stub = await startStubUpstream();
  token = await mintDevToken(SECRET, { sub: 'alice', ttlSeconds: 600 });
  const { cert, key } = selfSignedCert();
  ca = readFileSync(cert, 'utf8');
  const env = { JWT_SECRET: SECRET, BACKEND_URLS: stub.url };
  [edge, tlsEdge, backend] = await Promise.all([
    spawnEdge([], env),
    spawnEdge(['--tls-cert', cert, '--tls-key', key], env),
    spawnBackend(fixtureModelCache('llama', 11), ['--device', 'reference']),
  ]);
});

afterAll(async () => {
  await Promise.all([edge?.stop(), tlsEdge?.stop(), backend?.stop()]);
  killAll();
  await stub?.close();
});

interface RawResponse {
  status: number;
  head: string;
  body: string;
  /** The whole byte stream the server sent until it closed (or we gave up). */
  raw: string;
}

/**
 * Sends raw bytes and reads until the server closes, or goes quiet for `quietMs` after its first
 * byte (a kept-alive socket), or sends nothing at all for 10 s; parses the first response.
 */
function rawRequest(url: string, payload: string, quietMs = 300): Promise<RawResponse> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket =
      protocol === 'https:'
        ? tlsConnect({ host: hostname, port: Number(port), ca })
        : connect(Number(port), hostname);
    let raw = '';
    let timer: NodeJS.Timeout = setTimeout(() => finish(), 10_000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: rest.join('\r\n\r\n'), raw });
    };
    socket.on(protocol === 'https:' ? 'secureConnect' : 'connect', () => socket.write(payload));
    socket.on('data', (d) => {
      raw += d.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    });
    socket.on('end', finish);
    socket.on('error', (e) => (raw ? finish() : reject(e)));
  });
}

const host = (url: string) => new URL(url).host;
const chatJson = JSON.stringify({
  model: 'stub-model',
  messages: [{ role: 'user', content: 'hi' }],
});
/** A complete second request hidden in a body, as a smuggler would. */
const smuggled = (url: string) =>
  `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host(url)}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${chatJson.length}\r\n\r\n${chatJson}`;

type Target = 'edge' | 'edge over TLS' | 'backend';
const urlOf = (target: Target) =>
  target === 'edge' ? edge.url : target === 'backend' ? backend.url : tlsEdge.url;

/** POST over HTTPS trusting the test certificate; resolves with the status. */
function httpsPost(url: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'POST', headers, ca }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function stillServes(target: Target) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  if (target === 'edge over TLS') {
    expect(await httpsPost(`${tlsEdge.url}/v1/chat/completions`, headers, chatJson)).toBe(200);
  } else if (target === 'edge') {
    const res = await fetch(`${edge.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: chatJson,
    });
    expect(res.status).toBe(200);
    await res.text();
  } else {
    const res = await fetch(`${backend.url}/health`);
    expect(res.status).toBe(200);
  }
}

const smugglingCases: [string, (url: string) => string][] = [
  [
    'Content-Length and Transfer-Encoding together (CL.TE)',
    (url) => {
      const chunked = `0\r\n\r\n${smuggled(url)}`;
      return `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host(url)}\r\nContent-Type: application/json\r\nContent-Length: ${chunked.length}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`;
    },
  ],
  [
    'Transfer-Encoding and Content-Length together (TE.CL)',
    (url) => {
      const inner = smuggled(url);
      const chunked = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
      return `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host(url)}\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${chunked}`;
    },
  ],
  [
    'two different Content-Length headers',
    (url) =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host(url)}\r\nContent-Length: 2\r\nContent-Length: ${chatJson.length}\r\n\r\n${chatJson}`,
  ],
  [
    'an obfuscated Transfer-Encoding',
    (url) =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host(url)}\r\nTransfer-Encoding: xchunked\r\nContent-Length: ${chatJson.length}\r\n\r\n${chatJson}`,
  ],
  [
    'an obs-fold (continuation line) header',
    (url) =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host(url)}\r\nX-Folded: a\r\n b\r\nContent-Length: ${chatJson.length}\r\n\r\n${chatJson}`,
  ],
  [
    'a bare LF inside a header line',
    (url) =>
      `GET /health HTTP/1.1\r\nHost: ${host(url)}\r\nX-Bad: a\nTransfer-Encoding: chunked\r\n\r\n`,
  ],
  [
    'a space before the header colon',
    (url) => `GET /health HTTP/1.1\r\nHost: ${host(url)}\r\nTransfer-Encoding : chunked\r\n\r\n`,
  ],
  [
    'a negative chunk size',
    (url) =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host(url)}\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n`,
  ],
];

const targets: Target[] = ['edge', 'edge over TLS', 'backend'];

describe('request smuggling and malformed framing', () => {
  for (const target of targets)
    for (const [name, build] of smugglingCases)
      it(`${target}: ${name} → 400, nothing smuggled, still serving`, async () => {
        const url = urlOf(target);
        const before = stub.completions;
        const res = await rawRequest(url, build(url));
        expect(res.status).toBe(400);
        // Exactly one response: a smuggled second request never got one.
        expect(res.raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
        expect(stub.completions).toBe(before);
        await stillServes(target);
      });
});

describe('oversized headers', () => {
  for (const target of targets)
    it(`${target}: 64 KiB of headers → 431, then still serving`, async () => {
      const url = urlOf(target);
      const big = Array.from({ length: 64 }, (_, i) => `X-Pad-${i}: ${'p'.repeat(1000)}`).join(
        '\r\n',
      );
      const res = await rawRequest(
        url,
        `GET /health HTTP/1.1\r\nHost: ${host(url)}\r\n${big}\r\n\r\n`,
      );
      expect(res.status).toBe(431);
      await stillServes(target);
    });
});

const pkg = readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8');
const traversalPaths = [
  '/../package.json',
  '/../../../../etc/passwd',
  '/%2e%2e/package.json',
  '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/..%2fpackage.json',
  '/..%5cpackage.json',
  '/%252e%252e/package.json',
  '/v1/../../package.json',
  '/v1/%2e%2e/%2e%2e/package.json',
  '/static/../../package.json',
  '//etc/passwd',
  '/.%00./package.json',
  '/./package.json',
  '/package.json',
  '/.env',
  '/edge/node.ts',
];

describe('path traversal', () => {
  for (const target of targets)
    it(`${target}: no path returns file contents`, async () => {
      const url = urlOf(target);
      for (const path of traversalPaths)
        for (const method of ['GET', 'POST']) {
          const res = await rawRequest(
            url,
            `${method} ${path} HTTP/1.1\r\nHost: ${host(url)}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
          );
          expect([400, 404]).toContain(res.status);
          expect(res.body).not.toContain('"devDependencies"');
          expect(res.body).not.toContain(pkg.slice(0, 60));
          expect(res.body).not.toMatch(/root:.*:0:0:|import \{|JWT_SECRET=/);
        }
      await stillServes(target);
    });
});
