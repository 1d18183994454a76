/**
 * Turns scheduled sequences into the graph's index and mask inputs. Sequences run in groups: all
 * single-token decodes together (Q = 1, no padding), and prefill chunks packed while padding to
 * the group's longest chunk stays cheap, so a long chunk never makes short ones pay for its length.
 *
 * A group is a dense [B, Q] block of tokens: a chunk shorter than Q is padded at its end, padded
 * rows compute garbage that nothing reads (their keys are masked, their K/V is not stored, no
 * logits are taken from them). Indices are int32 (ONNX Gather takes them), so no BigInt per element.
 */
import type { ScheduledSequence } from '../runner.ts';
import { fillRope, type RopeTables } from './rope.ts';

/** Masked-out score: finite, so a fully padded row softmaxes to a harmless uniform row. */
const MASKED = -1e30;
/** A prefill group may hold this much padding relative to its real tokens. */
const MAX_PADDING_RATIO = 0.25;
/** The slot of a padding row: its K/V is not written to the pool. */
export const PAD_SLOT = -1;

export interface LogitRow {
  /** Index of the sequence within the step's batch. */
  seqIndex: number;
  /** Index of the token within the sequence's chunk. */
  tokenIndex: number;
}

export interface GroupFeeds {
  /** Batch indices of the sequences in this group, in order. */
  seqIndices: number[];
  /** [B, Q]: sequences in the group and the longest chunk (rows per sequence). */
  batchSize: number;
  queryLength: number;
  /** Keys per sequence: the longest history (Kh) plus Q. */
  keyLength: number;
  /** [B, Q] token ids, padding rows hold id 0. */
  inputIds: Int32Array;
  /** [B, Q] row of each token in ropeCos/ropeSin (int64 for RotaryEmbedding). */
  ropePosition: BigInt64Array;
  ropeCos: Float32Array;
  ropeSin: Float32Array;
  /** [B, Kh] pool slots of each sequence's history; short histories repeat slot 0 (masked). */
  histIndex: Int32Array;
  /** [B, 1, Q, K] additive mask. */
  attnMask: Float32Array;
  /** Rows of the flattened [B * Q] block whose logits are wanted. */
  logitIndex: Int32Array;
  logitRows: LogitRow[];
  /** KV slot of each [B, Q] row, PAD_SLOT for padding. */
  slots: Int32Array;
}

