/**
 * Sampling from one row of logits, shared by the reference and CPU runners.
 *
 * Order: repetition penalty (prompt + output tokens), then frequency/presence penalties (output
 * tokens), then banned ids → -inf. Greedy (temperature 0) takes the argmax of that. Otherwise the
 * logits are divided by the temperature, softmaxed, filtered by top-k, top-p and min-p, and one
 * token is drawn with a uniform number that is a pure function of (seed, outputTokenIds.length),
 * so a seeded sequence samples the same tokens whatever it is batched with.
 *
 * Logprobs are the log-softmax of the penalised logits (after penalties and bans, before
 * temperature and top-k/top-p/min-p): they describe the model's distribution as the request shaped
 * it, not the sampler's truncation. Prompt logprobs are the log-softmax of the raw logits.
 */
import type { PromptLogprob, SampledToken, ScheduledSequence, TokenLogprob } from './runner.ts';

export type SamplingInput = Pick<
  ScheduledSequence,
  'sampling' | 'promptTokenIds' | 'outputTokenIds' | 'bannedTokenIds'
>;

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A uniform number in [0, 1) determined by (seed, step) alone. */
export function seededUniform(seed: number, step: number): number {
  const lo = Number(BigInt.asUintN(32, BigInt(Math.trunc(seed))));
  const hi = Number(BigInt.asUintN(32, BigInt(Math.trunc(seed)) >> 32n));
  const a = mix32(lo ^ mix32(hi ^ 0x9e3779b9) ^ mix32((step + 0x85ebca6b) >>> 0));
  const b = mix32(a ^ 0xc2b2ae35 ^ step);
  return (a * 2 ** 21 + (b >>> 11)) / 2 ** 53;
}

/** Whether penalties or bans change any logit (otherwise the logits are used as they are). */
function changesLogits(input: SamplingInput): boolean {
  const { sampling, bannedTokenIds } = input;
  return (
    sampling.repetitionPenalty !== 1 ||
    sampling.frequencyPenalty !== 0 ||
    sampling.presencePenalty !== 0 ||
    (bannedTokenIds !== null && bannedTokenIds !== undefined && bannedTokenIds.length > 0)
  );
}

/** Penalties and bans applied to a copy of the logits. */
export function processLogits(logits: Float32Array, input: SamplingInput): Float32Array {
  const out = logits.slice();
  const { sampling, promptTokenIds, outputTokenIds } = input;
  if (sampling.repetitionPenalty !== 1) {
    const seen = new Set<number>([...promptTokenIds, ...outputTokenIds]);
    for (const id of seen) {
      out[id] =
        out[id] > 0 ? out[id] / sampling.repetitionPenalty : out[id] * sampling.repetitionPenalty;
    }
  }
  if (sampling.frequencyPenalty !== 0 || sampling.presencePenalty !== 0) {
    const counts = new Map<number, number>();
    for (const id of outputTokenIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, count] of counts) {
      out[id] -= sampling.frequencyPenalty * count + sampling.presencePenalty;
    }
  }
  if (input.bannedTokenIds)
    for (const id of input.bannedTokenIds) out[id] = Number.NEGATIVE_INFINITY;
  return out;
}

/** 2^-k for k in [0, 1074]: the exponent part of sumExpBelow. */
const NEGATIVE_POWERS_OF_TWO = Float64Array.from({ length: 1075 }, (_, k) => 2 ** -k);
/** Adding then subtracting 1.5 * 2^52 rounds a double to the nearest integer. */
const ROUND_SHIFT = 6755399441055744;

/**
 * Σ exp(v - max) over a vocabulary-sized row, for log-normalisers: exp(x) = 2^k · e^r with
 * |r| ≤ ln2/2 and a degree-10 Taylor series (relative error < 1e-13), about twice as fast as
 * Math.exp in a loop of 150k logits. Requires max ≥ every value.
 */
function sumExpBelow(values: Float32Array, max: number): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const t = (values[i] - max) * Math.LOG2E;
    if (!(t >= -1074)) continue; // underflows to 0 (also -Infinity)
    const k = t + ROUND_SHIFT - ROUND_SHIFT;
    const r = (t - k) * Math.LN2;
    const p =
      1 +
      r *
        (1 +
          r *
            (1 / 2 +
              r *
                (1 / 6 +
                  r *
                    (1 / 24 +
                      r *
                        (1 / 120 +
                          r *
                            (1 / 720 +
                              r *
                                (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r / 3628800)))))))));
    sum += p * NEGATIVE_POWERS_OF_TWO[-k];
  }
  return sum;
}

export function logSoftmax(logits: Float32Array): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const logZ = max + Math.log(sumExpBelow(logits, max));
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
  return out;
}

