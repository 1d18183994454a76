/**
 * The Workers entry, bundled with esbuild and run in workerd through Miniflare, in front of the
 * same stub upstream as the Node tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, hasMiniflare, readStream, SECRET, startWorkerd, token } from './edge-helpers.ts';
import { type StubUpstream, startStubUpstream } from './stub-upstream.ts';

describe.skipIf(!hasMiniflare)('edge on workerd (Miniflare)', () => {
  let stub: StubUpstream;
  // biome-ignore lint/suspicious/noExplicitAny: Miniflare is imported only when installed
  let mf: any;
  const url = 'http://edge.test';

  beforeAll(async () => {
    stub = await startStubUpstream({ reply: 'Write to ann@example.com now.' });
    mf = await startWorkerd({
      JWT_SECRET: SECRET,
      BACKEND_URLS: stub.url,
      EDGE_CONFIG: JSON.stringify({ limits: { requestsPerMinute: 50 } }),
    });
  });
  afterAll(async () => {
    await mf?.dispose();
    await stub?.close();
  });

  const chat = async (body: unknown, headers: Record<string, string> = {}) =>
    mf.dispatchFetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('worker-user')}`, ...headers },
      body: JSON.stringify(body),
    }) as Promise<Response>;

  it('authenticates, forwards, masks and rate-limits', async () => {
    const res = await chat(chatBody('hello worker', { temperature: 1 }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('50');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect((await res.json()).choices[0].message.content).toBe('Write to [REDACTED:email] now.');
    // (GET: undici's client fetch cannot replay a POST body after a 401 challenge.)
    const denied = await mf.dispatchFetch(`${url}/v1/models`);
    expect(denied.status).toBe(401);
    expect((await denied.json()).error.type).toBe('authentication_error');
  });

  it('streams SSE and replays it from the cache without reaching the backend', async () => {
    const body = chatBody('stream on workerd', { stream: true });
    const first = await chat(body);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const live = await readStream(first);
    expect(live.text).toBe('Write to [REDACTED:email] now.');
    const before = stub.completions;
    const second = await chat(body);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect((await readStream(second)).events).toEqual(live.events);
    expect(stub.completions).toBe(before);
  });

  it('reports backend health', async () => {
    const res = await mf.dispatchFetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect((await res.json()).backends[0].url).toBe(stub.url);
  });
});
