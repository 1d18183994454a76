/**
 * One request's generation state as the engine sees it: its tokens, where its KV lives (block
 * table) and how far the KV is computed. Plain data plus a few derived views; the scheduler and
 * the block manager move it between states.
 */
import type { PromptLogprob, SamplingSpec } from '../runner/runner.ts';
import { type SamplingParams, toSamplingSpec } from './sampling-params.ts';

export type SequenceStatus = 'waiting' | 'running' | 'preempted' | 'finished';
export type FinishReason = 'stop' | 'length' | 'abort';

/** Seconds on the engine's clock; null until the event happens. */
export interface SequenceTimings {
  arrival: number;
  firstScheduled: number | null;
  firstToken: number | null;
  lastToken: number | null;
}

export interface SequenceInit {
  requestId: string;
  seqId: number;
  promptTokenIds: readonly number[];
  params: SamplingParams;
  arrivalTime: number;
  /** Defaults to params.priority. */
  priority?: number;
  wantPromptLogprobs?: boolean;
  /** Prefix-cache namespace (the request's cache_salt); null shares with every unsalted prompt. */
  cacheSalt?: string | null;
}

export class Sequence {
  readonly requestId: string;
  readonly seqId: number;
  readonly promptTokenIds: readonly number[];
  readonly outputTokenIds: number[] = [];
  readonly params: SamplingParams;
  readonly priority: number;
  readonly arrivalTime: number;
  readonly wantPromptLogprobs: boolean;
  readonly cacheSalt: string | null;
  status: SequenceStatus = 'waiting';
  /** Tokens whose KV is in the cache (prefix-cache hits included). */
  numComputedTokens = 0;
  /** Prompt tokens served from the prefix cache at first admission (usage.cached_tokens). */
  numCachedTokens = 0;
  blockTable: number[] = [];
  /** Hash chain of this sequence's full, computed blocks (see block-manager.ts). */
  readonly blockHashes: string[] = [];
  /** Set by abort(); the scheduler removes the sequence at its next step. */
  abortReason: FinishReason | null = null;
  finishReason: FinishReason | null = null;
  /** Prompt logprobs gathered so far (index 0 is null: nothing predicts the first token). */
  promptLogprobs: (PromptLogprob | null)[] | null;
  readonly timings: SequenceTimings;
  private promptArray: Int32Array | null = null;
  private outputBuffer = new Int32Array(16);
  private numBufferedOutputs = 0;
  private samplingSpec: SamplingSpec | null = null;
  // blockTableArray's buffer, and the blockTable array it mirrors (freeing replaces that array).
  private tableBuffer = new Int32Array(0);
  private tableSource: number[] | null = null;
  private numBufferedBlocks = 0;

  constructor(init: SequenceInit) {
    this.requestId = init.requestId;
    this.seqId = init.seqId;
    this.promptTokenIds = init.promptTokenIds;
    this.params = init.params;
    this.priority = init.priority ?? init.params.priority;
    this.arrivalTime = init.arrivalTime;
    this.wantPromptLogprobs = init.wantPromptLogprobs ?? false;
    this.cacheSalt = init.cacheSalt ?? null;
    this.promptLogprobs = this.wantPromptLogprobs ? [null] : null;
    this.timings = {
      arrival: init.arrivalTime,
      firstScheduled: null,
      firstToken: null,
      lastToken: null,
    };
  }

  get numPromptTokens(): number {
    return this.promptTokenIds.length;
  }

  get numOutputTokens(): number {
    return this.outputTokenIds.length;
  }

  /** Prompt plus output: what a (re-)prefill must cover. */
  get numTokens(): number {
    return this.promptTokenIds.length + this.outputTokenIds.length;
  }

  tokenAt(position: number): number {
    const numPrompt = this.promptTokenIds.length;
    return position < numPrompt
      ? this.promptTokenIds[position]!
      : this.outputTokenIds[position - numPrompt]!;
  }

  /** The prompt as the runner takes it (built once; the prompt never changes). */
  get promptTokenArray(): Int32Array {
    this.promptArray ??= Int32Array.from(this.promptTokenIds);
    return this.promptArray;
  }

  /**
   * The output so far as a typed array, without a copy per step: a view of a buffer that only
   * grows, so entries a view shows never change afterwards.
   */
  get outputTokenArray(): Int32Array {
    const n = this.outputTokenIds.length;
    if (n > this.outputBuffer.length) {
      const grown = new Int32Array(Math.max(n, this.outputBuffer.length * 2));
      grown.set(this.outputBuffer.subarray(0, this.numBufferedOutputs));
      this.outputBuffer = grown;
    }
    for (let i = this.numBufferedOutputs; i < n; i++)
      this.outputBuffer[i] = this.outputTokenIds[i]!;
    this.numBufferedOutputs = n;
    return this.outputBuffer.subarray(0, n);
  }

  /**
   * The block table as a typed array, without a copy per step. A table only grows until the
   * sequence's blocks are freed, which replaces `blockTable` with a new array; the view then
   * comes from a new buffer, so entries a view shows never change afterwards.
   */
  get blockTableArray(): Int32Array {
    const table = this.blockTable;
    const n = table.length;
    if (table !== this.tableSource || n > this.tableBuffer.length) {
      const keep = table === this.tableSource ? this.numBufferedBlocks : 0;
      const grown = new Int32Array(Math.max(n, 2 * this.tableBuffer.length, 8));
      grown.set(this.tableBuffer.subarray(0, keep));
      this.tableBuffer = grown;
      this.tableSource = table;
      this.numBufferedBlocks = keep;
    }
    for (let i = this.numBufferedBlocks; i < n; i++) this.tableBuffer[i] = table[i]!;
    this.numBufferedBlocks = n;
    return this.tableBuffer.subarray(0, n);
  }

  /** The sampling parameters as the runner takes them (built once; they never change). */
  get runnerSampling(): SamplingSpec {
    this.samplingSpec ??= toSamplingSpec(this.params);
    return this.samplingSpec;
  }

  /** Token ids of positions [start, end). */
  tokenRange(start: number, end: number): Int32Array {
    const out = new Int32Array(end - start);
    for (let p = start; p < end; p++) out[p - start] = this.tokenAt(p);
    return out;
  }

  get isFinished(): boolean {
    return this.status === 'finished';
  }

  /** Prompt logprobs are still owed (echo) until every prompt position has one. */
  get needsPromptLogprobs(): boolean {
    return this.promptLogprobs !== null && this.promptLogprobs.length < this.promptTokenIds.length;
  }

  /** Orders by priority, then arrival, then id (lower first): the waiting queue's order. */
  static compare(a: Sequence, b: Sequence): number {
    return a.priority - b.priority || a.arrivalTime - b.arrivalTime || a.seqId - b.seqId;
  }
}
