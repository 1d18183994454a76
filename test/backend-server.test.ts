/**
 * The backend over real HTTP, in process, on the reference runner and a tiny fixture model:
 * continuous batching, prefix caching, the OpenAI shapes, and bad input that must not hurt it.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackendOptions } from '../backend/config.ts';
import { type RunningBackend, startBackend } from '../backend/serve.ts';
import { createLogger } from '../shared/log.ts';
import { readSse } from '../shared/sse.ts';
import { fixtureModelCache } from './fixtures/models.ts';

let backend: RunningBackend;
let model: string;
const backendModel = () => model;
const quiet = createLogger('test', 'error', () => {});

beforeAll(async () => {
  const dir = fixtureModelCache('qwen2', 7);
  const opts = parseBackendOptions(
    [
      '--model',
      dir,
      '--device',
      'reference',
      '--port',
      '0',
      '--max-num-seqs',
      '64',
      '--kv-cache-memory',
      '64MiB',
    ],
    {},
  );
  backend = await startBackend(opts, quiet);
  model = backend.context.modelName;
});
afterAll(() => backend?.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${backend.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function complete(prompt: string, maxTokens: number, extra: Record<string, unknown> = {}) {
  const res = await post('/v1/completions', {
    model,
    prompt,
    max_tokens: maxTokens,
    temperature: 0,
    ...extra,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    choices: {
      text: string;
      finish_reason: string;
      logprobs: { tokens: string[]; token_logprobs: (number | null)[] } | null;
    }[];
    usage: {
      prompt_tokens: number;
      completion_tokens: number;
      prompt_tokens_details: { cached_tokens: number };
    };
  };
}

const words = (n: number, seed: number) =>
  Array.from(
    { length: n },
    (_, i) => ['alpha', 'beta', 'gamma', 'delta', 'omega'][(i * 7 + seed) % 5],
  ).join(' ');

describe('continuous batching', () => {
  it('gives 32 concurrent requests of different lengths the same greedy output as each alone', async () => {
    const cases = Array.from({ length: 32 }, (_, i) => ({
      prompt: words(1 + ((i * 5) % 23), i),
      maxTokens: 4 + (i % 9),
    }));
    const alone: string[] = [];
    for (const c of cases)
      alone.push((await complete(c.prompt, c.maxTokens, { ignore_eos: true })).choices[0]!.text);
    const together = await Promise.all(
      cases.map((c) => complete(c.prompt, c.maxTokens, { ignore_eos: true })),
    );
    expect(together.map((r) => r.choices[0]!.text)).toEqual(alone);
    expect(together.map((r) => r.usage.completion_tokens)).toEqual(cases.map((c) => c.maxTokens));
  });

  it('lets a request that arrives mid-flight finish while a long one is still generating', async () => {
    const long = await post('/v1/completions', {
      model,
      prompt: 'long',
      max_tokens: 150,
      ignore_eos: true,
      stream: true,
    });
    const events = readSse(long.body!);
    await events.next(); // the long request is running
    const short = await complete('short', 3, { ignore_eos: true });
    expect(short.usage.completion_tokens).toBe(3);
    let remaining = 0;
    for await (const data of events)
      if (JSON.parse(data).choices[0]?.text !== undefined) remaining++;
    expect(remaining).toBeGreaterThan(10); // the long one was still going when the short one ended
  });
});

describe('prefix caching', () => {
  it('reports cached prompt tokens in usage and in prefix_cache_hits', async () => {
    const prompt = `prefix test ${words(40, 3)}`;
    const first = await complete(prompt, 2);
    const second = await complete(prompt, 2);
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const blockSize = 16;
    const expected = Math.floor((second.usage.prompt_tokens - 1) / blockSize) * blockSize;
    expect(second.usage.prompt_tokens_details.cached_tokens).toBe(expected);
    expect(second.choices[0]!.text).toBe(first.choices[0]!.text);
    const metrics = await (await fetch(`${backend.url}/metrics`)).text();
    const hits = Number(/^edgeserve:prefix_cache_hits(?:_total)? (\d+)/m.exec(metrics)?.[1]);
    expect(hits).toBeGreaterThanOrEqual(expected);
  });

  it('shares cached blocks only between requests with the same cache_salt', async () => {
    const prompt = `salt test ${words(40, 5)}`;
    const cached = async (extra: Record<string, unknown>) =>
      (await complete(prompt, 2, extra)).usage.prompt_tokens_details.cached_tokens;
    expect(await cached({ cache_salt: 'tenant-a' })).toBe(0);
    expect(await cached({ cache_salt: 'tenant-b' })).toBe(0);
    expect(await cached({})).toBe(0);
    expect(await cached({ cache_salt: 'tenant-a' })).toBeGreaterThan(0);
    expect(await cached({})).toBeGreaterThan(0);
  });

  it('refuses a cache_salt that is not a non-empty string', async () => {
    for (const salt of ['', 42]) {
      const res = await post('/v1/completions', { model, prompt: 'x', cache_salt: salt });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { param: string } };
      expect(error.param).toBe('cache_salt');
    }
  });
});

describe('OpenAI shapes', () => {
  it('streams chat with a role delta, content, finish_reason, usage and [DONE]', async () => {
    const res = await post('/v1/chat/completions', {
      model,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 5,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const raw = await res.text();
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const chunks = raw
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1).usage.completion_tokens).toBe(5);
  });

  it('echoes the prompt with its own logprobs, the first one null', async () => {
    const r = await complete('one two three', 2, { echo: true, logprobs: 1, ignore_eos: true });
    const lp = r.choices[0]!.logprobs!;
    expect(r.choices[0]!.text.startsWith('one two three')).toBe(true);
    expect(lp.tokens.length).toBe(r.usage.prompt_tokens + 2);
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.token_logprobs.slice(1).every((x) => typeof x === 'number' && x <= 0)).toBe(true);
  });

  it('takes a prompt as token ids and tokenizes/detokenizes round trip', async () => {
    const tok = (await (await post('/tokenize', { model, prompt: 'round trip' })).json()) as {
      tokens: number[];
    };
    const detok = (await (await post('/detokenize', { model, tokens: tok.tokens })).json()) as {
      prompt: string;
    };
    expect(detok.prompt).toContain('round trip');
    const r = await post('/v1/completions', {
      model,
      prompt: tok.tokens,
      max_tokens: 2,
      temperature: 0,
    });
    expect(r.status).toBe(200);
  });

  it('ends at a stop string without sending any of it', async () => {
    const base = (await complete('stop test', 12, { ignore_eos: true })).choices[0]!.text;
    const stop = base.slice(3, 5);
    const r = await complete('stop test', 12, { ignore_eos: true, stop: [stop] });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.choices[0]!.text).toBe(base.slice(0, base.indexOf(stop)));
  });
});

describe('bad input gets the right 4xx and the server keeps serving', () => {
  const cases: [string, () => Promise<Response>, number, string | null][] = [
    ['wrong type', () => post('/v1/completions', { model: 'x', prompt: 42 }), 400, 'prompt'],
    ['unknown model', () => post('/v1/completions', { model: 'nope', prompt: 'hi' }), 404, 'model'],
    [
      'max_tokens over the context',
      () => post('/v1/completions', { model: backendModel(), prompt: 'hi', max_tokens: 10_000 }),
      400,
      'max_tokens',
    ],
    [
      'empty messages',
      () => post('/v1/chat/completions', { model: backendModel(), messages: [] }),
      400,
      'messages',
    ],
    [
      'temperature out of range',
      () =>
        post('/v1/chat/completions', {
          model: backendModel(),
          messages: [{ role: 'user', content: 'x' }],
          temperature: 9,
        }),
      400,
      'temperature',
    ],
    [
      'token id outside the vocabulary',
      () => post('/v1/completions', { model: backendModel(), prompt: [1, 99999999] }),
      400,
      'prompt',
    ],
    ['invalid JSON', () => post('/v1/completions', '{"model":'), 400, null],
    ['unknown route', () => fetch(`${backend.url}/v1/nothing`), 404, null],
  ];
  for (const [name, send, status, param] of cases)
    it(`${name} → ${status}`, async () => {
      const res = await send();
      expect(res.status).toBe(status);
      const body = (await res.json()) as {
        error: { message: string; type: string; param: string | null };
      };
      expect(body.error.message).toBeTruthy();
      if (param) expect(body.error.param).toBe(param);
      expect((await complete('still alive', 1)).choices).toHaveLength(1);
    });

  it('invalid UTF-8 → 400', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"model":"m","prompt":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const res = await fetch(`${backend.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bytes,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_encoding');
  });

  it('a 10 MB body → 413 without reading it all', async () => {
    const status = await new Promise<number>((resolve) => {
      const req = request(
        `${backend.url}/v1/completions`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          res.on('error', () => {});
          res.resume();
          resolve(res.statusCode!);
        },
      );
      // The server answers before the upload ends and drops the rest: a reset here is expected.
      req.on('error', () => {});
      req.on('socket', (socket) => socket.on('error', () => {}));
      req.end(Buffer.alloc(10 * 1024 * 1024, 0x20));
    });
    expect(status).toBe(413);
    expect((await complete('still alive', 1)).choices).toHaveLength(1);
  });
});
