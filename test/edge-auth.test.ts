import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeEdge } from '../edge/node.ts';
import { chatBody, post, SECRET, startEdge, testConfig } from './edge-helpers.ts';
import { type StubUpstream, startStubUpstream } from './stub-upstream.ts';

const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'edgeserve-test';
const now = () => Math.floor(Date.now() / 1000);

let stub: StubUpstream;
let jwksServer: Server;
let jwksUrl: string;
let jwksDelayMs = 0;
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let ec: Awaited<ReturnType<typeof generateKeyPair>>;
let hsEdge: NodeEdge;
let bothEdge: NodeEdge;
let jwksOnlyEdge: NodeEdge;

beforeAll(async () => {
  stub = await startStubUpstream();
  rsa = await generateKeyPair('RS256', { extractable: true });
  ec = await generateKeyPair('ES256', { extractable: true });
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ];
  jwksServer = createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    }, jwksDelayMs);
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  const auth = { issuer: ISSUER, audience: AUDIENCE, jwksTimeoutMs: 300 };
  hsEdge = await startEdge(testConfig([stub.url], { auth }));
  bothEdge = await startEdge(testConfig([stub.url], { auth: { ...auth, jwksUrl } }));
  jwksOnlyEdge = await startEdge(
    testConfig([stub.url], { auth: { ...auth, jwksUrl, jwtSecret: undefined } }),
  );
});

afterAll(async () => {
  await Promise.all([hsEdge.close(), bothEdge.close(), jwksOnlyEdge.close(), stub.close()]);
  jwksServer.closeAllConnections();
  jwksServer.close();
});

const hs = (claims: Record<string, unknown> = {}, secret: string | Uint8Array = SECRET) =>
  new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: now() + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

const rs = (claims: Record<string, unknown> = {}, kid = 'rsa-1') =>
  new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'bob', exp: now() + 600, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid })
    .sign(rsa.privateKey);

async function call(edge: NodeEdge, headers: Record<string, string>) {
  const res = await post(`${edge.url}/v1/chat/completions`, chatBody('hi', { temperature: 1 }), {
    'content-type': 'application/json',
    ...headers,
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: { type: string; message: string } },
  };
}

const withToken = (t: string) => ({ authorization: `Bearer ${t}` });

async function expect401(edge: NodeEdge, headers: Record<string, string>, message: RegExp) {
  const { status, body } = await call(edge, headers);
  expect(status).toBe(401);
  expect(body.error?.type).toBe('authentication_error');
  expect(body.error?.message).toMatch(message);
}

