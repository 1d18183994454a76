import { describe, expect, it } from 'vitest';
import { arrivalTimes, parseRequestRate } from './arrivals.ts';
import { createRng } from './rng.ts';

const gaps = (times: number[]) => times.map((t, i) => t - (i ? times[i - 1]! : 0));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cv = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2))) / m;
};

describe('arrivalTimes', () => {
  it('sends every request at time 0 when the rate is infinite', () => {
    expect(arrivalTimes(5, Number.POSITIVE_INFINITY, 1, createRng(0))).toEqual([0, 0, 0, 0, 0]);
  });

  it('is non-decreasing and reproducible from the seed', () => {
    const a = arrivalTimes(1000, 10, 1, createRng(7));
    expect(a).toEqual(arrivalTimes(1000, 10, 1, createRng(7)));
    for (let i = 1; i < a.length; i++) expect(a[i]!).toBeGreaterThanOrEqual(a[i - 1]!);
  });

  it('has mean gap 1/rate and, for burstiness 1 (Poisson), a coefficient of variation of 1', () => {
    const g = gaps(arrivalTimes(40_000, 20, 1, createRng(1)));
    expect(mean(g)).toBeCloseTo(0.05, 3);
    expect(cv(g)).toBeCloseTo(1, 1);
  });

  it('makes gaps burstier below burstiness 1 and more regular above it, same mean', () => {
    const bursty = gaps(arrivalTimes(40_000, 20, 0.25, createRng(2)));
    const regular = gaps(arrivalTimes(40_000, 20, 4, createRng(2)));
    expect(mean(bursty)).toBeCloseTo(0.05, 2);
    expect(mean(regular)).toBeCloseTo(0.05, 3);
    // Gamma(k) gaps have CV 1/sqrt(k): 2 for k = 0.25, 0.5 for k = 4.
    expect(cv(bursty)).toBeCloseTo(2, 0);
    expect(cv(regular)).toBeCloseTo(0.5, 1);
  });
});

describe('parseRequestRate', () => {
  it('reads inf and positive numbers and rejects the rest', () => {
    expect(parseRequestRate('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseRequestRate('2.5')).toBe(2.5);
    expect(() => parseRequestRate('0')).toThrow(RangeError);
    expect(() => parseRequestRate('fast')).toThrow(RangeError);
  });
});
