/**
 * JWT attacks against the real edge process (`edgeserve edge`, spawned) in front of a stub
 * backend. Each attack must get a 401 authentication_error, must never reach the backend, and
 * its error body must not echo the token or any secret.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  base64url,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  SignJWT,
  UnsecuredJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, type Proc, spawnEdge } from '../reliability/processes.ts';
import { type StubUpstream, startStubUpstream } from '../stub-upstream.ts';

const SECRET = 'security-suite-secret-0123456789abcdef';
const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'edgeserve-security';
const now = () => Math.floor(Date.now() / 1000);
const hsKey = new TextEncoder().encode(SECRET);

let stub: StubUpstream;
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let attacker: Awaited<ReturnType<typeof generateKeyPair>>;
const servers: Server[] = [];
let jwksUrl: string;
let attackerJwksUrl: string;
let attackerJwksHits = 0;
let hsEdge: Proc;
let jwksEdge: Proc;
let bothEdge: Proc;
let slowJwksEdge: Proc;
let downJwksEdge: Proc;

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}/jwks.json`;
}

beforeAll(async () => {
  stub = await startStubUpstream();
  rsa = await generateKeyPair('RS256', { extractable: true });
  attacker = await generateKeyPair('RS256', { extractable: true });
  const keys = [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' }];
  const jwksBase = await listen((req, res) => {
    const send = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    };
    if (req.url?.includes('slow')) setTimeout(send, 10_000).unref();
    else send();
  });
  jwksUrl = `${jwksBase}/jwks.json`;
  const attackerKeys = [{ ...(await exportJWK(attacker.publicKey)), kid: 'rsa-1', alg: 'RS256' }];
  attackerJwksUrl = `${await listen((_req, res) => {
    attackerJwksHits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: attackerKeys }));
  })}/jwks.json`;
  const dir = mkdtempSync(join(tmpdir(), 'edge-security-'));
  // A short JWKS timeout only where the key server is slow or down: on a loaded CI box the
  // healthy key server may take longer than 300 ms to answer the first fetch.
  const config = join(dir, 'edge.json');
  writeFileSync(config, JSON.stringify({ auth: { jwksTimeoutMs: 300 } }));
  const common = { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, BACKEND_URLS: stub.url };
  [hsEdge, jwksEdge, bothEdge, slowJwksEdge, downJwksEdge] = await Promise.all([
    spawnEdge([], { ...common, JWT_SECRET: SECRET }),
    spawnEdge([], { ...common, JWT_JWKS_URL: jwksUrl }),
    spawnEdge([], { ...common, JWT_JWKS_URL: jwksUrl, JWT_SECRET: SECRET }),
    spawnEdge(['--config', config], { ...common, JWT_JWKS_URL: `${jwksUrl}?slow` }),
    spawnEdge(['--config', config], { ...common, JWT_JWKS_URL: await deadUrl() }),
  ]);
});

afterAll(async () => {
  await Promise.all([hsEdge, jwksEdge, bothEdge, slowJwksEdge, downJwksEdge].map((e) => e?.stop()));
  killAll();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await stub?.close();
});

const claims = (extra: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'alice',
  exp: now() + 600,
  ...extra,
});

const hs = (extra: Record<string, unknown> = {}, key: Uint8Array = hsKey) =>
  new SignJWT(claims(extra)).setProtectedHeader({ alg: 'HS256' }).sign(key);

const rs = (
  extra: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  key = rsa.privateKey,
) =>
  new SignJWT(claims(extra))
    .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1', ...header })
    .sign(key);

/** A token whose header and payload are whatever we say, with the given signature bytes. */
const forge = (header: unknown, payload: unknown, signature = '') =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${signature}`;

async function call(edge: Proc, headers: Record<string, string>) {
  const res = await fetch(`${edge.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'stub-model', messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, text: await res.text() };
}

async function expectRejected(edge: Proc, token: string, message: RegExp) {
  const before = stub.completions;
  const { status, text } = await call(edge, { authorization: `Bearer ${token}` });
  expect(status).toBe(401);
  const body = JSON.parse(text) as { error: { type: string; message: string } };
  expect(body.error.type).toBe('authentication_error');
  expect(body.error.message).toMatch(message);
  expect(text).not.toContain(token.slice(0, 40));
  expect(text).not.toContain(SECRET);
  expect(text).not.toMatch(/\n\s+at |\.ts:\d+/);
  expect(stub.completions).toBe(before);
}

