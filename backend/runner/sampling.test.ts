import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { greedy } from './contract-driver.ts';
import type { SampledToken, SamplingSpec } from './runner.ts';
import {
  logSoftmax,
  processLogits,
  promptLogprobs,
  type SamplingInput,
  sampleToken,
  seededUniform,
  sortByProbability,
  topEntries,
} from './sampling.ts';

const input = (
  sampling: Partial<SamplingSpec>,
  extra: { prompt?: number[]; output?: number[]; banned?: number[] } = {},
) => ({
  sampling: { ...greedy, ...sampling },
  promptTokenIds: Int32Array.from(extra.prompt ?? []),
  outputTokenIds: Int32Array.from(extra.output ?? []),
  bannedTokenIds: extra.banned ? Int32Array.from(extra.banned) : null,
});

const logits = Float32Array.from([1, 3, 2, -1, 0.5]);

describe('processLogits', () => {
  it('applies repetition (prompt+output), frequency and presence penalties, then bans', () => {
    const out = processLogits(
      logits,
      input(
        { repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25 },
        { prompt: [3], output: [1, 1, 2], banned: [4] },
      ),
    );
    expect([...out]).toEqual([
      1,
      3 / 2 - 0.5 * 2 - 0.25,
      2 / 2 - 0.5 - 0.25,
      -1 * 2,
      Number.NEGATIVE_INFINITY,
    ]);
  });
});

describe('sampleToken', () => {
  it('greedy picks the argmax after penalties and reports its log-softmax', () => {
    expect(sampleToken(logits, input({})).tokenId).toBe(1);
    const banned = sampleToken(logits, input({ logprobs: 2 }, { banned: [1] }));
    expect(banned.tokenId).toBe(2);
    const lp = logSoftmax(processLogits(logits, input({}, { banned: [1] })));
    expect(banned.logprob).toBeCloseTo(lp[2], 6);
    expect(banned.topLogprobs!.map((t) => t.tokenId)).toEqual([2, 0]);
  });

  it('seeded draws are a pure function of (seed, output length) and follow the distribution', () => {
    const a = sampleToken(logits, input({ temperature: 1, seed: 7 }, { output: [0, 0] }));
    const b = sampleToken(logits, input({ temperature: 1, seed: 7 }, { output: [4, 3] }));
    expect(a.tokenId).toBe(b.tokenId);
    const counts = new Array(logits.length).fill(0);
    for (let seed = 0; seed < 4000; seed++) {
      counts[sampleToken(logits, input({ temperature: 1, seed })).tokenId]++;
    }
    const probs = logSoftmax(logits).map(Math.exp);
    for (const [id, p] of probs.entries())
      expect(Math.abs(counts[id] / 4000 - p)).toBeLessThan(0.03);
  });

  it('top-k, top-p and min-p restrict the candidates', () => {
    const draws = (sampling: Partial<SamplingSpec>) =>
      new Set(
        Array.from(
          { length: 300 },
          (_, s) => sampleToken(logits, input({ temperature: 2, seed: s, ...sampling })).tokenId,
        ),
      );
    expect(draws({})).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(draws({ topK: 2 })).toEqual(new Set([1, 2]));
    // softmax(logits / 2) ≈ [.15 .41 .25 .06 .12]: top-p 0.6 keeps {1, 2}
    expect(draws({ topP: 0.6 })).toEqual(new Set([1, 2]));
    // min-p 0.5 keeps p ≥ 0.5 × 0.41
    expect(draws({ minP: 0.5 })).toEqual(new Set([1, 2]));
  });

  it('refuses when every token is banned', () => {
    expect(() => sampleToken(logits, input({}, { banned: [0, 1, 2, 3, 4] }))).toThrow(/banned/);
  });
});

