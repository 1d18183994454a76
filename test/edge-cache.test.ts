import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeEdge } from '../edge/node.ts';
import { bearer, chatBody, post, readStream, startEdge, testConfig } from './edge-helpers.ts';
import { type StubUpstream, startStubUpstream } from './stub-upstream.ts';

let stub: StubUpstream;
let edge: NodeEdge;
let sharedEdge: NodeEdge;
let seq = 0;
/** A conversation no earlier test has sent. */
const fresh = (label: string) => `${label} #${++seq} ${Math.random()}`;

beforeAll(async () => {
  stub = await startStubUpstream({
    reply: (body) => `answer to ${JSON.stringify(body.messages ?? body.prompt).length} chars`,
  });
  edge = await startEdge(testConfig([stub.url]));
  sharedEdge = await startEdge(testConfig([stub.url], { cache: { shared: true } }));
});
afterAll(() => Promise.all([edge.close(), sharedEdge.close(), stub.close()]));

const chat = async (
  e: NodeEdge,
  body: unknown,
  headers: Record<string, string> = {},
  sub = 'alice',
) => post(`${e.url}/v1/chat/completions`, body, { ...(await bearer(sub)), ...headers });

describe('edge response cache', () => {
  it('answers a repeat from the cache without reaching the backend', async () => {
    const body = chatBody(fresh('hello'));
    const first = await chat(edge, body);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const firstJson = await first.json();
    const before = stub.completions;
    const second = await chat(edge, body, { 'x-request-id': 'another-id', 'user-agent': 'other' });
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(await second.json()).toEqual(firstJson);
    expect(stub.completions).toBe(before);
  });

  it('scopes entries to the caller unless configured shared', async () => {
    const body = chatBody(fresh('scoped'));
    await (await chat(edge, body, {}, 'alice')).text();
    const bob = await chat(edge, body, {}, 'bob');
    expect(bob.headers.get('x-cache')).toBe('MISS');
    await bob.text();
    await (await chat(sharedEdge, body, {}, 'alice')).text();
    const sharedBob = await chat(sharedEdge, body, {}, 'bob');
    expect(sharedBob.headers.get('x-cache')).toBe('HIT');
  });

  it('bypasses non-deterministic requests and cache-control: no-cache', async () => {
    const random = chatBody(fresh('random'), { temperature: 0.7 });
    for (let i = 0; i < 2; i++) {
      const res = await chat(edge, random);
      expect(res.headers.get('x-cache')).toBe('BYPASS');
      await res.text();
    }
    const seeded = chatBody(fresh('seeded'), { temperature: 0.7, seed: 42 });
    await (await chat(edge, seeded)).text();
    expect((await chat(edge, seeded)).headers.get('x-cache')).toBe('HIT');
    const before = stub.completions;
    const noCache = await chat(edge, seeded, { 'cache-control': 'no-cache' });
    expect(noCache.headers.get('x-cache')).toBe('BYPASS');
    await noCache.text();
    expect(stub.completions).toBe(before + 1);
  });

  it('keys on sampling fields: a different max_tokens is a different entry', async () => {
    const body = chatBody(fresh('fields'), { max_tokens: 5 });
    await (await chat(edge, body)).text();
    const other = await chat(edge, { ...body, max_tokens: 6 });
    expect(other.headers.get('x-cache')).toBe('MISS');
    await other.text();
  });

  it('records a streamed answer and replays it as SSE; an immediate repeat is a HIT', async () => {
    const body = chatBody(fresh('stream'), { stream: true });
    const first = await chat(edge, body);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(first.headers.get('content-type')).toContain('text/event-stream');
    const live = await readStream(first);
    const before = stub.completions;
    const second = await chat(edge, body);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.headers.get('content-type')).toContain('text/event-stream');
    const replayed = await readStream(second);
    expect(replayed.text).toBe(live.text);
    expect(replayed.events).toEqual(live.events);
    expect(replayed.events.at(-1)).toBe('[DONE]');
    expect(stub.completions).toBe(before);
  });

  it('does not cache error answers', async () => {
    stub.options.failure = '500';
    try {
      const body = chatBody(fresh('broken'));
      expect((await chat(edge, body)).status).toBe(500);
      const again = await chat(edge, body);
      expect(again.headers.get('x-cache')).toBe('MISS');
      await again.text();
    } finally {
      stub.options.failure = 'none';
    }
  });
});