describe('JWT attacks on the edge process', () => {
  it('accepts the genuine HS256 and RS256 tokens (control)', async () => {
    expect((await call(hsEdge, { authorization: `Bearer ${await hs()}` })).status).toBe(200);
    expect((await call(jwksEdge, { authorization: `Bearer ${await rs()}` })).status).toBe(200);
    expect((await call(bothEdge, { authorization: `Bearer ${await rs()}` })).status).toBe(200);
  });

  it("rejects alg 'none' (unsigned), in any spelling", async () => {
    const unsigned = new UnsecuredJWT(claims()).encode();
    for (const edge of [hsEdge, jwksEdge, bothEdge]) await expectRejected(edge, unsigned, /none/);
    for (const alg of ['None', 'NONE', 'nOnE'])
      await expectRejected(hsEdge, forge({ alg, typ: 'JWT' }, claims()), /not accepted/);
  });

  it('rejects HS256 signed with the RSA public key (algorithm confusion), as PEM or JWK', async () => {
    const pem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
    const jwk = new TextEncoder().encode(JSON.stringify(await exportJWK(rsa.publicKey)));
    for (const key of [pem, jwk]) {
      const forged = await hs({ sub: 'mallory' }, key);
      await expectRejected(jwksEdge, forged, /algorithm 'HS256' is not accepted/);
      await expectRejected(bothEdge, forged, /signature/);
    }
  });

  it('rejects an RS256 token on an HS-only edge', () =>
    rs().then((t) => expectRejected(hsEdge, t, /algorithm 'RS256' is not accepted/)));

  it('rejects expired tokens and tokens without exp', async () => {
    await expectRejected(hsEdge, await hs({ exp: now() - 3600 }), /expired/);
    await expectRejected(jwksEdge, await rs({ exp: now() - 3600 }), /expired/);
    await expectRejected(hsEdge, await hs({ exp: undefined }), /exp/);
    await expectRejected(hsEdge, await hs({ exp: String(now() + 600) }), /exp/);
  });

  it('rejects tokens not yet valid (nbf in the future)', () =>
    hs({ nbf: now() + 3600 }).then((t) => expectRejected(hsEdge, t, /not yet valid/)));

  it('rejects the wrong issuer or audience, and a token without sub', async () => {
    await expectRejected(hsEdge, await hs({ iss: 'https://evil.test/' }), /'iss'/);
    await expectRejected(jwksEdge, await rs({ aud: 'another-service' }), /'aud'/);
    await expectRejected(hsEdge, await hs({ iss: undefined }), /'iss'/);
    await expectRejected(hsEdge, await hs({ sub: undefined }), /sub/);
  });

  it('rejects an unknown kid, and ignores jku and embedded jwk headers', async () => {
    await expectRejected(jwksEdge, await rs({}, { kid: 'no-such-key' }), /No signing key/);
    const viaJku = await rs({}, { jku: attackerJwksUrl }, attacker.privateKey);
    await expectRejected(jwksEdge, viaJku, /signature/);
    const embedded = await rs(
      {},
      { jwk: (await exportJWK(attacker.publicKey)) as JWK },
      attacker.privateKey,
    );
    await expectRejected(jwksEdge, embedded, /signature/);
    expect(attackerJwksHits).toBe(0);
  });

  it('rejects tampered signatures, payloads and headers', async () => {
    for (const [edge, token] of [
      [hsEdge, await hs()],
      [jwksEdge, await rs()],
    ] as const) {
      const [h, p, s] = token.split('.') as [string, string, string];
      const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
      await expectRejected(edge, `${h}.${p}.${flipped}`, /signature/);
      const root = base64url.encode(JSON.stringify(claims({ sub: 'root' })));
      await expectRejected(edge, `${h}.${root}.${s}`, /signature/);
      await expectRejected(edge, `${h}.${p}.`, /signature|Invalid/);
    }
  });

  it('rejects oversized tokens before parsing, and a huge header with 431', async () => {
    await expectRejected(hsEdge, `${'a'.repeat(9000)}.b.c`, /exceeds 8192 bytes/);
    const { status } = await call(hsEdge, { authorization: `Bearer ${'a'.repeat(70_000)}` });
    expect(status).toBe(431);
    expect((await call(hsEdge, { authorization: `Bearer ${await hs()}` })).status).toBe(200);
  });

  it('rejects duplicate Authorization headers instead of picking one', async () => {
    const before = stub.completions;
    const headers = new Headers({ 'content-type': 'application/json' });
    headers.append('authorization', `Bearer ${await hs()}`);
    headers.append('authorization', `Bearer ${await hs({ sub: 'mallory' })}`);
    const res = await fetch(`${hsEdge.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'stub-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(401);
    expect(stub.completions).toBe(before);
  });

  it('answers 401 in bounded time when the JWKS server is slow or down', async () => {
    const started = Date.now();
    await expectRejected(slowJwksEdge, await rs(), /could not be fetched in time/);
    await expectRejected(downJwksEdge, await rs(), /unavailable/);
    // jwksTimeoutMs is 300; the slow server would take 10 s.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
