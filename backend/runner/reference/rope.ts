/**
 * Rotary position embeddings with the Hugging Face conventions: the "rotate half" pairing
 * (dimension i with i + headDim/2) and inverse frequencies adjusted by the config's rope scaling.
 * Exported so other runners build exactly the same tables.
 */
import type { ModelSpec } from '../../model/config.ts';

export interface RopeTables {
  /** headDim / 2 inverse frequencies (radians per position). */
  invFreq: Float64Array;
  /** Multiplies cos and sin (YaRN's attention temperature; 1 otherwise). */
  attentionFactor: number;
}

function baseInvFreq(base: number, headDim: number): Float64Array {
  const half = headDim / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) out[i] = 1 / base ** ((2 * i) / headDim);
  return out;
}

function llama3(invFreq: Float64Array, s: Extract<ModelSpec['ropeScaling'], { type: 'llama3' }>) {
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return invFreq.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth =
      (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) /
      (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

const yarnMscale = (scale: number, mscale = 1) =>
  scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;

function yarn(spec: ModelSpec, s: Extract<ModelSpec['ropeScaling'], { type: 'yarn' }>): RopeTables {
  const dim = spec.headDim;
  const base = spec.ropeTheta;
  const original = s.originalMaxPositionEmbeddings;
  const correctionDim = (rotations: number) =>
    (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
  const low = Math.max(Math.floor(correctionDim(s.betaFast)), 0);
  let high = Math.min(Math.ceil(correctionDim(s.betaSlow)), dim - 1);
  if (high === low) high += 0.001;
  const extrapolated = baseInvFreq(base, dim);
  const invFreq = extrapolated.map((f, i) => {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extrapolationWeight = 1 - ramp;
    return (f / s.factor) * (1 - extrapolationWeight) + f * extrapolationWeight;
  });
  const attentionFactor =
    s.attentionFactor ??
    (s.mscale && s.mscaleAllDim
      ? yarnMscale(s.factor, s.mscale) / yarnMscale(s.factor, s.mscaleAllDim)
      : yarnMscale(s.factor));
  return { invFreq, attentionFactor };
}

/**
 * Dynamic NTK: Hugging Face rescales the base by the current sequence length, which makes a
 * token's encoding depend on what it is batched with. Like vLLM we fix the base at the longest
 * context the scaling allows (original × factor), so results never depend on batch composition.
 */
function dynamicBase(spec: ModelSpec, s: Extract<ModelSpec['ropeScaling'], { type: 'dynamic' }>) {
  const maxLen = s.originalMaxPositionEmbeddings * s.factor;
  const ratio = (s.factor * maxLen) / s.originalMaxPositionEmbeddings - (s.factor - 1);
  return spec.ropeTheta * ratio ** (spec.headDim / (spec.headDim - 2));
}

export function ropeTables(spec: ModelSpec): RopeTables {
  const s = spec.ropeScaling;
  if (!s) return { invFreq: baseInvFreq(spec.ropeTheta, spec.headDim), attentionFactor: 1 };
  switch (s.type) {
    case 'linear':
      return {
        invFreq: baseInvFreq(spec.ropeTheta, spec.headDim).map((f) => f / s.factor),
        attentionFactor: 1,
      };
    case 'dynamic':
      return { invFreq: baseInvFreq(dynamicBase(spec, s), spec.headDim), attentionFactor: 1 };
    case 'llama3':
      return { invFreq: llama3(baseInvFreq(spec.ropeTheta, spec.headDim), s), attentionFactor: 1 };
    case 'yarn':
      return yarn(spec, s);
  }
}

/**
 * Rotates `numHeads` heads of `headDim` floats stored contiguously from `offset`, in place, for
 * one token at `position`. `cos`/`sin` are scratch arrays of headDim / 2.
 */
export function applyRope(
  x: Float32Array,
  offset: number,
  numHeads: number,
  headDim: number,
  position: number,
  tables: RopeTables,
  cos: Float32Array,
  sin: Float32Array,
): void {
  const half = headDim / 2;
  for (let i = 0; i < half; i++) {
    const angle = position * tables.invFreq[i];
    cos[i] = Math.cos(angle) * tables.attentionFactor;
    sin[i] = Math.sin(angle) * tables.attentionFactor;
  }
  for (let h = 0; h < numHeads; h++) {
    const base = offset + h * headDim;
    for (let i = 0; i < half; i++) {
      const x1 = x[base + i];
      const x2 = x[base + i + half];
      x[base + i] = x1 * cos[i] - x2 * sin[i];
      x[base + i + half] = x2 * cos[i] + x1 * sin[i];
    }
  }
}
