import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { EdgeConfig } from '../edge/config.ts';
import type { NodeEdge } from '../edge/node.ts';
import { bearer, chatBody, readStream, startEdge, testConfig, waitFor } from './edge-helpers.ts';
import { type StubOptions, type StubUpstream, startStubUpstream } from './stub-upstream.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

async function stubs(...options: Partial<StubOptions>[]): Promise<StubUpstream[]> {
  const started = await Promise.all(
    options.map((o, i) => startStubUpstream({ name: `b${i}`, ...o })),
  );
  cleanup.push(async () => void (await Promise.all(started.map((s) => s.close()))));
  return started;
}

async function edgeFor(
  urls: string[],
  patch: Parameters<typeof testConfig>[1] = {},
): Promise<NodeEdge> {
  const edge = await startEdge(testConfig(urls, patch));
  cleanup.push(() => edge.close());
  return edge;
}

async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

const noAffinity: Partial<EdgeConfig['routing']> = { affinityPrefixChars: 0 };
const chat = async (edge: NodeEdge, body: unknown, init: RequestInit = {}) =>
  fetch(`${edge.url}/v1/chat/completions`, {
    method: 'POST',
    headers: await bearer(),
    body: JSON.stringify(body),
    ...init,
  });
const health = async (edge: NodeEdge) => {
  const res = await fetch(`${edge.url}/health`);
  return { status: res.status, body: await res.json() };
};

