/**
 * SchedulerOutput → the addon's flat batch. Every index the GPU will follow (token ids, slots,
 * block ids, positions) is bounds-checked here so a bad batch is a JS error, never a wild read.
 * Logit rows: one per sampled sequence (its last token) plus one per prompt-logprob target.
 */
import type { NativeBatch, NativeStepResult } from '../../native/loader.ts';
import { MAX_TOP_LOGPROBS } from '../../native/loader.ts';
import type {
  RunnerOutput,
  SamplingSpec,
  ScheduledSequence,
  SchedulerOutput,
  TokenLogprob,
} from '../runner.ts';

export interface PackLimits {
  vocabSize: number;
  numBlocks: number;
  blockSize: number;
  maxModelLen: number;
  maxNumBatchedTokens: number;
}

/** Per sequence: which rows hold its sample and its prompt-logprob targets. */
export interface RowMap {
  sampleRow: number[];
  promptRows: { first: number; count: number }[];
}

/** Supplies each sampling row's uniform number (seeded or from the runner's stream). */
export type UniformSource = (sampling: SamplingSpec, numOutputTokens: number) => number;

function fail(seq: ScheduledSequence, what: string): never {
  throw new Error(`cuda runner: sequence ${seq.seqId}: ${what}`);
}

function checkIds(seq: ScheduledSequence, ids: Int32Array, limit: number, what: string): void {
  for (const id of ids)
    if (!(id >= 0 && id < limit)) fail(seq, `${what} ${id} outside [0, ${limit})`);
}

function checkSequence(seq: ScheduledSequence, limits: PackLimits): void {
  const n = seq.tokenIds.length;
  if (n < 1) fail(seq, 'no tokens scheduled');
  if (seq.slotMapping.length !== n) fail(seq, 'slotMapping length differs from tokenIds');
  const end = seq.startPosition + n;
  if (seq.startPosition < 0 || end > limits.maxModelLen)
    fail(seq, `positions reach ${end} > max model len ${limits.maxModelLen}`);
  if (seq.blockTable.length * limits.blockSize < end)
    fail(seq, `block table covers fewer than ${end} positions`);
  checkIds(seq, seq.tokenIds, limits.vocabSize, 'token id');
  checkIds(seq, seq.blockTable, limits.numBlocks, 'block id');
  checkIds(seq, seq.slotMapping, limits.numBlocks * limits.blockSize, 'slot');
  if (seq.bannedTokenIds) checkIds(seq, seq.bannedTokenIds, limits.vocabSize, 'banned token id');
  if (seq.promptLogprobTargets) {
    checkIds(seq, seq.promptLogprobTargets, limits.vocabSize, 'prompt logprob target');
    if (seq.promptLogprobTargets.length > n) fail(seq, 'more prompt logprob targets than tokens');
  }
  const lp = seq.sampling.logprobs;
  if (lp !== null && !(lp >= 0 && lp <= MAX_TOP_LOGPROBS))
    fail(seq, `logprobs ${lp} outside [0, ${MAX_TOP_LOGPROBS}]`);
}

const hasPenalty = (s: SamplingSpec) =>
  s.repetitionPenalty !== 1 || s.frequencyPenalty !== 0 || s.presencePenalty !== 0;

/** Unique tokens with their output counts and whether the prompt holds them. */
function penaltyEntries(seq: ScheduledSequence): [number, number, number][] {
  const entries = new Map<number, [number, number, number]>();
  const entry = (id: number) => {
    let e = entries.get(id);
    if (!e) {
      e = [id, 0, 0];
      entries.set(id, e);
    }
    return e;
  };
  for (const id of seq.outputTokenIds) entry(id)[1]++;
  if (seq.sampling.repetitionPenalty !== 1) for (const id of seq.promptTokenIds) entry(id)[2] = 1;
  return [...entries.values()];
}

interface Row {
  token: number;
  target: number;
  seq: ScheduledSequence;
}

/** Prompt-logprob rows first, sampled rows last (the addon keeps the last rows' logits). */
function collectRows(batch: SchedulerOutput, queryStart: Int32Array, map: RowMap): Row[] {
  const rows: Row[] = [];
  batch.sequences.forEach((seq, i) => {
    const first = queryStart[i];
    const targets = seq.promptLogprobTargets;
    map.promptRows.push({ first: rows.length, count: targets ? targets.length : 0 });
    if (targets) {
      for (let j = 0; j < targets.length; j++)
        rows.push({ token: first + j, target: targets[j], seq });
    }
  });
  batch.sequences.forEach((seq, i) => {
    map.sampleRow.push(seq.sample ? rows.length : -1);
    if (seq.sample) rows.push({ token: queryStart[i] + seq.tokenIds.length - 1, target: -1, seq });
  });
  return rows;
}

