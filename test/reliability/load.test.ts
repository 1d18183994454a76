/**
 * Load and soak on loopback: the edge process in front of a CPU-runner backend process, 200
 * concurrent streaming clients (one `sub` each) for several rounds. Every request must either
 * stream to its end or get a clear 429/503; between rounds the engine must be empty (no running
 * request, no KV block in use) and the processes' resident memory must not keep growing.
 *
 * CI runs 3 rounds of one request per client. `SOAK=1` runs 12 rounds of 20 s of back-to-back
 * requests and writes the measurements to test/reliability/results/soak.json (committed;
 * docs/reliability.md quotes it).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../edge/dev-token.ts';
import { SseParser } from '../../shared/sse.ts';
import { fixtureModelCache } from '../fixtures/models.ts';
import { killAll, metric, type Proc, rssBytes, spawnBackend, spawnEdge } from './processes.ts';

const SOAK = process.env.SOAK === '1';
const CLIENTS = 200;
const ROUNDS = SOAK ? 12 : 3;
/** 0: each client sends exactly one request per round. */
const ROUND_MS = SOAK ? 20_000 : 0;
const MAX_TOKENS = SOAK ? 16 : 8;
const SECRET = 'load-secret-0123456789abcdef0123456789';

let backend: Proc;
let edge: Proc;
const tokens: string[] = [];

beforeAll(async () => {
  backend = await spawnBackend(fixtureModelCache('llama', 11), [
    '--device',
    'cpu',
    '--served-model-name',
    'm',
    '--max-num-seqs',
    '64',
    // A small pool: the free-block queue cycles through every block, so a large pool keeps
    // growing RSS as its pages are first touched (up to base + pool size). With 4 MiB (512
    // blocks) the whole pool is resident after the warm-up round, and later growth is a leak.
    '--kv-cache-memory',
    '4MiB',
  ]);
  edge = await spawnEdge([], { JWT_SECRET: SECRET, BACKEND_URLS: backend.url });
  for (let i = 0; i < CLIENTS; i++)
    tokens.push(await mintDevToken(SECRET, { sub: `client-${i}`, ttlSeconds: 3600 }));
}, 120_000);

afterAll(async () => {
  await Promise.all([edge?.stop(), backend?.stop()]);
  killAll();
});

type Outcome = 'complete' | '429' | '503' | 'broken';

interface Sample {
  outcome: Outcome;
  status: number;
  ttftMs: number | null;
  e2eMs: number;
  detail?: string;
}

/** One streamed chat completion, read to its end and checked. */
async function streamOnce(base: string, token: string, n: number): Promise<Sample> {
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'm',
        messages: [{ role: 'user', content: `load test request ${n} ${token.slice(-8)}` }],
        max_tokens: MAX_TOKENS,
        ignore_eos: true,
        temperature: 1,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
  } catch (err) {
    const e2eMs = performance.now() - started;
    return { outcome: 'broken', status: 0, ttftMs: null, e2eMs, detail: String(err) };
  }
  if (res.status === 429 || res.status === 503) {
    const body = (await res.json()) as { error?: { type?: string } };
    const clear = Boolean(body.error?.type && res.headers.get('retry-after'));
    const outcome = clear ? (String(res.status) as Outcome) : 'broken';
    return { outcome, status: res.status, ttftMs: null, e2eMs: performance.now() - started };
  }
  let ttftMs: number | null = null;
  let done = false;
  let usage: { completion_tokens: number } | undefined;
  let error: unknown;
  const parser = new SseParser();
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      for (const msg of parser.push(decoder.decode(chunk, { stream: true }))) {
        if (msg.data === '[DONE]') {
          done = true;
          continue;
        }
        const json = JSON.parse(msg.data);
        if (json.error) error = json.error;
        if (json.usage) usage = json.usage;
        if (ttftMs === null && json.choices?.[0]?.delta?.content)
          ttftMs = performance.now() - started;
      }
  } catch (err) {
    error = String(err);
  }
  const e2eMs = performance.now() - started;
  const complete = res.status === 200 && done && !error && usage?.completion_tokens === MAX_TOKENS;
  return {
    outcome: complete ? 'complete' : 'broken',
    status: res.status,
    ttftMs,
    e2eMs,
    detail: complete ? undefined : JSON.stringify({ status: res.status, done, usage, error }),
  };
}

/** Each client sends requests back to back until the round ends. */
async function round(durationMs: number, offset: number, base = edge.url): Promise<Sample[]> {
  const deadline = performance.now() + durationMs;
  const samples: Sample[] = [];
  await Promise.all(
    tokens.map(async (token, client) => {
      for (let n = offset; n === offset || performance.now() < deadline; n++) {
        const s = await streamOnce(base, token, n * CLIENTS + client);
        samples.push(s);
        if (s.outcome === '429' || s.outcome === '503')
          await new Promise((r) => setTimeout(r, 200));
      }
    }),
  );
  return samples;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
    : NaN;
};
const MiB = 1024 * 1024;

async function engineState(target: Proc = backend) {
  const text = await (await fetch(`${target.url}/metrics`)).text();
  return {
    running: metric(text, 'edgeserve:num_requests_running'),
    waiting: metric(text, 'edgeserve:num_requests_waiting'),
    kvUsage: metric(text, 'edgeserve:kv_cache_usage_perc'),
  };
}

