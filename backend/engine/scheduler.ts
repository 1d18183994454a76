/**
 * Continuous batching: each step picks which sequences compute how many tokens within a token
 * budget and a sequence cap, then applies what the runner sampled.
 *
 * Order of a step: running decodes, then running sequences still prefilling (chunked), then
 * admissions from the waiting queue by (priority, arrival). A running sequence that needs a block
 * when none is free preempts the lowest-priority, latest-arrived running sequence (recompute: its
 * blocks are freed and it re-prefills prompt + output later, mostly from the prefix cache).
 */
import type {
  PromptLogprob,
  RunnerOutput,
  SampledToken,
  ScheduledSequence,
  SchedulerOutput,
} from '../runner/runner.ts';
import type { BlockManager } from './block-manager.ts';
import { buildScheduledSequence } from './scheduled-sequence.ts';
import { type FinishReason, Sequence } from './sequence.ts';

export interface SchedulerConfig {
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  maxModelLen: number;
  /** Waiting requests beyond those that can start at once; more are refused (503). */
  maxQueueLen: number;
  eosTokenIds: readonly number[];
}

/** What one step did for one request. */
export interface StepOutput {
  seq: Sequence;
  newTokenIds: number[];
  /** Aligned with newTokenIds; empty when the request asked for no logprobs. */
  newLogprobs: SampledToken[];
  /** The whole prompt's logprobs, on the request's first output only (echo). */
  promptLogprobs: (PromptLogprob | null)[] | null;
  finished: boolean;
  finishReason: FinishReason | null;
}

export interface ScheduleResult {
  batch: SchedulerOutput;
  /** Requests aborted since the last step, now removed with their blocks freed. */
  aborted: StepOutput[];
}

function insertSorted(list: Sequence[], seq: Sequence): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Sequence.compare(list[mid]!, seq) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, seq);
}

function remove(list: Sequence[], seq: Sequence): void {
  const i = list.indexOf(seq);
  if (i >= 0) list.splice(i, 1);
}

export class Scheduler {
  numPreemptions = 0;
  /** Sorted by Sequence.compare: the head is served first. */
  private readonly waiting: Sequence[] = [];
  /** Sorted by Sequence.compare: the tail is the preemption victim. */
  private readonly running: Sequence[] = [];
  private readonly bySeqId = new Map<number, Sequence>();
  private readonly byRequestId = new Map<string, Sequence>();
  private readonly pendingAborts = new Set<Sequence>();
  private stepNumber = 0;
  /** Per-step scratch: sequence → tokens to compute, in batch order. */
  private plan = new Map<Sequence, number>();
  private budget = 0;
  private preemptedThisStep = false;

  constructor(
    readonly config: SchedulerConfig,
    readonly blockManager: BlockManager,
  ) {}

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  hasUnfinished(): boolean {
    return this.bySeqId.size > 0;
  }

  get(requestId: string): Sequence | undefined {
    return this.byRequestId.get(requestId);
  }

  getBySeqId(seqId: number): Sequence | undefined {
    return this.bySeqId.get(seqId);
  }

  /** Queues a new sequence. Returns false when the waiting queue is full (the caller answers 503). */
  add(seq: Sequence): boolean {
    if (this.byRequestId.has(seq.requestId))
      throw new Error(`request id ${seq.requestId} is already in flight`);
    const startable = Math.max(0, this.config.maxNumSeqs - this.running.length);
    if (this.waiting.length >= this.config.maxQueueLen + startable) return false;
    seq.status = 'waiting';
    insertSorted(this.waiting, seq);
    this.bySeqId.set(seq.seqId, seq);
    this.byRequestId.set(seq.requestId, seq);
    return true;
  }

  /** Marks a request for removal at the next step. Returns false if it is unknown or finished. */
  abort(requestId: string, reason: FinishReason = 'abort'): boolean {
    const seq = this.byRequestId.get(requestId);
    if (!seq || seq.abortReason !== null) return false;
    seq.abortReason = reason;
    this.pendingAborts.add(seq);
    return true;
  }

