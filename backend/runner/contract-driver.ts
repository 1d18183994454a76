/**
 * A tiny stand-in for the engine, used by the runner contract suite: it owns a free list of KV
 * blocks and turns "run these sequences for these many tokens" into plain `SchedulerOutput`s,
 * exactly as the scheduler would (slots from block tables, sample only at the end of the known
 * tokens). Deliberately independent of backend/engine so the contract tests runners alone.
 */
import type { Runner, SamplingSpec, ScheduledSequence, SchedulerOutput } from './runner.ts';

export const greedy: SamplingSpec = {
  temperature: 0,
  topP: 1,
  topK: 0,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  seed: null,
  logprobs: null,
};

export class BlockPool {
  private readonly free: number[];

  /** `order` 'reverse' hands out high ids first, so two runs use different physical blocks. */
  constructor(numBlocks: number, order: 'forward' | 'reverse' = 'forward') {
    this.free = Array.from({ length: numBlocks }, (_, i) =>
      order === 'forward' ? numBlocks - 1 - i : i,
    );
  }

  allocate(): number {
    const block = this.free.pop();
    if (block === undefined) throw new Error('contract driver: KV block pool exhausted');
    return block;
  }

  release(blocks: number[]): void {
    this.free.push(...blocks);
  }
}

export interface SeqOptions {
  sampling?: Partial<SamplingSpec>;
  bannedTokenIds?: number[] | null;
}

export class DriverSequence {
  output: number[] = [];
  blocks: number[] = [];
  /** Tokens whose KV is in the cache. */
  computed = 0;
  sampling: SamplingSpec;
  bannedTokenIds: Int32Array | null;

  constructor(
    readonly seqId: number,
    readonly prompt: number[],
    options: SeqOptions = {},
  ) {
    this.sampling = { ...greedy, ...options.sampling };
    this.bannedTokenIds = options.bannedTokenIds ? Int32Array.from(options.bannedTokenIds) : null;
  }

  get tokens(): number[] {
    return [...this.prompt, ...this.output];
  }

  get remaining(): number {
    return this.prompt.length + this.output.length - this.computed;
  }
}

export interface ChunkRequest {
  seq: DriverSequence;
  /** Tokens to compute this step (default: all remaining). */
  numTokens?: number;
  /** Ask for the logprobs of the prompt tokens this chunk predicts. */
  promptLogprobs?: boolean;
}

export class ContractDriver {
  private stepNumber = 0;

  constructor(
    readonly runner: Runner,
    readonly pool: BlockPool,
    readonly blockSize: number,
  ) {}

  /** Builds one ScheduledSequence, allocating blocks as the scheduler would. */
  schedule(request: ChunkRequest): ScheduledSequence {
    const { seq } = request;
    const numTokens = request.numTokens ?? seq.remaining;
    const all = seq.tokens;
    const start = seq.computed;
    const end = start + numTokens;
    if (numTokens <= 0 || end > all.length)
      throw new Error(`bad chunk ${start}..${end} of ${all.length}`);
    while (seq.blocks.length * this.blockSize < end) seq.blocks.push(this.pool.allocate());
    const blockTable = Int32Array.from(seq.blocks);
    const slotMapping = Int32Array.from({ length: numTokens }, (_, i) => {
      const p = start + i;
      return blockTable[Math.floor(p / this.blockSize)] * this.blockSize + (p % this.blockSize);
    });
    const targets = request.promptLogprobs
      ? Int32Array.from(seq.prompt.slice(start + 1, Math.min(end + 1, seq.prompt.length)))
      : null;
    return {
      seqId: seq.seqId,
      tokenIds: Int32Array.from(all.slice(start, end)),
      startPosition: start,
      slotMapping,
      blockTable,
      sample: end === all.length,
      sampling: seq.sampling,
      promptTokenIds: Int32Array.from(seq.prompt),
      outputTokenIds: Int32Array.from(seq.output),
      bannedTokenIds: seq.bannedTokenIds,
      promptLogprobTargets: targets,
    };
  }

  /** Runs one step; appends sampled tokens to their sequences. */
  async step(requests: ChunkRequest[]) {
    const sequences = requests.map((r) => this.schedule(r));
    const batch: SchedulerOutput = {
      step: this.stepNumber++,
      sequences,
      numBatchedTokens: sequences.reduce((n, s) => n + s.tokenIds.length, 0),
    };
    const result = await this.runner.execute(batch);
    const logits = this.runner.lastLogits?.() ?? [];
    const sampledLogits = new Map<DriverSequence, Float32Array>();
    let next = 0;
    requests.forEach(({ seq }, i) => {
      seq.computed += sequences[i].tokenIds.length;
      const sampled = result.sampled[i];
      if (sampled) {
        seq.output.push(sampled.tokenId);
        if (logits[next]) sampledLogits.set(seq, logits[next]);
        next++;
      }
    });
    return { result, sampledLogits };
  }

  /** Decodes every sequence together for `numSteps` steps; returns each step's logits per seq. */
  async decode(
    seqs: DriverSequence[],
    numSteps: number,
  ): Promise<Map<DriverSequence, Float32Array[]>> {
    const history = new Map(seqs.map((s) => [s, [] as Float32Array[]]));
    for (let i = 0; i < numSteps; i++) {
      const { sampledLogits } = await this.step(seqs.map((seq) => ({ seq })));
      for (const [seq, logits] of sampledLogits) history.get(seq)!.push(logits);
    }
    return history;
  }

  /** Preemption by recompute: give the blocks back and forget the cache. */
  evict(seq: DriverSequence): void {
    this.pool.release(seq.blocks);
    seq.blocks = [];
    seq.computed = 0;
  }
}

/** Deterministic pseudo-random prompt token ids in [0, vocabSize). */
export function randomPrompt(length: number, vocabSize: number, seed: number): number[] {
  let state = seed >>> 0 || 1;
  return Array.from({ length }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % vocabSize;
  });
}
