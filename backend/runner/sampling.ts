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
 * it, not the sampler's truncation. Prompt logprobs are the log-softmax of the raw logits. A
 * request that asked for no logprobs gets NaN (not computed).
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
 * Math.exp in a loop of 150k logits. Requires max ≥ every value. The sampler's own weights keep
 * Math.exp: a last-bit difference reorders near-equal probabilities, and so changes draws.
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

/**
 * Scratch for the temperature path, reused across calls (sampling is synchronous): the
 * unnormalised probabilities, their bit patterns, and a histogram of them by bucket.
 */
let scratchProbs = new Float64Array(0);
let scratchBits = new Uint32Array(0);
/** Index of a double's high (sign, exponent, top mantissa) 32-bit word in a Uint32Array view. */
const HIGH_WORD = new Uint32Array(Float64Array.of(1).buffer)[1] === 0x3ff00000 ? 1 : 0;
/**
 * A non-negative double's bucket is its exponent and top 4 mantissa bits (high word >>> 16), so
 * buckets are ordered like the values: 16 buckets per power of two.
 */
const NUM_BUCKETS = 1 << 15;
const bucketCounts = new Int32Array(NUM_BUCKETS);
const bucketSums = new Float64Array(NUM_BUCKETS);

function probsBuffer(n: number): Float64Array {
  if (scratchProbs.length < n) {
    scratchProbs = new Float64Array(n);
    scratchBits = new Uint32Array(scratchProbs.buffer);
  }
  return scratchProbs;
}

/** probs[i] = exp((v - max) / T), unnormalised; returns their sum in id order (the normaliser). */
function expAll(processed: Float32Array, max: number, temperature: number, probs: Float64Array) {
  let total = 0;
  for (let i = 0; i < processed.length; i++) {
    probs[i] = Math.exp((processed[i] - max) / temperature);
    total += probs[i];
  }
  return total;
}

/** expAll that also fills the bucket histogram (count and mass per bucket). */
function expWithHistogram(
  processed: Float32Array,
  max: number,
  temperature: number,
  probs: Float64Array,
): number {
  bucketCounts.fill(0);
  bucketSums.fill(0);
  const bits = scratchBits;
  let total = 0;
  for (let i = 0; i < processed.length; i++) {
    const p = Math.exp((processed[i] - max) / temperature);
    probs[i] = p;
    total += p;
    const bucket = (bits[2 * i + HIGH_WORD] >>> 16) & (NUM_BUCKETS - 1);
    bucketCounts[bucket]++;
    bucketSums[bucket] += p;
  }
  return total;
}

/**
 * The ids in the sampler's order (probability descending, then id ascending) as far as top-k and
 * top-p can reach: every id at or above the highest bucket that holds `minCount` ids and (with
 * `minMass` finite) about `minMass` of probability. All of them, when nothing smaller will do.
 * Whatever the cut, the result is a prefix of the fully sorted vocabulary.
 */
function sortedPrefix(probs: Float64Array, n: number, minCount: number, minMass: number) {
  let bucket = NUM_BUCKETS - 1;
  let count = bucketCounts[bucket];
  let mass = bucketSums[bucket];
  while (bucket > 0 && (count < minCount || mass < minMass)) {
    bucket--;
    count += bucketCounts[bucket];
    mass += bucketSums[bucket];
  }
  const ids = new Int32Array(bucket === 0 ? n : count);
  if (bucket === 0) {
    for (let i = 0; i < n; i++) ids[i] = i;
  } else {
    const bits = scratchBits;
    for (let i = 0, at = 0; i < n; i++) {
      if (((bits[2 * i + HIGH_WORD] >>> 16) & (NUM_BUCKETS - 1)) >= bucket) ids[at++] = i;
    }
  }
  return sortByProbability(ids, probs);
}

/** Below this many ids a comparison sort is quicker than four counting passes. */
const RADIX_MIN_IDS = 4096;
const radixCounts = new Int32Array(1 << 16);
let radixScratch = new Int32Array(0);

/**
 * `ids` (ascending) reordered by probability descending, ties by id ascending: the order
 * `(a, b) => probs[b] - probs[a] || a - b` gives. A large set (top-p over a flat distribution
 * keeps most of a 150k vocabulary) goes through a stable LSD radix sort, 16 bits a pass, on the
 * complemented bit patterns: non-negative doubles order like their bits, so the complement orders
 * them descending, and stability keeps equal ones by id.
 */
export function sortByProbability(ids: Int32Array, probs: Float64Array): Int32Array {
  const n = ids.length;
  if (n < RADIX_MIN_IDS) return ids.sort((a, b) => probs[b] - probs[a] || a - b);
  const words = new Uint32Array(probs.buffer, probs.byteOffset, 2 * probs.length);
  if (radixScratch.length < n) radixScratch = new Int32Array(n);
  let src: Int32Array = ids;
  let dst: Int32Array = radixScratch.subarray(0, n);
  for (let pass = 0; pass < 4; pass++) {
    const word = pass < 2 ? 1 - HIGH_WORD : HIGH_WORD;
    const shift = (pass & 1) * 16;
    radixCounts.fill(0);
    for (let i = 0; i < n; i++) radixCounts[(~words[2 * src[i] + word] >>> shift) & 0xffff]++;
    if (radixCounts[(~words[2 * src[0] + word] >>> shift) & 0xffff] === n) continue; // one digit
    for (let d = 0, sum = 0; d < radixCounts.length; d++) {
      const c = radixCounts[d];
      radixCounts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const id = src[i];
      dst[radixCounts[(~words[2 * id + word] >>> shift) & 0xffff]++] = id;
    }
    [src, dst] = [dst, src];
  }
  if (src !== ids) ids.set(src);
  return ids;
}