  schedule(): ScheduleResult {
    this.stepNumber++;
    const aborted = this.removeAborted();
    this.plan = new Map();
    this.budget = this.config.maxNumBatchedTokens;
    this.preemptedThisStep = false;
    this.scheduleRunning(true);
    this.scheduleRunning(false);
    if (!this.preemptedThisStep) this.admitWaiting();
    const { blockSize } = this.blockManager;
    const sequences: ScheduledSequence[] = [];
    let numBatchedTokens = 0;
    for (const [seq, numTokens] of this.plan) {
      sequences.push(buildScheduledSequence(seq, numTokens, blockSize, this.config.eosTokenIds));
      numBatchedTokens += numTokens;
    }
    return { batch: { step: this.stepNumber, sequences, numBatchedTokens }, aborted };
  }

  /** Applies a step's results; returns one output per request that got tokens or finished. */
  update(batch: SchedulerOutput, result: RunnerOutput): StepOutput[] {
    if (result.sampled.length !== batch.sequences.length)
      throw new Error(
        `runner returned ${result.sampled.length} results for ${batch.sequences.length} sequences`,
      );
    // Checked before anything is applied, so a bad answer leaves no half-updated state behind.
    batch.sequences.forEach((scheduled, i) => {
      if (scheduled.sample && !result.sampled[i])
        throw new Error(`runner sampled nothing for seq ${scheduled.seqId}`);
    });
    const outputs: StepOutput[] = [];
    batch.sequences.forEach((scheduled, i) => {
      const seq = this.bySeqId.get(scheduled.seqId);
      if (seq?.status !== 'running' || seq.abortReason !== null) return;
      const output = this.applyStep(
        seq,
        scheduled,
        result.sampled[i]!,
        result.promptLogprobs[i] ?? null,
      );
      if (output) outputs.push(output);
    });
    return outputs;
  }

  /** Removes the batch's sequences after the runner failed on it; returns them. */
  failBatch(batch: SchedulerOutput): Sequence[] {
    const failed: Sequence[] = [];
    for (const { seqId } of batch.sequences) {
      const seq = this.bySeqId.get(seqId);
      if (!seq) continue;
      this.finish(seq, 'abort');
      failed.push(seq);
    }
    return failed;
  }

  /** Removes every request now (engine shutdown); returns them. */
  abortAll(): Sequence[] {
    const all = [...this.bySeqId.values()];
    for (const seq of all) this.finish(seq, 'abort');
    return all;
  }

  private removeAborted(): StepOutput[] {
    const outputs: StepOutput[] = [];
    for (const seq of this.pendingAborts) {
      if (seq.status === 'finished') continue;
      this.finish(seq, seq.abortReason!);
      outputs.push(this.output(seq, null, null));
    }
    this.pendingAborts.clear();
    return outputs;
  }

  /** One pass over the running sequences: decodes (one token left) or prefills (more). */
  private scheduleRunning(decodes: boolean): void {
    // Preemption only ever removes the list's tail, so indexes below i stay valid.
    for (let i = 0; i < this.running.length && this.budget > 0; i++) {
      const seq = this.running[i]!;
      const remaining = seq.numTokens - seq.numComputedTokens;
      if (this.plan.has(seq) || (remaining === 1) !== decodes) continue;
      const numTokens = Math.min(remaining, this.budget);
      if (!this.allocateOrPreempt(seq, numTokens)) continue;
      this.plan.set(seq, numTokens);
      this.budget -= numTokens;
    }
  }

  /** Preempts from the tail until the sequence's blocks fit; false if it had to go itself. */
  private allocateOrPreempt(seq: Sequence, numTokens: number): boolean {
    while (!this.blockManager.allocate(seq, seq.numComputedTokens + numTokens)) {
      const victim = this.running[this.running.length - 1]!;
      this.preempt(victim);
      if (victim === seq) return false;
    }
    return true;
  }

  private preempt(seq: Sequence): void {
    const planned = this.plan.get(seq);
    if (planned !== undefined) {
      this.budget += planned;
      this.plan.delete(seq);
    }
    remove(this.running, seq);
    this.blockManager.free(seq);
    seq.numComputedTokens = 0;
    seq.status = 'preempted';
    insertSorted(this.waiting, seq);
    this.numPreemptions++;
    this.preemptedThisStep = true;
  }

