import { describe, expect, it } from 'vitest';
import type { ModelSpec, RopeScaling } from '../../model/config.ts';
import { ropeTables } from './rope.ts';

const spec = (ropeScaling: RopeScaling | null) =>
  ({ headDim: 64, ropeTheta: 10000, ropeScaling }) as ModelSpec;
const plain = ropeTables(spec(null)).invFreq;

describe('ropeTables', () => {
  it('uses theta^(-2i/d) without scaling and divides by the factor for linear', () => {
    expect(plain[0]).toBe(1);
    expect(plain[1]).toBeCloseTo(10000 ** (-2 / 64), 12);
    const linear = ropeTables(spec({ type: 'linear', factor: 4 })).invFreq;
    for (const [i, f] of linear.entries()) expect(f).toBeCloseTo(plain[i] / 4, 12);
  });

  it('llama3 keeps high frequencies, divides low ones by the factor and blends between', () => {
    const s = {
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    } as const;
    const scaled = ropeTables(spec(s)).invFreq;
    expect(scaled[0]).toBe(plain[0]);
    expect(scaled[31]).toBeCloseTo(plain[31] / 8, 15);
    const mid = plain.findIndex((f) => {
      const wavelen = (2 * Math.PI) / f;
      return wavelen > 8192 / 4 && wavelen < 8192;
    });
    expect(mid).toBeGreaterThan(0);
    expect(scaled[mid]).toBeLessThan(plain[mid]);
    expect(scaled[mid]).toBeGreaterThan(plain[mid] / 8);
  });

  it('yarn interpolates only low frequencies and scales attention by 0.1 ln(s) + 1', () => {
    const s = {
      type: 'yarn',
      factor: 4,
      originalMaxPositionEmbeddings: 4096,
      betaFast: 32,
      betaSlow: 1,
      mscale: 1,
      mscaleAllDim: 0,
    } as const;
    const { invFreq, attentionFactor } = ropeTables(spec(s));
    expect(attentionFactor).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    expect(invFreq[0]).toBeCloseTo(plain[0], 12);
    expect(invFreq[31]).toBeCloseTo(plain[31] / 4, 12);
    expect(ropeTables(spec({ ...s, attentionFactor: 1.5 })).attentionFactor).toBe(1.5);
  });

  it('dynamic NTK fixes a larger base from the config alone', () => {
    const dynamic = ropeTables(
      spec({ type: 'dynamic', factor: 2, originalMaxPositionEmbeddings: 2048 }),
    ).invFreq;
    const base = 10000 * 3 ** (64 / 62);
    expect(dynamic[1]).toBeCloseTo(base ** (-2 / 64), 12);
  });
});
