import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../test/tls-cert.ts';
import { Cancellation } from './cancel.ts';
import { defaultConfig } from './config.ts';
import { createNodeUpstream, type NodeUpstream } from './node-upstream.ts';

const upstream: NodeUpstream = createNodeUpstream(defaultConfig().routing);
afterAll(() => upstream.close());

let server: Server | undefined;
afterEach(
  () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
);

async function listen(s: Server, scheme = 'http'): Promise<string> {
  server = s;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return `${scheme}://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const get = (url: string) =>
  upstream.fetchUpstream(url, { method: 'GET', headers: {}, signal: new Cancellation() });

async function readAll(body: AsyncIterable<Uint8Array> | null): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body!) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `bytes` in pieces of the given sizes (cycled), waiting `gapMs` between some of them. */
async function writeInPieces(res: ServerResponse, bytes: Buffer, sizes: number[], gapMs = 0) {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const end = Math.min(bytes.length, at + sizes[i % sizes.length]!);
    if (!res.write(bytes.subarray(at, end)))
      await new Promise((resolve) => res.once('drain', resolve));
    at = end;
    if (gapMs && i % 7 === 0) await pause(gapMs);
  }
  res.end();
}

describe('Node upstream calls (one read buffer shared by every plain-TCP socket)', () => {
  it('delivers bodies intact whatever the read sizes: tiny, pooled and over the pool limit', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    // 1 to 3 bytes, SSE-sized, around Node's 4 KB pooling limit, and bigger than one read.
    const sizes = [1, 3, 180, 4095, 4096, 4097, 70_000, 2, 65_536, 300];
    const url = await listen(createServer((_req, res) => void writeInPieces(res, body, sizes, 1)));
    const res = await get(`${url}/big`);
    expect(res.status).toBe(200);
    const got = await readAll(res.body);
    expect(got.length).toBe(body.length);
    expect(sha(got)).toBe(sha(body));
  });

  it('keeps concurrent streams apart: each gets its own bytes, interleaved reads and all', async () => {
    const bodies = Array.from({ length: 24 }, (_, i) =>
      Buffer.from(`stream ${i}: ${randomBytes(20_000 + i * 997).toString('base64')}`),
    );
    const url = await listen(
      createServer((req, res) => {
        const i = Number(req.url!.slice(1));
        void writeInPieces(res, bodies[i]!, [7 + i, 150, 33, 1024 + i], 1 + (i % 3));
      }),
    );
    const got = await Promise.all(
      bodies.map(async (_, i) => readAll((await get(`${url}/${i}`)).body)),
    );
    for (let i = 0; i < bodies.length; i++)
      expect(sha(got[i]!), `stream ${i}`).toBe(sha(bodies[i]!));
  });

  it('stops reading the socket while the reader is behind, and resumes without losing bytes', async () => {
    const body = randomBytes(16 * 1024 * 1024);
    let blocked = 0;
    const url = await listen(
      createServer(async (_req, res) => {
        for (let at = 0; at < body.length; at += 64 * 1024) {
          if (!res.write(body.subarray(at, at + 64 * 1024))) {
            blocked++;
            await new Promise((resolve) => res.once('drain', resolve));
          }
        }
        res.end();
      }),
    );
    const res = await get(`${url}/slow-reader`);
    await pause(300); // nobody reads: the edge's buffers and then the kernel's fill up
    expect(blocked).toBeGreaterThan(0);
    const got = await readAll(res.body);
    expect(sha(got)).toBe(sha(body));
  });

  it('reaches https: origins over TLS', async () => {
    const { cert, key } = selfSignedCert();
    const url = await listen(
      createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) }, (_req, res) =>
        res.end('secret'),
      ),
      'https',
    );
    // A self-signed certificate is refused: the connection was TLS, checked as it should be.
    await expect(get(`${url}/`)).rejects.toThrow(/self[- ]signed/i);
  });
});
