/**
 * An independent check of the reference runner: a straightforward, unpaged, unbatched forward
 * pass written from the model definition (full-sequence attention with a causal mask, RoPE by
 * explicit angle) must give the same logits the paged runner produces step by step.
 */
import { describe, expect, it } from 'vitest';
import { fixtureModelCache } from '../../../test/fixtures/models.ts';
import { loadModelSpec, type ModelSpec } from '../../model/config.ts';
import { loadWeights, type WeightSet } from '../../model/loader.ts';
import { BlockPool, ContractDriver, DriverSequence, randomPrompt } from '../contract-driver.ts';
import { createReferenceRunner } from './reference-runner.ts';

type Matrix = number[][];

const matvec = (w: Float32Array, rows: number, x: number[], bias?: Float32Array): number[] =>
  Array.from({ length: rows }, (_, r) =>
    x.reduce((sum, v, i) => sum + v * w[r * x.length + i], bias ? bias[r] : 0),
  );

const rmsNorm = (x: number[], weight: Float32Array, eps: number) => {
  const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + eps);
  return x.map((v, i) => (v / rms) * weight[i]);
};

/** Positions are divided by `positionScale` (linear RoPE scaling); 1 means none. */
function rotate(head: number[], position: number, theta: number, positionScale: number): number[] {
  const half = head.length / 2;
  const out = [...head];
  for (let i = 0; i < half; i++) {
    const angle = (position / positionScale) * theta ** (-(2 * i) / head.length);
    out[i] = head[i] * Math.cos(angle) - head[i + half] * Math.sin(angle);
    out[i + half] = head[i + half] * Math.cos(angle) + head[i] * Math.sin(angle);
  }
  return out;
}

function naiveLogits(
  spec: ModelSpec,
  w: WeightSet,
  tokens: number[],
  positionScale: number,
): Matrix {
  const { hiddenSize: h, headDim: d, numHeads, numKvHeads } = spec;
  const get = (name: string) => w.float32(name);
  const heads = (v: number[], n: number) =>
    Array.from({ length: n }, (_, i) => v.slice(i * d, (i + 1) * d));
  const embed = get('model.embed_tokens.weight');
  let x: Matrix = tokens.map((t) => Array.from(embed.subarray(t * h, (t + 1) * h)));
  for (let l = 0; l < spec.numLayers; l++) {
    const p = (name: string) => get(`model.layers.${l}.${name}`);
    const bias = (name: string) => (spec.attentionBias ? p(name) : undefined);
    const normed = x.map((row) => rmsNorm(row, p('input_layernorm.weight'), spec.rmsNormEps));
    const headsOf = (proj: string, n: number, norm: string | null) =>
      normed.map((row, pos) => {
        const hs = heads(
          matvec(p(`self_attn.${proj}.weight`), n * d, row, bias(`self_attn.${proj}.bias`)),
          n,
        );
        const normedHeads =
          norm && spec.qkNorm
            ? hs.map((hd) => rmsNorm(hd, p(`self_attn.${norm}.weight`), spec.rmsNormEps))
            : hs;
        return proj === 'v_proj'
          ? normedHeads
          : normedHeads.map((hd) => rotate(hd, pos, spec.ropeTheta, positionScale));
      });
    const q = headsOf('q_proj', numHeads, 'q_norm');
    const k = headsOf('k_proj', numKvHeads, 'k_norm');
    const v = headsOf('v_proj', numKvHeads, null);
    const window = spec.slidingWindow ?? Number.POSITIVE_INFINITY;
    const attended = q.map((qHeads, i) =>
      qHeads.flatMap((qh, head) => {
        const kv = Math.floor(head / (numHeads / numKvHeads));
        const visible = k.map((_, j) => j <= i && i - j < window);
        const scores = k.map((kh, j) =>
          visible[j] ? qh.reduce((s, val, t) => s + val * kh[kv][t], 0) / Math.sqrt(d) : -Infinity,
        );
        const max = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - max));
        const total = weights.reduce((a, b) => a + b, 0);
        return Array.from({ length: d }, (_, t) =>
          v.reduce((s, vh, j) => s + (weights[j] / total) * vh[kv][t], 0),
        );
      }),
    );
    x = x.map((row, i) => {
      const o = matvec(p('self_attn.o_proj.weight'), h, attended[i]);
      return row.map((val, j) => val + o[j]);
    });
    x = x.map((row) => {
      const n = rmsNorm(row, p('post_attention_layernorm.weight'), spec.rmsNormEps);
      const gate = matvec(p('mlp.gate_proj.weight'), spec.intermediateSize, n);
      const up = matvec(p('mlp.up_proj.weight'), spec.intermediateSize, n);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matvec(p('mlp.down_proj.weight'), h, act);
      return row.map((val, j) => val + down[j]);
    });
  }
  const head = spec.tieWordEmbeddings ? embed : get('lm_head.weight');
  return x.map((row) =>
    matvec(head, spec.vocabSize, rmsNorm(row, get('model.norm.weight'), spec.rmsNormEps)),
  );
}

const cases = [
  { family: 'llama', config: {}, positionScale: 1 },
  {
    family: 'llama',
    config: { rope_scaling: { rope_type: 'linear', factor: 2 } },
    positionScale: 2,
  },
  { family: 'qwen2', config: {}, positionScale: 1 },
  { family: 'qwen3', config: {}, positionScale: 1 },
  { family: 'mistral', config: { sliding_window: 6 }, positionScale: 1 },
] as const;

describe('reference forward vs a naive unpaged forward', () => {
  for (const { family, config, positionScale } of cases) {
    it(`${family} ${JSON.stringify(config)}: prefill and decode logits agree`, async () => {
      const dir = fixtureModelCache(family, 21, { config });
      const spec = await loadModelSpec(dir);
      const weights = await loadWeights(dir, spec);
      const runner = createReferenceRunner({ spec, weights, numBlocks: 32, blockSize: 4 });
      const driver = new ContractDriver(runner, new BlockPool(32, 'reverse'), 4);
      const seq = new DriverSequence(0, randomPrompt(9, spec.vocabSize, 5));
      const stepLogits = [(await driver.step([{ seq }])).sampledLogits.get(seq)!];
      stepLogits.push(...(await driver.decode([seq], 3)).get(seq)!);
      const naive = naiveLogits(spec, weights, seq.tokens.slice(0, -1), positionScale);
      stepLogits.forEach((logits, i) => {
        const expected = naive[8 + i];
        let maxDiff = 0;
        for (let t = 0; t < logits.length; t++)
          maxDiff = Math.max(maxDiff, Math.abs(logits[t] - expected[t]));
        expect(maxDiff).toBeLessThan(1e-4);
      });
    });
  }
});
