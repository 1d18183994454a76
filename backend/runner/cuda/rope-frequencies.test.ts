import { describe, expect, it } from 'vitest';
import type { ModelSpec } from '../../model/config.ts';
import { ropeTables } from '../reference/rope.ts';
import { ropeTable } from './rope-frequencies.ts';

const base: ModelSpec = {
  architecture: 'llama',
  vocabSize: 100,
  hiddenSize: 512,
  intermediateSize: 1024,
  numLayers: 1,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 128,
  rmsNormEps: 1e-5,
  ropeTheta: 500000,
  ropeScaling: null,
  maxPositionEmbeddings: 131072,
  tieWordEmbeddings: false,
  attentionBias: false,
  qkNorm: false,
  dtype: 'bfloat16',
  bosTokenId: null,
  eosTokenIds: [],
};

/** Llama 3.1's rope_scaling. */
const llama3 = {
  type: 'llama3',
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 8192,
} as const;

const scalings: ModelSpec['ropeScaling'][] = [
  null,
  { type: 'linear', factor: 4 },
  llama3,
  { type: 'dynamic', factor: 2, originalMaxPositionEmbeddings: 4096 },
];

describe('cuda rope frequencies', () => {
  for (const ropeScaling of scalings) {
    it(`match the reference runner's tables to float32 precision (${ropeScaling?.type ?? 'none'})`, () => {
      const spec = { ...base, ropeScaling };
      const ours = ropeTable(spec);
      const reference = ropeTables(spec);
      expect(ours.invFreq).toHaveLength(spec.headDim / 2);
      for (let i = 0; i < ours.invFreq.length; i++) {
        expect(
          Math.abs(ours.invFreq[i] - reference.invFreq[i]) / reference.invFreq[i],
        ).toBeLessThan(2e-6);
      }
      expect(ours.attentionScaling).toBeCloseTo(reference.attentionFactor, 6);
    });
  }

  it('llama3 scaling leaves high frequencies alone and divides low ones by the factor', () => {
    const scaled = ropeTable({ ...base, ropeScaling: llama3 }).invFreq;
    const plain = ropeTable(base).invFreq;
    expect(scaled[0]).toBe(plain[0]);
    expect(scaled[63]).toBeCloseTo(plain[63] / 8, 12);
  });
});
