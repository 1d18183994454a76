/**
 * RoPE inverse frequencies, computed in float32 the way Hugging Face's rope init functions do,
 * with the config's scaling applied. The addon only ever sees the final table.
 */
import type { ModelSpec } from '../../model/config.ts';
import { ropeTables } from '../reference/rope.ts';

const f = Math.fround;

export interface RopeTable {
  invFreq: Float32Array;
  /** Multiplies cos and sin (1 for the scalings we support). */
  attentionScaling: number;
}

function defaultInvFreq(theta: number, headDim: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < out.length; i++) out[i] = f(1 / f(theta ** f((2 * i) / headDim)));
  return out;
}

function llama3(
  base: Float32Array,
  s: {
    factor: number;
    lowFreqFactor: number;
    highFreqFactor: number;
    originalMaxPositionEmbeddings: number;
  },
): Float32Array {
  const old = s.originalMaxPositionEmbeddings;
  const lowWavelen = old / s.lowFreqFactor;
  const highWavelen = old / s.highFreqFactor;
  return base.map((inv) => {
    const wavelen = f((2 * Math.PI) / inv);
    if (wavelen < highWavelen) return inv;
    if (wavelen > lowWavelen) return f(inv / s.factor);
    const smooth = f((old / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor));
    return f(f(f(f(1 - smooth) * inv) / s.factor) + f(smooth * inv));
  });
}

/** The table for the spec's scaling; linear and llama3 follow HF's float32 arithmetic exactly. */
export function ropeTable(spec: ModelSpec): RopeTable {
  const base = defaultInvFreq(spec.ropeTheta, spec.headDim);
  const s = spec.ropeScaling;
  if (!s) return { invFreq: base, attentionScaling: 1 };
  switch (s.type) {
    case 'linear':
      return { invFreq: base.map((v) => f(v / s.factor)), attentionScaling: 1 };
    case 'llama3':
      return { invFreq: llama3(base, s), attentionScaling: 1 };
    default: {
      // Dynamic NTK (base fixed at the longest context, as vLLM does) and YaRN: the reference
      // runner's tables, rounded to float32.
      const t = ropeTables(spec);
      return { invFreq: Float32Array.from(t.invFreq), attentionScaling: t.attentionFactor };
    }
  }
}
