/**
 * The reference runner: a plain-TypeScript float32 forward pass over the same paged KV cache and
 * plain `SchedulerOutput` every runner gets. It is the oracle the CPU and CUDA runners are checked
 * against, so it favours obviousness over speed.
 */
import type { ModelSpec } from '../../model/config.ts';
import type { WeightSet } from '../../model/loader.ts';
import type {
  KvCacheInfo,
  Runner,
  RunnerOutput,
  ScheduledSequence,
  SchedulerOutput,
} from '../runner.ts';
import { promptLogprobs, sampleToken } from '../sampling.ts';
import { type FlatBatch, ReferenceForward } from './forward.ts';
import { PagedKvCache } from './paged-attention.ts';
import { ropeTables } from './rope.ts';
import { loadModelWeights } from './weights.ts';

export interface ReferenceRunnerOptions {
  spec: ModelSpec;
  weights: WeightSet;
  numBlocks: number;
  blockSize: number;
}

export class ReferenceRunner implements Runner {
  readonly name = 'reference';
  readonly kvCache: KvCacheInfo;
  private readonly cache: PagedKvCache;
  private readonly forward: ReferenceForward;
  private logitsOfLastStep: Float32Array[] = [];

  constructor(private readonly options: ReferenceRunnerOptions) {
    const { spec, numBlocks, blockSize } = options;
    if (!Number.isInteger(numBlocks) || numBlocks <= 0)
      throw new Error(`numBlocks must be a positive integer, got ${numBlocks}`);
    if (!Number.isInteger(blockSize) || blockSize <= 0)
      throw new Error(`blockSize must be a positive integer, got ${blockSize}`);
    this.cache = new PagedKvCache(spec, numBlocks, blockSize);
    this.forward = new ReferenceForward(
      spec,
      loadModelWeights(spec, options.weights),
      ropeTables(spec),
      this.cache,
    );
    this.kvCache = { numBlocks, blockSize, bytes: this.cache.bytes };
  }

  async execute(batch: SchedulerOutput): Promise<RunnerOutput> {
    for (const [i, seq] of batch.sequences.entries()) this.checkSequence(seq, i);
    const flat = this.flatten(batch.sequences);
    const hidden = flat.tokenIds.length > 0 ? this.forward.hidden(flat) : new Float32Array(0);
    const output: RunnerOutput = { sampled: [], promptLogprobs: [] };
    this.logitsOfLastStep = [];
    let rowStart = 0;
    for (const seq of batch.sequences) {
      output.promptLogprobs.push(this.promptLogprobsOf(seq, hidden, rowStart));
      if (seq.sample) {
        const logits = this.forward.logits(hidden, rowStart + seq.tokenIds.length - 1);
        this.logitsOfLastStep.push(logits);
        output.sampled.push(sampleToken(logits, seq));
      } else output.sampled.push(null);
      rowStart += seq.tokenIds.length;
    }
    return output;
  }

  /** Logits of the last `execute`, one array per sequence that sampled, in batch order. */
  lastLogits(): Float32Array[] {
    return this.logitsOfLastStep;
  }

  async close(): Promise<void> {}

  private promptLogprobsOf(seq: ScheduledSequence, hidden: Float32Array, rowStart: number) {
    const targets = seq.promptLogprobTargets;
    if (!targets) return null;
    const rows = Array.from(targets, (_, j) => this.forward.logits(hidden, rowStart + j));
    return promptLogprobs(rows, targets, seq.sampling.logprobs ?? 0);
  }

  private flatten(sequences: ScheduledSequence[]): FlatBatch {
    const total = sequences.reduce((n, s) => n + s.tokenIds.length, 0);
    const flat: FlatBatch = {
      tokenIds: new Int32Array(total),
      positions: new Int32Array(total),
      slots: new Int32Array(total),
      blockTables: [],
    };
    let at = 0;
    for (const seq of sequences) {
      flat.tokenIds.set(seq.tokenIds, at);
      flat.slots.set(seq.slotMapping, at);
      for (let i = 0; i < seq.tokenIds.length; i++) {
        flat.positions[at + i] = seq.startPosition + i;
        flat.blockTables.push(seq.blockTable);
      }
      at += seq.tokenIds.length;
    }
    return flat;
  }

  /** Validates one scheduled sequence so an engine bug is an error here, not silent garbage. */
  private checkSequence(seq: ScheduledSequence, index: number): void {
    const fail = (why: string) => {
      throw new Error(`SchedulerOutput.sequences[${index}] (seq ${seq.seqId}): ${why}`);
    };
    const { vocabSize } = this.options.spec;
    const n = seq.tokenIds.length;
    if (n === 0) fail('tokenIds is empty');
    if (seq.slotMapping.length !== n)
      fail(`slotMapping has ${seq.slotMapping.length} entries for ${n} tokens`);
    for (const id of seq.tokenIds)
      if (id < 0 || id >= vocabSize) fail(`token id ${id} is outside the vocabulary`);
    const needed = Math.ceil((seq.startPosition + n) / this.cache.blockSize);
    if (seq.blockTable.length < needed)
      fail(`blockTable has ${seq.blockTable.length} blocks, positions need ${needed}`);
    for (const block of seq.blockTable.subarray(0, needed)) {
      if (block < 0 || block >= this.cache.numBlocks)
        fail(`block ${block} is outside the pool of ${this.cache.numBlocks}`);
    }
    for (let i = 0; i < n; i++) {
      const expected = this.cache.slotOf(seq.blockTable, seq.startPosition + i);
      if (seq.slotMapping[i] !== expected)
        fail(`slotMapping[${i}] is ${seq.slotMapping[i]}, blockTable gives ${expected}`);
    }
    if (seq.promptLogprobTargets && seq.promptLogprobTargets.length > n) {
      fail(`promptLogprobTargets has ${seq.promptLogprobTargets.length} entries for ${n} tokens`);
    }
  }
}

export function createReferenceRunner(options: ReferenceRunnerOptions): ReferenceRunner {
  return new ReferenceRunner(options);
}