  private admitWaiting(): void {
    const bm = this.blockManager;
    while (
      this.waiting.length > 0 &&
      this.running.length < this.config.maxNumSeqs &&
      this.budget > 0
    ) {
      const seq = this.waiting[0]!;
      // Prompt logprobs need the logits of every prompt position, so cached KV cannot serve them.
      const lookup = bm.enablePrefixCaching && !seq.needsPromptLogprobs;
      const prefix = lookup ? bm.findCachedPrefix(seq) : null;
      const numCached = (prefix?.length ?? 0) * bm.blockSize;
      const numTokens = Math.min(seq.numTokens - numCached, this.budget);
      if (!bm.allocate(seq, numCached + numTokens, prefix)) break;
      this.waiting.shift();
      if (seq.status === 'waiting') seq.numCachedTokens = Math.min(numCached, seq.numPromptTokens);
      seq.numComputedTokens = numCached;
      seq.status = 'running';
      insertSorted(this.running, seq);
      this.plan.set(seq, numTokens);
      this.budget -= numTokens;
    }
  }

  private applyStep(
    seq: Sequence,
    scheduled: ScheduledSequence,
    sampled: SampledToken | null,
    promptLogprobs: PromptLogprob[] | null,
  ): StepOutput | null {
    if (scheduled.startPosition !== seq.numComputedTokens)
      throw new Error(
        `seq ${seq.seqId}: step started at ${scheduled.startPosition}, KV holds ${seq.numComputedTokens}`,
      );
    seq.numComputedTokens += scheduled.tokenIds.length;
    this.blockManager.cacheComputedBlocks(seq);
    if (promptLogprobs) this.collectPromptLogprobs(seq, scheduled.startPosition, promptLogprobs);
    if (!scheduled.sample) return null;
    if (!sampled) throw new Error(`runner sampled nothing for seq ${seq.seqId}`);
    seq.outputTokenIds.push(sampled.tokenId);
    const reason = this.finishReasonAfter(seq, sampled.tokenId);
    if (reason) this.finish(seq, reason);
    const first = seq.numOutputTokens === 1 ? seq.promptLogprobs : null;
    return this.output(seq, sampled, first);
  }

  /** The answer starts at position start+1; positions kept from before a preemption are skipped. */
  private collectPromptLogprobs(seq: Sequence, start: number, logprobs: PromptLogprob[]): void {
    const collected = seq.promptLogprobs;
    if (!collected) return;
    logprobs.forEach((logprob, i) => {
      const position = start + 1 + i;
      if (position === collected.length && position < seq.numPromptTokens) collected.push(logprob);
    });
  }

  private finishReasonAfter(seq: Sequence, tokenId: number): FinishReason | null {
    const { params } = seq;
    if (seq.numOutputTokens >= params.minTokens) {
      if (params.stopTokenIds.includes(tokenId)) return 'stop';
      if (!params.ignoreEos && this.config.eosTokenIds.includes(tokenId)) return 'stop';
    }
    if (params.maxTokens !== null && seq.numOutputTokens >= params.maxTokens) return 'length';
    if (seq.numTokens >= this.config.maxModelLen) return 'length';
    return null;
  }

  private finish(seq: Sequence, reason: FinishReason): void {
    if (seq.status === 'running') {
      remove(this.running, seq);
      this.blockManager.free(seq);
    } else remove(this.waiting, seq);
    seq.status = 'finished';
    seq.finishReason = reason;
    this.bySeqId.delete(seq.seqId);
    this.byRequestId.delete(seq.requestId);
    this.pendingAborts.delete(seq);
  }

  private output(
    seq: Sequence,
    sampled: SampledToken | null,
    promptLogprobs: (PromptLogprob | null)[] | null,
  ): StepOutput {
    const wantLogprobs = seq.params.logprobs !== null;
    return {
      seq,
      newTokenIds: sampled ? [sampled.tokenId] : [],
      newLogprobs: sampled && wantLogprobs ? [sampled] : [],
      promptLogprobs,
      finished: seq.status === 'finished',
      finishReason: seq.finishReason,
    };
  }
}
