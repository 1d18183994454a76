import { describe, expect, it } from 'vitest';
import { greedy } from './contract-driver.ts';
import type { SamplingSpec } from './runner.ts';
import {
  logSoftmax,
  processLogits,
  promptLogprobs,
  sampleToken,
  seededUniform,
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