/** Splits a step into groups of batch indices that share one graph run. */
export function groupSequences(seqs: readonly ScheduledSequence[]): number[][] {
  const decodes: number[] = [];
  const prefills: number[] = [];
  seqs.forEach((s, i) => {
    (s.tokenIds.length === 1 ? decodes : prefills).push(i);
  });
  const groups: number[][] = decodes.length > 0 ? [decodes] : [];
  prefills.sort((a, b) => seqs[b].tokenIds.length - seqs[a].tokenIds.length);
  let current: number[] = [];
  let real = 0;
  for (const i of prefills) {
    const n = seqs[i].tokenIds.length;
    const q = current.length > 0 ? seqs[current[0]].tokenIds.length : n;
    const padded = (current.length + 1) * q;
    if (current.length > 0 && padded - (real + n) > MAX_PADDING_RATIO * (real + n)) {
      groups.push(current);
      current = [];
      real = 0;
    }
    current.push(i);
    real += n;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Logit rows a sequence needs: its prompt-logprob targets, then its sampled (last) position. */
function wantedRows(seq: ScheduledSequence): number[] {
  const rows: number[] = [];
  const targets = seq.promptLogprobTargets?.length ?? 0;
  for (let i = 0; i < targets; i++) rows.push(i);
  if (seq.sample) rows.push(seq.tokenIds.length - 1);
  return rows;
}

function historyStart(seq: ScheduledSequence, slidingWindow: number | null): number {
  if (!slidingWindow) return 0;
  return Math.max(0, seq.startPosition - slidingWindow + 1);
}

function checkCoverage(seq: ScheduledSequence, blockSize: number): void {
  const n = seq.tokenIds.length;
  if (seq.blockTable.length * blockSize < seq.startPosition + n) {
    throw new Error(
      `seq ${seq.seqId}: block table covers ${seq.blockTable.length * blockSize} positions, needs ${seq.startPosition + n}`,
    );
  }
  if (seq.slotMapping.length !== n) {
    throw new Error(
      `seq ${seq.seqId}: slotMapping has ${seq.slotMapping.length} slots for ${n} tokens`,
    );
  }
}

/** Writes the pool slots of positions [from, from + count) into `out` at `offset`. */
function fillHistory(
  seq: ScheduledSequence,
  from: number,
  count: number,
  blockSize: number,
  out: Int32Array,
  offset: number,
): void {
  const { blockTable } = seq;
  for (let j = 0; j < count; j++) {
    const position = from + j;
    const block = blockTable[Math.floor(position / blockSize)];
    out[offset + j] = block * blockSize + (position % blockSize);
  }
}

function emptyFeeds(seqIndices: number[], B: number, Q: number, Kh: number, half: number) {
  const K = Kh + Q;
  return {
    seqIndices,
    batchSize: B,
    queryLength: Q,
    keyLength: K,
    inputIds: new Int32Array(B * Q),
    ropePosition: new BigInt64Array(B * Q),
    ropeCos: new Float32Array(B * Q * half),
    ropeSin: new Float32Array(B * Q * half),
    histIndex: new Int32Array(B * Kh),
    attnMask: new Float32Array(B * Q * K).fill(MASKED),
    logitIndex: new Int32Array(0),
    logitRows: [],
    slots: new Int32Array(B * Q).fill(PAD_SLOT),
  } satisfies GroupFeeds;
}

export function planGroup(
  seqs: readonly ScheduledSequence[],
  seqIndices: number[],
  blockSize: number,
  rope: RopeTables,
  slidingWindow: number | null,
): GroupFeeds {
  const members = seqIndices.map((i) => seqs[i]);
  for (const seq of members) checkCoverage(seq, blockSize);
  const B = members.length;
  const Q = Math.max(...members.map((s) => s.tokenIds.length));
  const starts = members.map((s) => historyStart(s, slidingWindow));
  const Kh = Math.max(...members.map((s, b) => s.startPosition - starts[b]));
  const feeds: GroupFeeds = emptyFeeds(seqIndices, B, Q, Kh, rope.invFreq.length);
  // Padding rows rotate by position 0: harmless, and their cos/sin rows stay finite.
  const positions = new Float64Array(B * Q);
  const logitIndex: number[] = [];
  members.forEach((seq, b) => {
    const n = seq.tokenIds.length;
    for (let r = b * Q; r < (b + 1) * Q; r++) feeds.ropePosition[r] = BigInt(r);
    for (let i = 0; i < n; i++) {
      const r = b * Q + i;
      feeds.inputIds[r] = seq.tokenIds[i];
      positions[r] = seq.startPosition + i;
      feeds.slots[r] = seq.slotMapping[i];
    }
    const histLen = seq.startPosition - starts[b];
    fillHistory(seq, starts[b], histLen, blockSize, feeds.histIndex, b * Kh);
    fillMask(feeds.attnMask, b, Q, Kh, histLen, starts[b], seq.startPosition, n, slidingWindow);
    for (const row of wantedRows(seq)) {
      logitIndex.push(b * Q + row);
      feeds.logitRows.push({ seqIndex: seqIndices[b], tokenIndex: row });
    }
  });
  feeds.logitIndex = Int32Array.from(logitIndex);
  fillRope(rope, positions, feeds.ropeCos, feeds.ropeSin);
  return feeds;
}

/** Opens the keys query i of sequence b may see: causal, within the window, never padding. */
function fillMask(
  mask: Float32Array,
  b: number,
  Q: number,
  Kh: number,
  histLen: number,
  histStart: number,
  start: number,
  n: number,
  slidingWindow: number | null,
): void {
  const K = Kh + Q;
  for (let i = 0; i < n; i++) {
    const queryPos = start + i;
    const row = (b * Q + i) * K;
    if (!slidingWindow) {
      mask.fill(0, row, row + histLen);
      mask.fill(0, row + Kh, row + Kh + i + 1);
      continue;
    }
    const visible = (keyPos: number) => queryPos - keyPos < slidingWindow;
    for (let j = 0; j < histLen; j++) if (visible(histStart + j)) mask[row + j] = 0;
    for (let j = 0; j <= i; j++) if (visible(start + j)) mask[row + Kh + j] = 0;
  }
}
