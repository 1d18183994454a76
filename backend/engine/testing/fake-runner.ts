/**
 * A deterministic stand-in for a model, for engine tests. It keeps a fake KV pool: each slot
 * holds (position, token, kv) where kv = mix(kv of the previous position, token, position), a
 * chain over the whole history, like real attention KV. The next token is a function of the kv
 * read back through the block table, so wrong slots, positions, chunks or shared blocks change the
 * output even when they slip past the checks; most are caught first, because every batch is
 * checked against the runner contract and every KV read is checked against what was written.
 *
 * Sampling settings other than bannedTokenIds and logprobs are ignored (greedy by construction).
 */
import type {
  KvCacheInfo,
  PromptLogprob,
  Runner,
  RunnerOutput,
  SampledToken,
  ScheduledSequence,
  SchedulerOutput,
  TokenLogprob,
} from '../../runner/runner.ts';

export interface FakeRunnerOptions {
  numBlocks: number;
  blockSize?: number;
  vocabSize?: number;
  /** When set, batches over these limits throw. */
  maxNumBatchedTokens?: number;
  maxNumSeqs?: number;
  /** Runs at the start of each execute (after the event-loop hop); may throw to fail the step. */
  onExecute?: (batch: SchedulerOutput) => void | Promise<void>;
}

const ROOT_KV = 0x2545f491;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

export function mixKv(previous: number, tokenId: number, position: number): number {
  return fmix(
    fmix(previous + Math.imul(tokenId + 1, 0x9e3779b1)) + Math.imul(position + 1, 0x85ebca6b),
  );
}

const logprobOf = (kv: number, tokenId: number): number =>
  -((fmix(kv ^ tokenId) % 1000) / 100) - 0.01;

interface KvWrite {
  slot: number;
  position: number;
  tokenId: number;
  kv: number;
}

export class FakeRunner implements Runner {
  readonly name = 'fake';
  readonly kvCache: KvCacheInfo;
  readonly vocabSize: number;
  /** Every batch executed, in order (tests read scheduling decisions from here). */
  readonly batches: SchedulerOutput[] = [];
  closed = false;
  private readonly positions: Int32Array;
  private readonly tokens: Int32Array;
  private readonly kvs: Uint32Array;

  constructor(private readonly options: FakeRunnerOptions) {
    const blockSize = options.blockSize ?? 16;
    this.kvCache = { numBlocks: options.numBlocks, blockSize, bytes: 0 };
    this.vocabSize = options.vocabSize ?? 64;
    const numSlots = options.numBlocks * blockSize;
    this.positions = new Int32Array(numSlots).fill(-1);
    this.tokens = new Int32Array(numSlots).fill(-1);
    this.kvs = new Uint32Array(numSlots);
  }

