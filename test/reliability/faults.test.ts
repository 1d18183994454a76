/**
 * Faults with real processes: a backend killed mid-stream, a backend too slow for the edge's
 * timeout, clients that disconnect mid-stream, and SIGTERM while the backend is under load.
 * Backends run the reference runner on a tiny fixture (fast to start); the SIGTERM case runs the
 * CPU runner, the embedded default.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../edge/dev-token.ts';
import { readSse } from '../../shared/sse.ts';
import { waitFor } from '../edge-helpers.ts';
import { fixtureModelCache } from '../fixtures/models.ts';
import { killAll, metric, type Proc, spawnBackend, spawnEdge } from './processes.ts';

const SECRET = 'faults-secret-0123456789abcdef0123';
const MODEL = fixtureModelCache('llama', 11);
let token: string;

function edgeConfig(routing: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'edge-faults-')), 'edge.json');
  const limits = { requestsPerMinute: 100_000, tokensPerMinute: 100_000_000 };
  writeFileSync(file, JSON.stringify({ routing: { affinityPrefixChars: 0, ...routing }, limits }));
  return file;
}

const startEdge = (backends: Proc[], routing: Record<string, unknown> = {}) =>
  spawnEdge(['--config', edgeConfig({ healthCheckIntervalMs: 200, ...routing })], {
    JWT_SECRET: SECRET,
    BACKEND_URLS: backends.map((b) => b.url).join(','),
  });

function completion(
  base: string,
  prompt: string,
  maxTokens: number,
  init: { stream?: boolean; signal?: AbortSignal; auth?: boolean; n?: number } = {},
) {
  return fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(init.auth === false ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      model: 'm',
      prompt,
      max_tokens: maxTokens,
      ignore_eos: true,
      temperature: 1,
      n: init.n ?? 1,
      stream: init.stream ?? false,
      ...(init.stream ? { stream_options: { include_usage: true } } : {}),
    }),
    signal: init.signal,
  });
}

async function engineLoad(backend: Proc) {
  const text = await (await fetch(`${backend.url}/metrics`)).text();
  return {
    running: metric(text, 'edgeserve:num_requests_running'),
    waiting: metric(text, 'edgeserve:num_requests_waiting'),
    kvUsage: metric(text, 'edgeserve:kv_cache_usage_perc'),
  };
}

const idle = async (b: Proc) => {
  const load = await engineLoad(b);
  return load.running === 0 && load.waiting === 0 && load.kvUsage === 0;
};

beforeAll(async () => {
  token = await mintDevToken(SECRET, { sub: 'faults', ttlSeconds: 3600 });
});
afterAll(() => killAll());

describe('faults: two reference backends behind the edge process', () => {
  let a: Proc;
  let b: Proc;
  let edge: Proc;
  let slowEdge: Proc;
  const args = ['--device', 'reference', '--served-model-name', 'm'];

  beforeAll(async () => {
    [a, b] = await Promise.all([spawnBackend(MODEL, args), spawnBackend(MODEL, args)]);
    [edge, slowEdge] = await Promise.all([
      startEdge([a, b]),
      startEdge([a], { firstByteTimeoutMs: 300 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([edge, slowEdge, a, b].map((p) => p?.stop()));
  });

  it('frees every KV block and running slot when clients disconnect mid-stream', async () => {
    const aborts = Array.from({ length: 8 }, () => new AbortController());
    const streams = await Promise.all(
      aborts.map((c, i) =>
        completion(i % 2 ? edge.url : a.url, `disconnect ${i}`, 400, {
          stream: true,
          signal: c.signal,
        }),
      ),
    );
    const readers = streams.map((s) => s.body!.getReader());
    await Promise.all(readers.map((r) => r.read()));
    const busy = (await engineLoad(a)).running + (await engineLoad(b)).running;
    expect(busy).toBe(8);
    for (const c of aborts) c.abort();
    await waitFor(async () => (await idle(a)) && (await idle(b)), 3000);
  });

  it('answers 504 when the backend is slower than the timeout, and the backend stops generating', async () => {
    // 16 choices of 400 tokens: seconds of work for the reference runner, past the 300 ms timeout.
    const res = await completion(slowEdge.url, 'too slow', 400, { n: 16 });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('timeout_error');
    // The abandoned generation is aborted, not run to its 400 tokens.
    await waitFor(() => idle(a), 2000);
  });

  it('ends a stream with an SSE error when its backend is killed, marks it down, and sends new work to the other', async () => {
    const res = await completion(edge.url, 'killed midway', 400, { stream: true });
    expect(res.status).toBe(200);
    const events = readSse(res.body!);
    await events.next();
    const victim = (await engineLoad(a)).running > 0 ? a : b;
    const survivor = victim === a ? b : a;
    victim.child.kill('SIGKILL');
    let error: { type: string } | undefined;
    for await (const data of events) error = JSON.parse(data).error ?? error;
    expect(error?.type).toBe('server_error');
    await waitFor(async () => {
      const health = (await (await fetch(`${edge.url}/health`)).json()) as {
        backends: { url: string; healthy: boolean }[];
      };
      return health.backends.find((s) => s.url === victim.url)?.healthy === false;
    });
    const after = await Promise.all(
      Array.from({ length: 6 }, (_, i) => completion(edge.url, `after kill ${i}`, 8)),
    );
    for (const r of after) {
      expect(r.status).toBe(200);
      expect(
        ((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens,
      ).toBe(8);
    }
    expect((await fetch(`${edge.url}/health`)).status).toBe(200);
    expect(survivor.child.exitCode).toBeNull();
  });
});

describe('faults: SIGTERM during load (CPU backend behind the edge process)', () => {
  it('finishes in-flight work, refuses new work, exits 0 promptly, and the edge moves new work over', async () => {
    const [c1, c2] = await Promise.all([
      spawnBackend(MODEL, ['--device', 'cpu', '--served-model-name', 'm', '--max-num-seqs', '32']),
      spawnBackend(MODEL, ['--device', 'reference', '--served-model-name', 'm']),
    ]);
    const edge = await startEdge([c1, c2]);
    // Clients that keep idle sockets open for a minute: the drain must not wait for them.
    const keepAlive = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
    try {
      const inFlight = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          undiciFetch(`${c1.url}/v1/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'm',
              prompt: `in flight ${i}`,
              max_tokens: 48,
              ignore_eos: true,
              stream: true,
              stream_options: { include_usage: true },
            }),
            dispatcher: keepAlive,
          }),
        ),
      );
      const streams = inFlight.map((r) => readSse(r.body as ReadableStream<Uint8Array>));
      await Promise.all(streams.map((s) => s.next()));
      c1.child.kill('SIGTERM');
      // New work through the edge while c1 drains: none of it may fail.
      const newWork = Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          completion(edge.url, `new work ${i}`, 12).then(async (r) => ({
            status: r.status,
            body: (await r.json()) as { usage?: { completion_tokens: number } },
          })),
        ),
      );
      const direct = await completion(c1.url, 'late', 4, { auth: false }).then(
        (r) => r.status,
        () => 'refused',
      );
      expect([503, 'refused']).toContain(direct);
      const finished = await Promise.all(
        streams.map(async (events) => {
          let usage: { completion_tokens: number } | undefined;
          for await (const data of events) usage = JSON.parse(data).usage ?? usage;
          return usage?.completion_tokens;
        }),
      );
      expect(finished).toEqual(Array(16).fill(48));
      for (const r of await newWork) {
        expect(r.status).toBe(200);
        expect(r.body.usage?.completion_tokens).toBe(12);
      }
      const timeout = new Promise((r) => setTimeout(() => r('still running'), 10_000).unref());
      expect(await Promise.race([c1.exited, timeout])).toBe(0);
    } finally {
      await Promise.all([edge.stop(), c1.stop(), c2.stop(), keepAlive.close()]);
    }
  });
});