describe('helpers', () => {
  it('seededUniform stays in [0, 1) and varies with seed and step', () => {
    const values = new Set<number>();
    for (let s = 0; s < 50; s++)
      for (let step = 0; step < 20; step++) values.add(seededUniform(s * 2 ** 40 + 1, step));
    expect(values.size).toBe(1000);
    for (const v of values) expect(v >= 0 && v < 1).toBe(true);
  });

  it('topEntries orders by value then id; promptLogprobs scores each target', () => {
    expect(topEntries(Float32Array.from([1, 5, 5, 2]), 3).map((t) => t.tokenId)).toEqual([1, 2, 3]);
    const rows = [logits, Float32Array.from([0, 0, 0, 0, 0])];
    const out = promptLogprobs(rows, Int32Array.from([2, 4]), 1);
    expect(out[0].logprob).toBeCloseTo(logSoftmax(logits)[2], 6);
    expect(out[1].logprob).toBeCloseTo(Math.log(1 / 5), 6);
    expect(out[0].topLogprobs).toEqual([{ tokenId: 1, logprob: logSoftmax(logits)[1] }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Oracle: sampleToken as it was before the partial-sort rewrite (full sort of the vocabulary for
// top-k/top-p), kept verbatim so the fast path can be checked draw for draw and bit for bit; only
// its logprob follows the later contract (NaN when none is asked for).
// ---------------------------------------------------------------------------------------------

/** Whether penalties or bans change any logit (otherwise the logits are used as they are). */
function changesLogits(input: SamplingInput): boolean {
  const { sampling, bannedTokenIds } = input;
  return (
    sampling.repetitionPenalty !== 1 ||
    sampling.frequencyPenalty !== 0 ||
    sampling.presencePenalty !== 0 ||
    (bannedTokenIds !== null && bannedTokenIds !== undefined && bannedTokenIds.length > 0)
  );
}

function argmax(values: Float32Array): number {
  let best = 0;
  let bestValue = values[0];
  for (let i = 1; i < values.length; i++) {
    if (values[i] > bestValue) {
      best = i;
      bestValue = values[i];
    }
  }
  return best;
}

function allBanned(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== Number.NEGATIVE_INFINITY) return false;
  return true;
}

/** Probabilities after temperature, top-k, top-p and min-p, as (ids, weights) in draw order. */
function legacyCandidates(
  processed: Float32Array,
  input: SamplingInput,
): { ids: Int32Array; weights: Float64Array } {
  const { temperature, topK, topP, minP } = input.sampling;
  const n = processed.length;
  const max = processed[argmax(processed)];
  const probs = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = Math.exp((processed[i] - max) / temperature);
    total += probs[i];
  }
  let ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  const filtering = (topK > 0 && topK < n) || topP < 1;
  if (filtering) ids.sort((a, b) => probs[b] - probs[a] || a - b);
  if (topK > 0 && topK < n) ids = ids.subarray(0, topK);
  if (topP < 1) {
    let kept = 0;
    for (let i = 0; i < ids.length; i++) kept += probs[ids[i]];
    let cumulative = 0;
    let count = 0;
    while (count < ids.length && cumulative < topP * kept) cumulative += probs[ids[count++]];
    ids = ids.subarray(0, Math.max(1, count));
  }
  // probs are unnormalised relative to the most likely token (whose weight is exactly 1), so
  // min-p's threshold "minP × the top probability" is minP itself.
  if (minP > 0) ids = ids.filter((id) => probs[id] >= minP);
  const weights = Float64Array.from(ids, (id) => probs[id] / total);
  return { ids, weights };
}

function legacyDraw(ids: Int32Array, weights: Float64Array, u: number): number {
  let total = 0;
  for (const w of weights) total += w;
  let target = u * total;
  for (let i = 0; i < ids.length; i++) {
    target -= weights[i];
    if (target < 0) return ids[i];
  }
  return ids[ids.length - 1];
}

/** Samples the next token for one sequence from its last-position logits. */
function legacySampleToken(logits: Float32Array, input: SamplingInput): SampledToken {
  // Nothing below writes to `processed`, so unchanged logits need no vocabulary-sized copy.
  const processed = changesLogits(input) ? processLogits(logits, input) : logits;
  if (allBanned(processed)) {
    throw new Error('every token id is banned; nothing can be sampled');
  }
  let tokenId: number;
  if (input.sampling.temperature === 0) {
    tokenId = argmax(processed);
  } else {
    const { ids, weights } = legacyCandidates(processed, input);
    const { seed } = input.sampling;
    const u = seed === null ? Math.random() : seededUniform(seed, input.outputTokenIds.length);
    tokenId = legacyDraw(ids, weights, u);
  }
  return legacyWithLogprobs(tokenId, processed, input.sampling.logprobs);
}

function legacyWithLogprobs(
  tokenId: number,
  processed: Float32Array,
  logprobs: number | null,
): SampledToken {
  // Without logprobs asked for, the logprob is not computed (the runner contract since cd30188).
  if (logprobs === null) return { tokenId, logprob: Number.NaN };
  const lp = logSoftmax(processed);
  const token: SampledToken = { tokenId, logprob: lp[tokenId] };
  if (logprobs !== null && logprobs > 0) token.topLogprobs = topEntries(lp, logprobs);
  return token;
}

const rawLogits = (n: number) =>
  fc.oneof(
    // continuous values: distinct probabilities, a spread that top-p cuts partway through
    fc.float32Array({ minLength: n, maxLength: n, min: -30, max: 30, noNaN: true }),
    // a few distinct values: ties everywhere
    fc.array(fc.constantFrom(-2, 0, 0.5, 1, 3, Number.NEGATIVE_INFINITY), {
      minLength: n,
      maxLength: n,
    }),
    // a peaked row like a language model's, with some -inf
    fc
      .tuple(
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n }),
        fc.double({ min: 0.1, max: 8, noNaN: true }),
        fc.array(fc.nat(n - 1), { maxLength: 8 }),
        fc.array(fc.nat(n - 1), { maxLength: 4 }),
      )
      .map(([base, spread, boosted, dead]) => {
        const row = Float32Array.from(base, (v) => v * spread);
        for (const [j, id] of boosted.entries()) row[id] += 5 + j;
        for (const id of dead) row[id] = Number.NEGATIVE_INFINITY;
        return Array.from(row);
      }),
  );

const samplingCase = fc.integer({ min: 1, max: 1500 }).chain((n) =>
  fc.record({
    logits: rawLogits(n).map((row) => Float32Array.from(row)),
    temperature: fc.oneof(
      fc.constantFrom(1e-4, 0.05, 0.8, 1, 2, 100, 1e7),
      fc.double({ min: 1e-3, max: 2, noNaN: true }),
    ),
    topK: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: n + 2 })),
    topP: fc.oneof(
      fc.constantFrom(1, 0.5, 0.9, 0.95, 1e-9),
      fc.double({ min: 1e-6, max: 1, noNaN: true }),
    ),
    minP: fc.oneof(fc.constant(0), fc.constantFrom(0.05, 0.5, 1), fc.double({ min: 0, max: 1 })),
    repetitionPenalty: fc.constantFrom(1, 1.3, 0.7),
    frequencyPenalty: fc.constantFrom(0, 0.5, -1),
    presencePenalty: fc.constantFrom(0, 1.5),
    prompt: fc.array(fc.nat(n - 1), { maxLength: 6 }),
    output: fc.array(fc.nat(n - 1), { maxLength: 6 }),
    banned: fc.option(fc.array(fc.nat(n - 1), { maxLength: 4 })),
    seed: fc.oneof(fc.integer(), fc.constant(Number.MAX_SAFE_INTEGER)),
    logprobs: fc.constantFrom(null, 0, 3),
  }),
);

