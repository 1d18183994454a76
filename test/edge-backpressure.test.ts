/**
 * A client that stops reading a stream holds the backend up, not the edge's memory: the edge
 * stops reading the upstream while the client's socket is full, and everything arrives, in
 * order, once the client reads again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeEdge } from '../edge/node.ts';
import { bearer, chatBody, startEdge, testConfig, waitFor } from './edge-helpers.ts';

// 24 MB: several times what the sockets' kernel buffers on the way hold (~7.5 MB here).
const EVENTS = 12_000;
const PAD = 'x'.repeat(2000);
const piece = (i: number) => `<${i}>${PAD}`;

/** An upstream that streams EVENTS large events as fast as its socket takes them. */
function startUpstream(): Promise<{ server: Server; url: string; written: () => number }> {
  let written = 0;
  const server = createServer((req, res) => {
    req.resume();
    if (req.url !== '/v1/chat/completions') {
      res.end('{"status":"ok"}'); // health checks
      return;
    }
    req.on('end', async () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < EVENTS; i++) {
        const chunk = {
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta: { content: piece(i) } }],
        };
        written = i + 1;
        if (!res.write(`data: ${JSON.stringify(chunk)}\n\n`))
          await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        written: () => written,
      }),
    ),
  );
}

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let edge: NodeEdge;

beforeAll(async () => {
  upstream = await startUpstream();
  edge = await startEdge(
    testConfig([upstream.url], {
      maskers: { builtins: false, custom: [] },
      cache: { enabled: false },
    }),
  );
});
afterAll(async () => {
  await edge.close();
  await new Promise((resolve) => upstream.server.close(resolve));
});

describe('edge backpressure', () => {
  it('stops reading the backend while the client does not read, then delivers every event in order', async () => {
    const { port } = new URL(edge.url);
    const body = JSON.stringify(chatBody('stream a lot', { stream: true }));
    const headers = await bearer();
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause(); // read nothing for now
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: edge\r\nauthorization: ${headers.authorization}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    // The backend writes until every buffer between it and the client is full, then waits.
    let last = -1;
    await waitFor(async () => {
      const now = upstream.written();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const settled = now > 0 && now === last && upstream.written() === now;
      last = upstream.written();
      return settled;
    }, 20_000);
    expect(upstream.written()).toBeLessThan(EVENTS);

    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.resume();
    await new Promise((resolve) => socket.once('end', resolve));
    const raw = Buffer.concat(chunks).toString();
    const pieces = [...raw.matchAll(/<(\d+)>x+/g)];
    expect(pieces).toHaveLength(EVENTS);
    expect(pieces.every((m, i) => Number(m[1]) === i && m[0].length === piece(i).length)).toBe(
      true,
    );
    expect(raw).toContain('data: [DONE]');
  }, 60_000);
});
