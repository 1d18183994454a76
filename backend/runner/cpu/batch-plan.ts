/**
 * Turns scheduled sequences into the graph's index and mask inputs. Sequences run in groups: all
 * single-token decodes together (Q = 1, no padding), and prefill chunks packed while padding to
 * the group's longest chunk stays cheap, so a long chunk never makes short ones pay for its length.
 */
import type { ScheduledSequence } from '../runner.ts';
import { fillRope, type RopeTables } from './rope.ts';

/** Masked-out score: finite, so a fully padded row softmaxes to a harmless uniform row. */
const MASKED = -1e30;
/** A prefill group may hold this much padding relative to its real tokens. */
const MAX_PADDING_RATIO = 0.25;

export interface LogitRow {
  /** Index of the sequence within the step's batch. */
  seqIndex: number;
  /** Index of the token within the sequence's chunk. */
  tokenIndex: number;
}

export interface GroupFeeds {
  /** Batch indices of the sequences in this group, in order. */
  seqIndices: number[];
  numTokens: number;
  inputIds: BigInt64Array;
  ropePosition: BigInt64Array;
  ropeCos: Float32Array;
  ropeSin: Float32Array;
  queryIndex: BigInt64Array;
  outIndex: BigInt64Array;
  histIndex: BigInt64Array;
  attnMask: Float32Array;
  /** [B, Q, K]. */
  maskDims: [number, number, number];
  logitIndex: BigInt64Array;
  logitRows: LogitRow[];
  /** KV slot of each new token, in flattened order. */
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

function slotOf(seq: ScheduledSequence, position: number, blockSize: number): number {
  const block = seq.blockTable[Math.floor(position / blockSize)];
  if (block === undefined) {
    throw new Error(`seq ${seq.seqId}: block table does not cover position ${position}`);
  }
  return block * blockSize + (position % blockSize);
}

export function planGroup(
  seqs: readonly ScheduledSequence[],
  seqIndices: number[],
  blockSize: number,
  rope: RopeTables,
  slidingWindow: number | null,
): GroupFeeds {
  const members = seqIndices.map((i) => seqs[i]);
  const B = members.length;
  const Q = Math.max(...members.map((s) => s.tokenIds.length));
  const starts = members.map((s) => historyStart(s, slidingWindow));
  const Kh = Math.max(...members.map((s, b) => s.startPosition - starts[b]));
  const K = Kh + Q;
  const T = members.reduce((sum, s) => sum + s.tokenIds.length, 0);
  const feeds: GroupFeeds = {
    seqIndices,
    numTokens: T,
    inputIds: new BigInt64Array(T),
    ropePosition: new BigInt64Array(T),
    ropeCos: new Float32Array(T * rope.invFreq.length),
    ropeSin: new Float32Array(T * rope.invFreq.length),
    queryIndex: new BigInt64Array(B * Q),
    outIndex: new BigInt64Array(T),
    histIndex: new BigInt64Array(B * Kh),
    attnMask: new Float32Array(B * Q * K).fill(MASKED),
    maskDims: [B, Q, K],
    logitIndex: new BigInt64Array(0),
    logitRows: [],
    slots: new Int32Array(T),
  };
  const positions = new Float64Array(T);
  const logitIndex: number[] = [];
  let offset = 0;
  members.forEach((seq, b) => {
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
    for (let i = 0; i < n; i++) {
      const t = offset + i;
      feeds.inputIds[t] = BigInt(seq.tokenIds[i]);
      feeds.ropePosition[t] = BigInt(t);
      positions[t] = seq.startPosition + i;
      feeds.queryIndex[b * Q + i] = BigInt(t);
      feeds.outIndex[t] = BigInt(b * Q + i);
      feeds.slots[t] = seq.slotMapping[i];
    }
    const histLen = seq.startPosition - starts[b];
    for (let j = 0; j < histLen; j++) {
      feeds.histIndex[b * Kh + j] = BigInt(slotOf(seq, starts[b] + j, blockSize));
    }
    fillMask(feeds.attnMask, b, Q, Kh, histLen, starts[b], seq.startPosition, n, slidingWindow);
    for (const row of wantedRows(seq)) {
      logitIndex.push(offset + row);
      feeds.logitRows.push({ seqIndex: seqIndices[b], tokenIndex: row });
    }
    offset += n;
  });
  feeds.logitIndex = BigInt64Array.from(logitIndex.map(BigInt));
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
    const visible = (keyPos: number) => !slidingWindow || queryPos - keyPos < slidingWindow;
    for (let j = 0; j < histLen; j++) if (visible(histStart + j)) mask[row + j] = 0;
    for (let j = 0; j <= i; j++) if (visible(start + j)) mask[row + Kh + j] = 0;
  }
}
