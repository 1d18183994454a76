import { describe, expect, it } from 'vitest';
import { createRng } from './rng.ts';

const draw = (n: number, f: () => number) => Array.from({ length: n }, f);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return mean(xs.map((x) => (x - m) ** 2));
};

describe('createRng', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = draw(100, a.next);
    expect(draw(100, b.next)).toEqual(seqA);
    expect(draw(100, c.next)).not.toEqual(seqA);
  });

  it('keeps next() in [0, 1) and int() within its inclusive bounds, hitting both ends', () => {
    const rng = createRng(1);
    for (const x of draw(10_000, rng.next)) expect(x >= 0 && x < 1).toBe(true);
    const ints = draw(10_000, () => rng.int(3, 7));
    expect(Math.min(...ints)).toBe(3);
    expect(Math.max(...ints)).toBe(7);
    expect(ints.every(Number.isInteger)).toBe(true);
  });

  it('draws exponentials with mean 1/rate', () => {
    const rng = createRng(2);
    expect(mean(draw(50_000, () => rng.exponential(4)))).toBeCloseTo(0.25, 2);
  });

  it.each([0.3, 1, 2.5, 10])(
    'draws gamma(shape=%s) with mean k*theta and variance k*theta^2',
    (k) => {
      const rng = createRng(3);
      const xs = draw(60_000, () => rng.gamma(k, 2));
      expect(mean(xs) / (k * 2)).toBeCloseTo(1, 1);
      expect(variance(xs) / (k * 4)).toBeCloseTo(1, 1);
    },
  );

  it('rejects a non-positive gamma shape', () => {
    expect(() => createRng(0).gamma(0, 1)).toThrow(RangeError);
  });
});