describe(`load: ${CLIENTS} concurrent streaming clients, ${ROUNDS} rounds`, () => {
  it(
    'completes or clearly refuses every request, leaves the engine empty, and does not grow memory',
    async () => {
      const rounds: {
        requests: number;
        outcomes: Record<Outcome, number>;
        ttftP50Ms: number;
        ttftP99Ms: number;
        e2eP50Ms: number;
        e2eP99Ms: number;
        backendRssMiB: number;
        edgeRssMiB: number;
        loadAverage1m: number;
      }[] = [];
      const broken: string[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const samples = await round(ROUND_MS, r * 1000);
        const outcomes = { complete: 0, '429': 0, '503': 0, broken: 0 } as Record<Outcome, number>;
        for (const s of samples) {
          outcomes[s.outcome]++;
          if (s.outcome === 'broken' && broken.length < 5)
            broken.push(s.detail ?? String(s.status));
        }
        const ok = samples.filter((s) => s.outcome === 'complete');
        expect(await engineState()).toEqual({ running: 0, waiting: 0, kvUsage: 0 });
        rounds.push({
          requests: samples.length,
          outcomes,
          ttftP50Ms: percentile(
            ok.map((s) => s.ttftMs!),
            50,
          ),
          ttftP99Ms: percentile(
            ok.map((s) => s.ttftMs!),
            99,
          ),
          e2eP50Ms: percentile(
            ok.map((s) => s.e2eMs),
            50,
          ),
          e2eP99Ms: percentile(
            ok.map((s) => s.e2eMs),
            99,
          ),
          backendRssMiB: rssBytes(backend.pid) / MiB,
          edgeRssMiB: rssBytes(edge.pid) / MiB,
          // The machine is shared: its load says how far the latencies are inflated.
          loadAverage1m: loadavg()[0]!,
        });
        console.log(JSON.stringify({ round: r + 1, ...rounds.at(-1) }));
      }
      if (SOAK) {
        const dir = join(import.meta.dirname, 'results');
        mkdirSync(dir, { recursive: true });
        const result = {
          date: new Date().toISOString(),
          machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
          workload: { clients: CLIENTS, rounds: ROUNDS, roundMs: ROUND_MS, maxTokens: MAX_TOKENS },
          setup:
            'edge process → CPU-runner backend process (llama fixture, --max-num-seqs 64, --kv-cache-memory 4MiB)',
          rounds,
        };
        writeFileSync(join(dir, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
      }
      expect(broken).toEqual([]);
      const total = rounds.reduce((n, r) => n + r.outcomes.complete, 0);
      expect(total).toBeGreaterThanOrEqual(ROUNDS * CLIENTS);
      // Memory: the heap and the KV pool's pages settle during the first rounds; a leak keeps
      // growing, so the later half of the rounds must not top the earlier half's peak.
      const half = Math.ceil(rounds.length / 2);
      const growth = (pick: (r: (typeof rounds)[0]) => number) =>
        Math.max(...rounds.slice(half).map(pick)) - Math.max(...rounds.slice(0, half).map(pick));
      const slackMiB = SOAK ? 16 : 64;
      expect(growth((r) => r.backendRssMiB)).toBeLessThan(slackMiB);
      expect(growth((r) => r.edgeRssMiB)).toBeLessThan(slackMiB);
    },
    SOAK ? 900_000 : 120_000,
  );
});

describe('overload: a tiny engine queue and 2 requests/min per sub', () => {
  it('answers every request with a complete stream or a clear 503/429 with retry-after, then serves again', async () => {
    const small = await spawnBackend(fixtureModelCache('llama', 11), [
      '--device',
      'cpu',
      '--served-model-name',
      'm',
      '--max-num-seqs',
      '4',
      '--max-queue-len',
      '4',
    ]);
    const config = join(mkdtempSync(join(tmpdir(), 'edge-overload-')), 'edge.json');
    writeFileSync(config, JSON.stringify({ limits: { requestsPerMinute: 2 } }));
    const gate = await spawnEdge(['--config', config], {
      JWT_SECRET: SECRET,
      BACKEND_URLS: small.url,
    });
    try {
      // Each client sends 3 requests back to back: the engine refuses most of the first wave
      // (4 running + 4 queued), and the third request of every client is over its rate limit.
      const samples = (
        await Promise.all(
          tokens.map(async (token, client) => {
            const mine: Sample[] = [];
            for (let n = 0; n < 3; n++)
              mine.push(await streamOnce(gate.url, token, n * CLIENTS + client));
            return mine;
          }),
        )
      ).flat();
      const count = (o: Outcome) => samples.filter((s) => s.outcome === o).length;
      expect(samples.filter((s) => s.outcome === 'broken').map((s) => s.detail)).toEqual([]);
      expect(count('complete')).toBeGreaterThan(0);
      expect(count('503')).toBeGreaterThan(0);
      expect(count('429')).toBe(CLIENTS);
      expect(await engineState(small)).toEqual({ running: 0, waiting: 0, kvUsage: 0 });
      const fresh = await mintDevToken(SECRET, { sub: 'after-the-storm', ttlSeconds: 600 });
      expect((await streamOnce(gate.url, fresh, 0)).outcome).toBe('complete');
      console.log(
        JSON.stringify({
          overload: { complete: count('complete'), '503': count('503'), '429': count('429') },
        }),
      );
    } finally {
      await Promise.all([gate.stop(), small.stop()]);
    }
  }, 120_000);
});
