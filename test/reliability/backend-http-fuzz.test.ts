/**
 * Arbitrary JSON posted to every backend route over real HTTP: the answer is a 2xx or a 4xx in
 * OpenAI's error shape, never a 5xx, and the server keeps serving (a known-good request still
 * works after each batch). Runs on the reference runner with a tiny fixture and small outputs.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackendOptions } from '../../backend/config.ts';
import { type RunningBackend, startBackend } from '../../backend/serve.ts';
import { createLogger } from '../../shared/log.ts';
import { fixtureModelCache } from '../fixtures/models.ts';

let backend: RunningBackend;

beforeAll(async () => {
  const opts = parseBackendOptions(
    [
      '--model',
      fixtureModelCache('qwen2', 7),
      '--device',
      'reference',
      '--port',
      '0',
      '--served-model-name',
      'm',
      '--max-model-len',
      '256',
      '--kv-cache-memory',
      '16MiB',
    ],
    {},
  );
  backend = await startBackend(
    opts,
    createLogger('test', 'error', () => {}),
  );
});
afterAll(() => backend?.close());

const small = fc.oneof(
  fc.constantFrom<unknown>([], {}, '', 0, -1, [[]], [''], 2 ** 31, 1e300, '\u0000'),
  fc.jsonValue({ maxDepth: 2 }),
  fc.integer({ min: -2, max: 6 }),
  fc.double({ min: -3, max: 3 }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
  fc.array(fc.integer({ min: -1, max: 300 }), { maxLength: 6 }),
  fc.array(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 4 }), { maxLength: 3 }),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
);
const message = fc.record(
  {
    role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool'), small),
    content: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.array(fc.record({ type: fc.constantFrom('text', 'image_url'), text: small })),
      small,
    ),
  },
  { requiredKeys: [] },
);
/** A valid base request for each route, then zero to three fields replaced by fuzz. */
const FIELDS = [
  'model',
  'prompt',
  'messages',
  'tokens',
  'max_tokens',
  'max_completion_tokens',
  'min_tokens',
  'n',
  'temperature',
  'top_k',
  'top_p',
  'min_p',
  'seed',
  'stop',
  'stop_token_ids',
  'logprobs',
  'top_logprobs',
  'echo',
  'stream',
  'stream_options',
  'ignore_eos',
  'priority',
  'repetition_penalty',
  'add_generation_prompt',
  'add_special_tokens',
];
const BASES: Record<string, Record<string, unknown>> = {
  '/v1/completions': { model: 'm', prompt: 'fuzz me', max_tokens: 3 },
  '/v1/chat/completions': {
    model: 'm',
    messages: [{ role: 'user', content: 'fuzz me' }],
    max_tokens: 3,
  },
  '/tokenize': { model: 'm', prompt: 'fuzz me' },
  '/detokenize': { model: 'm', tokens: [1, 2, 3] },
};
const overrides = fc.dictionary(
  fc.constantFrom(...FIELDS),
  fc.oneof(small, fc.array(message, { maxLength: 3 })),
  { maxKeys: 3 },
);

const ROUTES = ['/v1/completions', '/v1/chat/completions', '/tokenize', '/detokenize'];

async function post(path: string, payload: unknown) {
  const res = await fetch(`${backend.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  return { status: res.status, text: await res.text() };
}

describe('backend HTTP under arbitrary JSON', () => {
  for (const path of ROUTES)
    it(`${path}: only 2xx or OpenAI-shaped 4xx, and still serving`, async () => {
      const statuses = new Set<number>();
      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ weight: 1, arbitrary: fc.jsonValue() }, { weight: 5, arbitrary: overrides }),
          async (fuzz) => {
            const isObject = fuzz !== null && typeof fuzz === 'object' && !Array.isArray(fuzz);
            const payload: unknown = isObject ? { ...BASES[path], ...fuzz } : fuzz;
            // Keep outputs tiny whatever the fuzzer picked (n is at most 3 here).
            const p = payload as { max_tokens?: unknown };
            if (isObject && typeof p.max_tokens === 'number')
              p.max_tokens = Math.min(p.max_tokens, 6);
            const { status, text } = await post(path, payload);
            statuses.add(status);
            expect(status, text).toBeLessThan(500);
            if (status >= 400) {
              const error = (JSON.parse(text) as { error: Record<string, unknown> }).error;
              expect(typeof error.message).toBe('string');
              expect(typeof error.type).toBe('string');
            }
          },
        ),
        { numRuns: 100 },
      );
      // The fuzzer reached both accepted and rejected requests.
      expect([...statuses].some((s) => s < 300)).toBe(true);
      expect([...statuses].some((s) => s >= 400)).toBe(true);
      const ok = await post('/v1/completions', { model: 'm', prompt: 'alive?', max_tokens: 2 });
      expect(ok.status).toBe(200);
      expect(backend.context.engine.stats().kvCacheUsage).toBe(0);
    });
});