type Case = typeof samplingCase extends fc.Arbitrary<infer T> ? T : never;

function toInput(c: Case): SamplingInput {
  return input(
    {
      temperature: c.temperature,
      topK: c.topK,
      topP: c.topP,
      minP: c.minP,
      repetitionPenalty: c.repetitionPenalty,
      frequencyPenalty: c.frequencyPenalty,
      presencePenalty: c.presencePenalty,
      seed: c.seed,
      logprobs: c.logprobs,
    },
    { prompt: c.prompt, output: c.output, banned: c.banned ?? undefined },
  );
}

/** Both implementations' answers (or both throw the same error). */
function bothAnswers(logits: Float32Array, sampling: SamplingInput) {
  const run = (f: () => SampledToken) => {
    try {
      return f();
    } catch (err) {
      return (err as Error).message;
    }
  };
  return {
    fast: run(() => sampleToken(logits, sampling)),
    legacy: run(() => legacySampleToken(logits, sampling)),
  };
}

describe('sampleToken matches the full-sort sampler it replaced', () => {
  it('same token, logprob and top logprobs for random logits, filters, penalties and seeds', () => {
    fc.assert(
      fc.property(samplingCase, (c) => {
        const { fast, legacy } = bothAnswers(c.logits, toInput(c));
        expect(fast).toStrictEqual(legacy);
      }),
      { numRuns: 400 },
    );
  });

  it('same draws on a 151,936-wide row across seeds and filters (the partial sort cuts early)', () => {
    const n = 151936;
    const logits = new Float32Array(n);
    let state = 12345;
    const next = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    for (let i = 0; i < n; i++) logits[i] = 2.5 * (next() + next() + next() - 1.5);
    for (let j = 0; j < 30; j++) logits[Math.floor(next() * n)] += 8 + (j % 7);
    const cases: Partial<SamplingSpec>[] = [
      { temperature: 0.8, topP: 0.95 },
      { temperature: 0.8, topK: 50 },
      { temperature: 0.8, topK: 50, topP: 0.9, minP: 0.01 },
      { temperature: 1.5, topP: 0.5 },
      { temperature: 0.8, minP: 0.05 },
      { temperature: 0.8 },
    ];
    for (const [i, sampling] of cases.entries()) {
      const sequence = input({ ...sampling, seed: 99 + i }, { output: [i] });
      const { fast, legacy } = bothAnswers(logits, sequence);
      expect(fast).toStrictEqual(legacy);
    }
  });
});

describe('sortByProbability', () => {
  it('orders like the comparison sort (probability descending, then id) on large id sets', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4096, max: 9000 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom(2, 50, 1e6),
        (n, seed, distinct) => {
          let x = seed;
          const next = () => {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            return x / 2 ** 32;
          };
          // A few distinct values (ties everywhere), zeros, subnormals and near-equal doubles.
          const values = [0, 5e-324, 1, 1 - 2 ** -53, 2 ** -1074 * 3, 0.5, 0.5 + 2 ** -54];
          const probs = Float64Array.from({ length: n + 10 }, () =>
            next() < 0.3
              ? values[Math.floor(next() * values.length)]!
              : Math.floor(next() * distinct) / distinct,
          );
          const ids = Int32Array.from({ length: n }, (_, i) => i + (i % 3 === 0 ? 10 : 0)).sort();
          const expected = ids.slice().sort((a, b) => probs[b]! - probs[a]! || a - b);
          expect(Array.from(sortByProbability(ids, probs))).toEqual(Array.from(expected));
        },
      ),
      { numRuns: 25 },
    );
  });
});