/** How many leading ids the top-p loop keeps for `threshold`; -1 if they run out below it. */
function topPCount(ids: Int32Array, probs: Float64Array, threshold: number): number {
  let cumulative = 0;
  let count = 0;
  while (count < ids.length && cumulative < threshold) cumulative += probs[ids[count++]];
  return cumulative < threshold ? -1 : count;
}

/**
 * Top-k then top-p over a sorted prefix of the vocabulary, or null when the prefix is too short
 * to decide. Top-p's threshold is top_p × the sorted-order sum of the top-k survivors; when that
 * is the whole vocabulary and only a prefix is sorted, the sum is bounded by the id-order total
 * (both are float sums of the same n non-negative terms, each within (n-1)·2^-53 relative of the
 * exact sum), and the cut is taken only if both ends of that interval give the same count.
 */
function truncate(
  sorted: Int32Array,
  probs: Float64Array,
  n: number,
  sampling: SamplingInput['sampling'],
  total: number,
): Int32Array | null {
  const { topK, topP } = sampling;
  const keptLength = topK > 0 && topK < n ? topK : n;
  if (!(topP < 1)) return sorted.subarray(0, keptLength);
  let count: number;
  if (sorted.length >= keptLength) {
    const ids = sorted.subarray(0, keptLength);
    let kept = 0;
    for (let i = 0; i < ids.length; i++) kept += probs[ids[i]];
    count = topPCount(ids, probs, topP * kept);
    if (count < 0) count = ids.length;
  } else {
    const threshold = topP * total;
    const slack = Math.abs(threshold) * (n + 16) * 2 ** -50;
    count = topPCount(sorted, probs, threshold + slack);
    if (count < 0 || topPCount(sorted, probs, threshold - slack) !== count) return null;
  }
  return sorted.subarray(0, Math.max(1, count));
}

/**
 * The candidates after temperature, top-k, top-p and min-p, in draw order: by probability (then
 * id) when top-k or top-p filters, by id otherwise. `probs` holds each id's unnormalised weight
 * (the most likely token's is exactly 1) and `total` their id-order sum. Only the part of the
 * vocabulary that top-k/top-p can reach is sorted; the result is the same as sorting it all.
 */
function candidates(
  processed: Float32Array,
  input: SamplingInput,
): { ids: Int32Array | null; probs: Float64Array; total: number } {
  const { sampling } = input;
  const { temperature, topK, topP, minP } = sampling;
  const n = processed.length;
  const max = processed[argmax(processed)];
  const probs = probsBuffer(n);
  const filtering = (topK > 0 && topK < n) || topP < 1;
  if (!filtering) {
    const total = expAll(processed, max, temperature, probs);
    // min-p's threshold "minP × the top probability" is minP itself (the top weight is 1).
    return { ids: minP > 0 ? idsAtLeast(probs, n, minP) : null, probs, total };
  }
  const total = expWithHistogram(processed, max, temperature, probs);
  let ids: Int32Array | null = null;
  if (Number.isFinite(total)) {
    const minCount = topK > 0 && topK < n ? topK : 0;
    const minMass = minCount === 0 ? topP * total * (1 + 1e-6) : Number.NEGATIVE_INFINITY;
    ids = truncate(sortedPrefix(probs, n, minCount, minMass), probs, n, sampling, total);
  }
  ids ??= truncate(sortedPrefix(probs, n, n, Number.POSITIVE_INFINITY), probs, n, sampling, total);
  if (minP > 0) ids = (ids as Int32Array).filter((id) => probs[id] >= minP);
  return { ids, probs, total };
}

/** Ids (ascending) whose weight is at least `minP`. */
function idsAtLeast(probs: Float64Array, n: number, minP: number): Int32Array {
  let count = 0;
  for (let i = 0; i < n; i++) if (probs[i] >= minP) count++;
  const ids = new Int32Array(count);
  for (let i = 0, at = 0; i < n; i++) if (probs[i] >= minP) ids[at++] = i;
  return ids;
}

/**
 * Draws with weights probs[id] / total in the order of `ids` (every id 0..n-1 when null): the
 * weights are summed, u scales that sum, and they are subtracted in order until it goes negative.
 */
function draw(
  ids: Int32Array | null,
  probs: Float64Array,
  n: number,
  total: number,
  u: number,
): number {
  const length = ids === null ? n : ids.length;
  let sum = 0;
  for (let i = 0; i < length; i++) sum += probs[ids === null ? i : ids[i]] / total;
  let target = u * sum;
  for (let i = 0; i < length; i++) {
    const id = ids === null ? i : ids[i];
    target -= probs[id] / total;
    if (target < 0) return id;
  }
  return ids === null ? n - 1 : ids[ids.length - 1];
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
    const { ids, probs, total } = candidates(processed, input);
    const { seed } = input.sampling;
    const u = seed === null ? Math.random() : seededUniform(seed, input.outputTokenIds.length);
    tokenId = draw(ids, probs, processed.length, total, u);
  }
  return withLogprobs(tokenId, processed, input.sampling.logprobs);
}

function withLogprobs(
  tokenId: number,
  processed: Float32Array,
  logprobs: number | null,
): SampledToken {
  // Without logprobs asked for, nothing reads the logprob (vLLM skips it too): the normaliser is a
  // pass over the whole vocabulary, about 1 ms a token at 150k ids.
  if (logprobs === null) return { tokenId, logprob: Number.NaN };
  const lp = logSoftmax(processed);
  const token: SampledToken = { tokenId, logprob: lp[tokenId] };
  if (logprobs !== null && logprobs > 0) token.topLogprobs = topEntries(lp, logprobs);
  return token;
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