function packRows(rows: Row[], uniform: UniformSource) {
  const n = rows.length;
  const i32 = () => new Int32Array(n);
  const f32 = () => new Float32Array(n);
  const r = {
    rowToken: i32(),
    rowTarget: i32(),
    rowNumTop: i32(),
    rowTopK: i32(),
    rowTemperature: f32(),
    rowTopP: f32(),
    rowMinP: f32(),
    rowUniform: f32(),
    rowRepetitionPenalty: f32(),
    rowFrequencyPenalty: f32(),
    rowPresencePenalty: f32(),
    rowPenaltyOffsets: new Int32Array(n + 1),
    rowBanOffsets: new Int32Array(n + 1),
  };
  const pen: [number, number, number][] = [];
  const bans: number[] = [];
  rows.forEach((row, k) => {
    const s = row.seq.sampling;
    const sampling = row.target < 0;
    r.rowToken[k] = row.token;
    r.rowTarget[k] = row.target;
    r.rowNumTop[k] = s.logprobs ?? 0;
    r.rowTemperature[k] = s.temperature;
    r.rowTopP[k] = s.topP;
    r.rowTopK[k] = s.topK;
    r.rowMinP[k] = s.minP;
    r.rowRepetitionPenalty[k] = s.repetitionPenalty;
    r.rowFrequencyPenalty[k] = s.frequencyPenalty;
    r.rowPresencePenalty[k] = s.presencePenalty;
    if (sampling && s.temperature > 0) r.rowUniform[k] = uniform(s, row.seq.outputTokenIds.length);
    if (sampling && hasPenalty(s)) pen.push(...penaltyEntries(row.seq));
    if (sampling && row.seq.bannedTokenIds) bans.push(...row.seq.bannedTokenIds);
    r.rowPenaltyOffsets[k + 1] = pen.length;
    r.rowBanOffsets[k + 1] = bans.length;
  });
  return {
    ...r,
    penaltyTokens: Int32Array.from(pen, (e) => e[0]),
    penaltyOutputCounts: Int32Array.from(pen, (e) => e[1]),
    penaltyInPrompt: Int32Array.from(pen, (e) => e[2]),
    banTokens: Int32Array.from(bans),
  };
}

export function packBatch(
  batch: SchedulerOutput,
  limits: PackLimits,
  uniform: UniformSource,
  keepLogits: boolean,
): { native: NativeBatch; map: RowMap } {
  const seqs = batch.sequences;
  if (seqs.length === 0) throw new Error('cuda runner: empty batch');
  let numTokens = 0;
  let maxBlocks = 1;
  for (const seq of seqs) {
    checkSequence(seq, limits);
    numTokens += seq.tokenIds.length;
    maxBlocks = Math.max(maxBlocks, seq.blockTable.length);
  }
  if (numTokens > limits.maxNumBatchedTokens) {
    throw new Error(
      `cuda runner: ${numTokens} tokens exceed max_num_batched_tokens ${limits.maxNumBatchedTokens}`,
    );
  }
  const tokenIds = new Int32Array(numTokens);
  const positions = new Int32Array(numTokens);
  const slotMapping = new Int32Array(numTokens);
  const queryStart = new Int32Array(seqs.length + 1);
  const contextLens = new Int32Array(seqs.length);
  const blockTables = new Int32Array(seqs.length * maxBlocks);
  seqs.forEach((seq, i) => {
    const at = queryStart[i];
    tokenIds.set(seq.tokenIds, at);
    slotMapping.set(seq.slotMapping, at);
    for (let j = 0; j < seq.tokenIds.length; j++) positions[at + j] = seq.startPosition + j;
    queryStart[i + 1] = at + seq.tokenIds.length;
    contextLens[i] = seq.startPosition + seq.tokenIds.length;
    blockTables.set(seq.blockTable, i * maxBlocks);
  });
  const map: RowMap = { sampleRow: [], promptRows: [] };
  const rows = collectRows(batch, queryStart, map);
  const native: NativeBatch = {
    numTokens,
    numSeqs: seqs.length,
    maxBlocksPerSeq: maxBlocks,
    numRows: rows.length,
    keepLogits: keepLogits ? 1 : 0,
    vocabSize: limits.vocabSize,
    tokenIds,
    positions,
    slotMapping,
    queryStart,
    contextLens,
    blockTables,
    ...packRows(rows, uniform),
  };
  return { native, map };
}

function topOf(result: NativeStepResult, row: number, count: number): TokenLogprob[] {
  const out: TokenLogprob[] = [];
  for (let k = 0; k < count; k++) {
    const id = result.topIds[row * MAX_TOP_LOGPROBS + k];
    if (id < 0) break;
    out.push({ tokenId: id, logprob: result.topLogprobs[row * MAX_TOP_LOGPROBS + k] });
  }
  return out;
}

function entry(result: NativeStepResult, row: number, numTop: number) {
  const e: { tokenId: number; logprob: number; topLogprobs?: TokenLogprob[] } = {
    tokenId: result.token[row],
    logprob: result.logprob[row],
  };
  if (numTop > 0) e.topLogprobs = topOf(result, row, numTop);
  return e;
}

export function unpackResult(
  batch: SchedulerOutput,
  map: RowMap,
  result: NativeStepResult,
): RunnerOutput {
  const out: RunnerOutput = { sampled: [], promptLogprobs: [] };
  batch.sequences.forEach((seq, i) => {
    const numTop = seq.sampling.logprobs ?? 0;
    const row = map.sampleRow[i];
    out.sampled.push(row < 0 ? null : entry(result, row, numTop));
    const { first, count } = map.promptRows[i];
    out.promptLogprobs.push(
      seq.promptLogprobTargets
        ? Array.from({ length: count }, (_, j) => entry(result, first + j, numTop))
        : null,
    );
  });
  return out;
}
