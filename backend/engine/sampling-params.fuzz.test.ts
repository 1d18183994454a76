/**
 * Property tests of the sampling-field validator: any JSON object gives either params inside the
 * documented ranges or one 400 naming a field.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../shared/errors.ts';
import { MAX_LOGPROBS, MAX_N, MAX_STOP_SEQUENCES, parseSamplingParams } from './sampling-params.ts';

const FIELDS = [
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'seed',
  'stop',
  'stop_token_ids',
  'ignore_eos',
  'min_tokens',
  'max_tokens',
  'max_completion_tokens',
  'presence_penalty',
  'frequency_penalty',
  'repetition_penalty',
  'n',
  'logprobs',
  'top_logprobs',
  'priority',
] as const;

const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.integer({ min: -3, max: 40 }),
  fc.double({ min: -3, max: 3 }),
  fc.double(),
  fc.constantFrom(0, 1, -1, 2, 1e-6, Number.MAX_SAFE_INTEGER, 2 ** 53, -0),
  fc.boolean(),
  fc.constant(null),
  fc.string(),
  fc.array(fc.string(), { maxLength: 20 }),
  fc.array(fc.integer({ min: -1, max: 100 })),
);
const body = fc.record(
  Object.fromEntries(FIELDS.map((f) => [f, value])) as Record<string, typeof value>,
  {
    requiredKeys: [],
  },
);

describe('parseSamplingParams under arbitrary JSON', () => {
  for (const api of ['chat', 'completion'] as const)
    it(`${api}: returns in-range params or throws a 400 naming a field`, () => {
      fc.assert(
        fc.property(fc.oneof(body, fc.dictionary(fc.string(), fc.jsonValue())), (b) => {
          let p: ReturnType<typeof parseSamplingParams>;
          try {
            p = parseSamplingParams(b as Record<string, unknown>, api);
          } catch (err) {
            expect(err).toBeInstanceOf(HttpError);
            const e = err as HttpError;
            expect(e.status).toBe(400);
            expect(FIELDS).toContain(e.param);
            return;
          }
          expect(p.temperature).toBeGreaterThanOrEqual(0);
          expect(p.temperature).toBeLessThanOrEqual(2);
          expect(p.topP).toBeGreaterThan(0);
          expect(p.topP).toBeLessThanOrEqual(1);
          expect(Number.isSafeInteger(p.topK) && p.topK >= 0).toBe(true);
          expect(p.n).toBeGreaterThanOrEqual(1);
          expect(p.n).toBeLessThanOrEqual(MAX_N);
          expect(p.stop.length).toBeLessThanOrEqual(MAX_STOP_SEQUENCES);
          expect(p.stop.every((s) => typeof s === 'string' && s.length > 0)).toBe(true);
          expect(p.stopTokenIds.every((t) => Number.isSafeInteger(t) && t >= 0)).toBe(true);
          if (p.maxTokens !== null) {
            expect(Number.isSafeInteger(p.maxTokens) && p.maxTokens >= 1).toBe(true);
            expect(p.minTokens).toBeLessThanOrEqual(p.maxTokens);
          }
          if (p.logprobs !== null) expect(p.logprobs).toBeLessThanOrEqual(MAX_LOGPROBS);
          expect(p.repetitionPenalty).toBeGreaterThan(0);
        }),
        { numRuns: 1500 },
      );
    });
});
