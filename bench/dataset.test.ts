import { describe, expect, it } from 'vitest';
import { buildDataset, type DatasetSpec, promptTokenIds } from './dataset.ts';

const random: DatasetSpec = {
  name: 'random',
  numPrompts: 500,
  inputLen: 200,
  outputLen: 50,
  rangeRatio: 0.5,
};
const nano: DatasetSpec = { name: 'nano-vllm', numPrompts: 256, minLen: 100, maxLen: 1024 };
const prefix: DatasetSpec = {
  name: 'prefix',
  numPrompts: 40,
  numPrefixes: 4,
  prefixLen: 64,
  suffixLen: 16,
  outputLen: 8,
};
const space = { vocabSize: 5000, seed: 0 };
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('buildDataset', () => {
  it.each([random, nano, prefix])('$name is a pure function of the seed', (spec) => {
    const a = buildDataset(spec, space);
    expect(buildDataset(spec, space)).toEqual(a);
    expect(buildDataset(spec, { ...space, seed: 1 })).not.toEqual(a);
    expect(a).toHaveLength(spec.numPrompts);
  });

  it('random: lengths stay within len*[1-r, 1+r] and spread across it', () => {
    const reqs = buildDataset(random, space);
    const inputs = reqs.map((r) => r.promptLen);
    const outputs = reqs.map((r) => r.outputLen);
    expect(Math.min(...inputs)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...inputs)).toBeLessThanOrEqual(300);
    expect(Math.min(...inputs)).toBeLessThan(110);
    expect(Math.max(...inputs)).toBeGreaterThan(290);
    expect(mean(inputs)).toBeCloseTo(200, -1);
    expect(Math.min(...outputs)).toBeGreaterThanOrEqual(25);
    expect(Math.max(...outputs)).toBeLessThanOrEqual(75);
    for (const r of reqs) expect(r.tokenIds).toHaveLength(r.promptLen);
  });

  it('random with range ratio 0 gives exact lengths', () => {
    const reqs = buildDataset({ ...random, rangeRatio: 0 }, space);
    expect(new Set(reqs.map((r) => r.promptLen))).toEqual(new Set([200]));
    expect(new Set(reqs.map((r) => r.outputLen))).toEqual(new Set([50]));
  });

  it('nano-vllm: 256 sequences, input and output lengths uniform in [100, 1024]', () => {
    const reqs = buildDataset(nano, space);
    for (const lens of [reqs.map((r) => r.promptLen), reqs.map((r) => r.outputLen)]) {
      expect(Math.min(...lens)).toBeGreaterThanOrEqual(100);
      expect(Math.max(...lens)).toBeLessThanOrEqual(1024);
      // Uniform on [100, 1024]: mean 562, sd ~267, so the mean of 256 draws is within ~50.
      expect(Math.abs(mean(lens) - 562)).toBeLessThan(50);
    }
  });

  it('prefix: requests share one of N prefixes in rotation, each with its own suffix', () => {
    const reqs = buildDataset(prefix, space);
    const distinct = new Set(reqs.map((r) => r.prefixTokenIds.join(',')));
    expect(distinct.size).toBe(4);
    expect(reqs[0]!.prefixTokenIds).toEqual(reqs[4]!.prefixTokenIds);
    expect(reqs[0]!.prefixTokenIds).not.toEqual(reqs[1]!.prefixTokenIds);
    expect(reqs[0]!.tokenIds).not.toEqual(reqs[4]!.tokenIds);
    expect(promptTokenIds(reqs[3]!)).toHaveLength(80);
    expect(reqs.every((r) => r.promptLen === 80 && r.outputLen === 8)).toBe(true);
  });

  it('draws token ids inside [0, vocabSize)', () => {
    const ids = buildDataset(random, { vocabSize: 7, seed: 3 }).flatMap((r) => r.tokenIds);
    expect(Math.min(...ids)).toBe(0);
    expect(Math.max(...ids)).toBe(6);
  });
});