describe('edge routing', () => {
  it('sends new work to the least loaded backend', async () => {
    const [a, b] = await stubs(
      { chunkDelayMs: 100, reply: 'x'.repeat(400) },
      { chunkDelayMs: 100, reply: 'x'.repeat(400) },
    );
    const edge = await edgeFor([a!.url, b!.url], { routing: noAffinity });
    const abort = new AbortController();
    const long = await chat(edge, chatBody('long', { stream: true, temperature: 1 }), {
      signal: abort.signal,
    });
    expect(long.status).toBe(200);
    const busy = a!.inFlight === 1 ? a! : b!;
    const idle = busy === a ? b! : a!;
    for (let i = 0; i < 4; i++)
      await (await chat(edge, chatBody(`quick ${i}`, { temperature: 1 }))).text();
    expect(idle.completions).toBe(4);
    expect(busy.completions).toBe(1);
    abort.abort();
    // The client went away: the edge aborts its upstream request.
    await waitFor(() => busy.inFlight === 0);
  });

  it('keeps a conversation on the backend its prefix hashes to', async () => {
    const [a, b] = await stubs({}, {});
    const edge = await edgeFor([a!.url, b!.url], { routing: { affinityPrefixChars: 64 } });
    const system = 'You are a helpful assistant who answers in one short sentence. '.repeat(2);
    const conversation = (turn: string) => ({
      model: 'stub-model',
      temperature: 1,
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: turn },
      ],
    });
    for (let i = 0; i < 5; i++) await (await chat(edge, conversation(`turn ${i}`))).text();
    expect([a!.completions, b!.completions].sort()).toEqual([0, 5]);
    for (let i = 0; i < 16; i++)
      await (await chat(edge, chatBody(`topic ${i}`, { temperature: 1 }))).text();
    expect(a!.completions).toBeGreaterThan(0);
    expect(b!.completions).toBeGreaterThan(0);
  });

  it("spreads one conversation's callers over backends, since callers never share KV", async () => {
    const [a, b] = await stubs({}, {});
    const edge = await edgeFor([a!.url, b!.url], { routing: { affinityPrefixChars: 64 } });
    const body = chatBody('the same long system prompt and question for everyone', {
      temperature: 1,
    });
    // Rendezvous hashing over the stubs' (random) ports: with 32 callers, all of them landing on
    // one backend by chance has odds of 2^-31.
    for (let caller = 0; caller < 32; caller++)
      for (let turn = 0; turn < 2; turn++) {
        const sub = `caller-${caller}`;
        const res = await fetch(`${edge.url}/v1/chat/completions`, {
          method: 'POST',
          headers: await bearer(sub),
          body: JSON.stringify(body),
        });
        await res.text();
      }
    expect(a!.completions).toBeGreaterThan(0);
    expect(b!.completions).toBeGreaterThan(0);
    expect(a!.completions % 2).toBe(0); // each caller's two turns went to one backend
  });

  it('retries a connect failure on another backend', async () => {
    const [live] = await stubs({});
    const dead = await deadUrl();
    const edge = await edgeFor([dead, live!.url], {
      routing: { ...noAffinity, healthCheckIntervalMs: 60_000, unhealthyAfterFailures: 3 },
    });
    for (let i = 0; i < 4; i++) {
      const res = await chat(edge, chatBody(`r${i}`, { temperature: 1 }));
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(live!.completions).toBe(4);
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    expect(metrics).toMatch(/^edge_upstream_errors_total [1-9]/m);
    const { body } = await health(edge);
    expect(body.backends.find((s: { url: string }) => s.url === dead).lastError).toMatch(
      /ECONNREFUSED/,
    );
  });

  it('retries a 503 on another backend before any byte was streamed', async () => {
    const [busy, ok] = await stubs({ failure: '503' }, {});
    const edge = await edgeFor([busy!.url, ok!.url], { routing: noAffinity });
    for (let i = 0; i < 4; i++) {
      const res = await chat(edge, chatBody(`s${i}`, { temperature: 1, stream: true }));
      expect(res.status).toBe(200);
      expect((await readStream(res)).text).toBe('Hello from the stub upstream.');
    }
    expect(busy!.completions).toBeGreaterThan(0);
    expect(ok!.completions).toBe(4);
  });

  it('answers 503 with retry-after when every backend is down, and /health says so', async () => {
    const [a, b] = await stubs({}, {});
    const edge = await edgeFor([a!.url, b!.url]);
    await waitFor(async () => (await health(edge)).status === 200);
    a!.options.healthy = false;
    b!.options.healthy = false;
    await waitFor(async () => (await health(edge)).status === 503);
    const { body } = await health(edge);
    expect(body.backends.map((s: { healthy: boolean }) => s.healthy)).toEqual([false, false]);
    const res = await chat(edge, chatBody('anyone?'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((await res.json()).error.type).toBe('service_unavailable');
    b!.options.healthy = true;
    await waitFor(async () => (await health(edge)).status === 200);
    expect((await health(edge)).body.backends.map((s: { healthy: boolean }) => s.healthy)).toEqual([
      false,
      true,
    ]);
  });

  it('ends a stream with an SSE error event when the backend fails midway, and marks it unhealthy', async () => {
    const [a] = await stubs({ failure: 'mid-stream', reply: 'y'.repeat(64), chunkDelayMs: 2 });
    const edge = await edgeFor([a!.url], { routing: { healthCheckIntervalMs: 60_000 } });
    const res = await chat(edge, chatBody('fail', { stream: true, temperature: 1 }));
    expect(res.status).toBe(200);
    const { events } = await readStream(res);
    const error = JSON.parse(events.at(-2)!);
    expect(error.error.type).toBe('server_error');
    expect(events.at(-1)).toBe('[DONE]');
    const { status, body } = await health(edge);
    expect(status).toBe(503);
    expect(body.backends[0].healthy).toBe(false);
  });

  it('ends a stream with a timeout error event when the backend stalls past the idle timeout', async () => {
    const [a] = await stubs({ chunkDelayMs: 3000, reply: 'zzzz' });
    const edge = await edgeFor([a!.url], {
      routing: { idleTimeoutMs: 200, healthCheckIntervalMs: 60_000 },
    });
    const res = await chat(edge, chatBody('stall', { stream: true, temperature: 1 }));
    const { events } = await readStream(res);
    expect(JSON.parse(events.at(-2)!).error.type).toBe('timeout_error');
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('stops the upstream request when the client walks away mid-stream, and keeps the backend healthy', async () => {
    const [a] = await stubs({ chunkDelayMs: 50, reply: 'w'.repeat(400) });
    const edge = await edgeFor([a!.url], { routing: { healthCheckIntervalMs: 60_000 } });
    const controller = new AbortController();
    const res = await chat(edge, chatBody('leave', { stream: true, temperature: 1 }), {
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    await waitFor(() => a!.inFlight === 1);
    controller.abort();
    await waitFor(() => a!.inFlight === 0);
    const { status, body } = await health(edge);
    expect(status).toBe(200);
    expect(body.backends[0]).toMatchObject({ healthy: true, outstanding: 0 });
  });

  it('answers 504 when the backend does not answer in time, 502 when it fails', async () => {
    const [slow] = await stubs({ firstByteDelayMs: 3000 });
    const edge = await edgeFor([slow!.url], { routing: { firstByteTimeoutMs: 200 } });
    const res = await chat(edge, chatBody('slow', { temperature: 1 }));
    expect(res.status).toBe(504);
    expect((await res.json()).error.type).toBe('timeout_error');
    slow!.options.firstByteDelayMs = 0;
    slow!.options.failure = 'reset';
    const failed = await chat(edge, chatBody('reset', { temperature: 1 }));
    expect(failed.status).toBe(502);
  });

  it('forwards GET /v1/models with auth and sends BACKEND_API_KEY upstream', async () => {
    const [a] = await stubs({});
    const edge = await edgeFor([a!.url], { routing: { apiKey: 'backend-key' } });
    expect((await fetch(`${edge.url}/v1/models`)).status).toBe(401);
    const models = await fetch(`${edge.url}/v1/models`, { headers: await bearer() });
    expect(models.status).toBe(200);
    expect((await models.json()).data[0].id).toBe('stub-model');
    await (await chat(edge, chatBody('key?'))).text();
    expect(a!.requests.at(-1)!.headers.authorization).toBe('Bearer backend-key');
  });
});