/** The n largest entries, largest first; ties go to the lower id. */
export function topEntries(logprobs: Float32Array, n: number): TokenLogprob[] {
  const top: TokenLogprob[] = [];
  for (let id = 0; id < logprobs.length; id++) {
    const lp = logprobs[id];
    if (top.length === n && !(lp > top[n - 1].logprob)) continue;
    let at = top.length;
    while (at > 0 && lp > top[at - 1].logprob) at--;
    top.splice(at, 0, { tokenId: id, logprob: lp });
    if (top.length > n) top.pop();
  }
  return top;
}

function argmax(values: Float32Array): number {
  let best = 0;
  let bestValue = values[0];
  for (let i = 1; i < values.length; i++) {
    if (values[i] > bestValue) {
      best = i;
      bestValue = values[i];
    }
  }
  return best;
}

function allBanned(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== Number.NEGATIVE_INFINITY) return false;
  return true;
}

/** Probabilities after temperature, top-k, top-p and min-p, as (ids, weights) in draw order. */
function candidates(
  processed: Float32Array,
  input: SamplingInput,
): { ids: Int32Array; weights: Float64Array } {
  const { temperature, topK, topP, minP } = input.sampling;
  const n = processed.length;
  const max = processed[argmax(processed)];
  const probs = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = Math.exp((processed[i] - max) / temperature);
    total += probs[i];
  }
  let ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  const filtering = (topK > 0 && topK < n) || topP < 1;
  if (filtering) ids.sort((a, b) => probs[b] - probs[a] || a - b);
  if (topK > 0 && topK < n) ids = ids.subarray(0, topK);
  if (topP < 1) {
    let kept = 0;
    for (let i = 0; i < ids.length; i++) kept += probs[ids[i]];
    let cumulative = 0;
    let count = 0;
    while (count < ids.length && cumulative < topP * kept) cumulative += probs[ids[count++]];
    ids = ids.subarray(0, Math.max(1, count));
  }
  // probs are unnormalised relative to the most likely token (whose weight is exactly 1), so
  // min-p's threshold "minP × the top probability" is minP itself.
  if (minP > 0) ids = ids.filter((id) => probs[id] >= minP);
  const weights = Float64Array.from(ids, (id) => probs[id] / total);
  return { ids, weights };
}

function draw(ids: Int32Array, weights: Float64Array, u: number): number {
  let total = 0;
  for (const w of weights) total += w;
  let target = u * total;
  for (let i = 0; i < ids.length; i++) {
    target -= weights[i];
    if (target < 0) return ids[i];
  }
  return ids[ids.length - 1];
}

/** Samples the next token for one sequence from its last-position logits. */
export function sampleToken(logits: Float32Array, input: SamplingInput): SampledToken {
  // Nothing below writes to `processed`, so unchanged logits need no vocabulary-sized copy.
  const processed = changesLogits(input) ? processLogits(logits, input) : logits;
  if (allBanned(processed)) {
    throw new Error('every token id is banned; nothing can be sampled');
  }
  let tokenId: number;
  if (input.sampling.temperature === 0) {
    tokenId = argmax(processed);
  } else {
    const { ids, weights } = candidates(processed, input);
    const { seed } = input.sampling;
    const u = seed === null ? Math.random() : seededUniform(seed, input.outputTokenIds.length);
    tokenId = draw(ids, weights, u);
  }
  return withLogprobs(tokenId, processed, input.sampling.logprobs);
}

function withLogprobs(
  tokenId: number,
  processed: Float32Array,
  logprobs: number | null,
): SampledToken {
  // Without logprobs asked for, only the chosen token's is needed: skip the vocabulary-sized array.
  if (logprobs === null) {
    return { tokenId, logprob: processed[tokenId] - logSumExp(processed) };
  }
  const lp = logSoftmax(processed);
  const token: SampledToken = { tokenId, logprob: lp[tokenId] };
  if (logprobs !== null && logprobs > 0) token.topLogprobs = topEntries(lp, logprobs);
  return token;
}

function logSumExp(values: Float32Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  return max + Math.log(sumExpBelow(values, max));
}

/** Logprobs of the prompt tokens each row of logits predicts (raw model distribution). */
export function promptLogprobs(
  rows: Float32Array[],
  targets: Int32Array,
  topN: number,
): PromptLogprob[] {
  return Array.from(targets, (target, i) => {
    const lp = logSoftmax(rows[i]);
    const entry: PromptLogprob = { tokenId: target, logprob: lp[target] };
    if (topN > 0) entry.topLogprobs = topEntries(lp, topN);
    return entry;
  });
}
