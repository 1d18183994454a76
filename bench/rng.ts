/**
 * A seeded random source, so a benchmark workload is a pure function of its flags: the same seed
 * gives the same prompts, lengths and arrival times on every machine and in every run.
 * xoshiro128** seeded through splitmix32; gamma by Marsaglia–Tsang.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number;
  /** Exponential with the given rate (mean 1/rate). */
  exponential(rate: number): number;
  /** Gamma with shape k and scale theta (mean k*theta). */
  gamma(shape: number, scale: number): number;
  /** Standard normal. */
  normal(): number;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export function createRng(seed: number): Rng {
  const init = splitmix32(seed);
  const s = new Uint32Array([init(), init(), init(), init()]);
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  // 53 random bits, so values near 1 are as fine-grained as near 0.
  const next = () => (nextU32() * 2 ** 21 + (nextU32() >>> 11)) / 2 ** 53;
  const normal = () => {
    const u = 1 - next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  const gamma = (shape: number, scale: number): number => {
    if (!(shape > 0) || !(scale > 0)) throw new RangeError(`gamma(${shape}, ${scale})`);
    // Shape < 1: boost to shape + 1 and correct with U^(1/shape).
    if (shape < 1) return gamma(shape + 1, scale) * (1 - next()) ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = next();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v * scale;
    }
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    exponential: (rate) => -Math.log(1 - next()) / rate,
    gamma,
    normal,
  };
}