  async execute(batch: SchedulerOutput): Promise<RunnerOutput> {
    if (this.closed) throw new Error('runner is closed');
    await new Promise((resolve) => setImmediate(resolve));
    await this.options.onExecute?.(batch);
    this.checkBatch(batch);
    const writes: KvWrite[] = [];
    const out: RunnerOutput = { sampled: [], promptLogprobs: [] };
    // All reads see the pool as it was before this step; writes land together afterwards.
    for (const seq of batch.sequences) {
      const kvAt = this.runSequence(seq, writes);
      out.sampled.push(seq.sample ? this.sample(seq, kvAt[kvAt.length - 1]!) : null);
      out.promptLogprobs.push(this.promptLogprobs(seq, kvAt));
    }
    for (const w of writes) {
      this.positions[w.slot] = w.position;
      this.tokens[w.slot] = w.tokenId;
      this.kvs[w.slot] = w.kv;
    }
    this.batches.push(batch);
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The token a solo, unbatched run would produce after this history (for reference checks). */
  static nextToken(history: readonly number[], vocabSize = 64): number {
    let kv = ROOT_KV;
    history.forEach((t, p) => {
      kv = mixKv(kv, t, p);
    });
    return kv % vocabSize;
  }

  private checkBatch(batch: SchedulerOutput): void {
    const { maxNumBatchedTokens, maxNumSeqs } = this.options;
    const total = batch.sequences.reduce((n, s) => n + s.tokenIds.length, 0);
    if (total !== batch.numBatchedTokens)
      throw new Error(`numBatchedTokens ${batch.numBatchedTokens} != sum ${total}`);
    if (maxNumBatchedTokens !== undefined && total > maxNumBatchedTokens)
      throw new Error(`batch of ${total} tokens exceeds the budget ${maxNumBatchedTokens}`);
    if (maxNumSeqs !== undefined && batch.sequences.length > maxNumSeqs)
      throw new Error(`batch of ${batch.sequences.length} sequences exceeds ${maxNumSeqs}`);
    if (new Set(batch.sequences.map((s) => s.seqId)).size !== batch.sequences.length)
      throw new Error('a sequence appears twice in one batch');
    this.checkNoSharedWrites(batch);
  }

  /** A block written this step may be in no other sequence's table (shared blocks are read-only). */
  private checkNoSharedWrites(batch: SchedulerOutput): void {
    const { blockSize } = this.kvCache;
    const writer = new Map<number, number>();
    for (const s of batch.sequences)
      for (const slot of s.slotMapping) writer.set(Math.floor(slot / blockSize), s.seqId);
    for (const s of batch.sequences)
      for (const block of s.blockTable) {
        const w = writer.get(block);
        if (w !== undefined && w !== s.seqId)
          throw new Error(`block ${block} is written by seq ${w} and used by seq ${s.seqId}`);
      }
  }

  /** Checks one sequence against the contract, reads its KV, computes its new KV; returns kv per new position. */
  private runSequence(seq: ScheduledSequence, writes: KvWrite[]): number[] {
    const history = [...seq.promptTokenIds, ...seq.outputTokenIds];
    const start = seq.startPosition;
    const end = start + seq.tokenIds.length;
    const fail = (why: string): never => {
      throw new Error(`seq ${seq.seqId} (start ${start}): ${why}`);
    };
    if (seq.tokenIds.length === 0) fail('no tokens scheduled');
    if (end > history.length) fail(`computes up to ${end} but has ${history.length} tokens`);
    if (seq.sample !== (end === history.length))
      fail(`sample=${seq.sample} but ends at ${end}/${history.length}`);
    if (new Set(seq.blockTable).size !== seq.blockTable.length)
      fail('block table lists a block twice');
    if (seq.blockTable.length < Math.ceil(end / this.kvCache.blockSize))
      fail('block table too short');
    let kv = ROOT_KV;
    for (let p = 0; p < start; p++) kv = this.readKv(seq, p, history[p]!, kv, fail);
    const kvAt: number[] = [];
    seq.tokenIds.forEach((tokenId, i) => {
      const position = start + i;
      if (tokenId !== history[position])
        fail(`token at ${position} is ${tokenId}, history says ${history[position]}`);
      const slot = this.slotOf(seq, position);
      if (seq.slotMapping[i] !== slot)
        fail(`slot of position ${position} is ${seq.slotMapping[i]}, block table says ${slot}`);
      kv = mixKv(kv, tokenId, position);
      kvAt.push(kv);
      writes.push({ slot, position, tokenId, kv });
    });
    return kvAt;
  }

  private readKv(
    seq: ScheduledSequence,
    position: number,
    tokenId: number,
    previous: number,
    fail: (why: string) => never,
  ): number {
    const slot = this.slotOf(seq, position);
    if (this.positions[slot] !== position || this.tokens[slot] !== tokenId)
      fail(`KV of position ${position} (token ${tokenId}) was never written to slot ${slot}`);
    const kv = this.kvs[slot]!;
    if (kv !== mixKv(previous, tokenId, position))
      fail(`KV at slot ${slot} belongs to another prefix`);
    return kv;
  }

  private slotOf(seq: ScheduledSequence, position: number): number {
    const { blockSize } = this.kvCache;
    const block = seq.blockTable[Math.floor(position / blockSize)];
    if (block === undefined) throw new Error(`seq ${seq.seqId}: no block for position ${position}`);
    return block * blockSize + (position % blockSize);
  }

  private sample(seq: ScheduledSequence, kv: number): SampledToken {
    const banned = new Set(seq.bannedTokenIds ?? []);
    if (banned.size >= this.vocabSize) throw new Error('every token is banned');
    let tokenId = kv % this.vocabSize;
    while (banned.has(tokenId)) tokenId = (tokenId + 1) % this.vocabSize;
    const token: SampledToken = { tokenId, logprob: logprobOf(kv, tokenId) };
    const top = seq.sampling.logprobs ?? 0;
    if (top > 0) token.topLogprobs = this.alternatives(kv, tokenId, top);
    return token;
  }

  private alternatives(kv: number, tokenId: number, count: number): TokenLogprob[] {
    const list: TokenLogprob[] = [];
    for (let i = 0; i < count; i++) {
      const id = (tokenId + i) % this.vocabSize;
      list.push({ tokenId: id, logprob: logprobOf(kv, tokenId) - i });
    }
    return list;
  }

  /** Target j (position start+1+j) is predicted by the kv of position start+j. */
  private promptLogprobs(seq: ScheduledSequence, kvAt: number[]): PromptLogprob[] | null {
    const targets = seq.promptLogprobTargets;
    if (!targets) return null;
    if (targets.length > kvAt.length)
      throw new Error(`seq ${seq.seqId}: more prompt targets than positions`);
    return Array.from(targets, (tokenId, j) => ({
      tokenId,
      logprob: logprobOf(kvAt[j]!, tokenId),
    }));
  }
}