describe('edge auth', () => {
  it('accepts a valid HS256 token', async () => {
    expect((await call(hsEdge, withToken(await hs()))).status).toBe(200);
  });

  it('rejects a missing Authorization header', () => expect401(hsEdge, {}, /Missing/));

  it('rejects malformed Authorization headers', async () => {
    await expect401(hsEdge, { authorization: 'Basic dXNlcjpwdw==' }, /Malformed/);
    await expect401(hsEdge, { authorization: 'Bearer' }, /Malformed/);
    await expect401(hsEdge, withToken('not-a-jwt'), /Invalid API key or token/);
    await expect401(hsEdge, withToken('a.b.c'), /Malformed|Invalid/);
  });

  it("rejects alg 'none'", async () => {
    const unsecured = new UnsecuredJWT({ sub: 'alice', iss: ISSUER, aud: AUDIENCE })
      .setExpirationTime('1h')
      .encode();
    await expect401(hsEdge, withToken(unsecured), /algorithm 'none'/);
  });

  it('rejects an HS256 token signed with the RSA public key (algorithm confusion)', async () => {
    const publicPem = await exportSPKI(rsa.publicKey);
    const forged = await hs({ sub: 'mallory' }, publicPem);
    await expect401(jwksOnlyEdge, withToken(forged), /algorithm 'HS256' is not accepted/);
    await expect401(bothEdge, withToken(forged), /signature/);
  });

  it('checks asymmetric tokens against the JWKS only, HS tokens against the secret only', async () => {
    expect((await call(bothEdge, withToken(await rs()))).status).toBe(200);
    expect((await call(bothEdge, withToken(await hs()))).status).toBe(200);
    const es = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'carol', exp: now() + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'ec-1' })
      .sign(ec.privateKey);
    expect((await call(jwksOnlyEdge, withToken(es))).status).toBe(200);
    await expect401(hsEdge, withToken(await rs()), /algorithm 'RS256' is not accepted/);
  });

  it('requires exp and honours a small clock tolerance', async () => {
    await expect401(hsEdge, withToken(await hs({ exp: now() - 120 })), /expired/);
    await expect401(hsEdge, withToken(await hs({ exp: undefined })), /"exp"|'exp'|exp/);
    expect((await call(hsEdge, withToken(await hs({ exp: now() - 5 })))).status).toBe(200);
  });

  it('rejects a token that is not yet valid', () =>
    hs({ nbf: now() + 600 }).then((t) => expect401(hsEdge, withToken(t), /not yet valid/)));

  it('rejects the wrong issuer or audience', async () => {
    await expect401(hsEdge, withToken(await hs({ iss: 'https://evil.test/' })), /'iss'/);
    await expect401(hsEdge, withToken(await hs({ aud: 'someone-else' })), /'aud'/);
  });

  it('rejects a tampered signature and a tampered payload', async () => {
    const t = await hs();
    const [h, p, s] = t.split('.');
    const flipped = s![0] === 'A' ? `B${s!.slice(1)}` : `A${s!.slice(1)}`;
    await expect401(hsEdge, withToken(`${h}.${p}.${flipped}`), /signature/);
    const payload = Buffer.from(
      JSON.stringify({ sub: 'root', exp: now() + 600, iss: ISSUER, aud: AUDIENCE }),
    ).toString('base64url');
    await expect401(hsEdge, withToken(`${h}.${payload}.${s}`), /signature/);
  });

  it('rejects an unknown kid', () =>
    rs({}, 'nope').then((t) => expect401(jwksOnlyEdge, withToken(t), /No signing key matches/)));

  it('accepts static API keys (x-api-key or bearer), each with its own sub and limits', async () => {
    const sha256 = createHash('sha256').update('machine-key-1').digest('hex');
    const limits = { requestsPerMinute: 7, tokensPerMinute: 1000 };
    const keyEdge = await startEdge(
      testConfig([stub.url], { auth: { apiKeys: [{ sha256, sub: 'robot', limits }] } }),
    );
    try {
      const viaHeader = await post(`${keyEdge.url}/v1/chat/completions`, chatBody('hi'), {
        'x-api-key': 'machine-key-1',
      });
      expect(viaHeader.status).toBe(200);
      expect(viaHeader.headers.get('x-ratelimit-limit-requests')).toBe('7');
      await viaHeader.text();
      expect((await call(keyEdge, withToken('machine-key-1'))).status).toBe(200);
      await expect401(keyEdge, { 'x-api-key': 'machine-key-2' }, /Invalid API key/);
    } finally {
      await keyEdge.close();
    }
  });

  it('rejects oversized tokens before parsing them', () =>
    expect401(hsEdge, withToken(`${'a'.repeat(9000)}.b.c`), /exceeds 8192 bytes/));

  it('answers 401 within the JWKS timeout when the key server is slow or down', async () => {
    const slowEdge = await startEdge(
      testConfig([stub.url], {
        auth: { jwksUrl: `${jwksUrl}?slow`, jwtSecret: undefined, jwksTimeoutMs: 200 },
      }),
    );
    const deadPort = await (async () => {
      const s = createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const port = (s.address() as AddressInfo).port;
      await new Promise<void>((r) => s.close(() => r()));
      return port;
    })();
    const downEdge = await startEdge(
      testConfig([stub.url], {
        auth: { jwksUrl: `http://127.0.0.1:${deadPort}/jwks.json`, jwtSecret: undefined },
      }),
    );
    try {
      jwksDelayMs = 5000;
      await expect401(slowEdge, withToken(await rs()), /could not be fetched in time/);
      await expect401(downEdge, withToken(await rs()), /unavailable/);
    } finally {
      jwksDelayMs = 0;
      await Promise.all([slowEdge.close(), downEdge.close()]);
    }
  });
});
