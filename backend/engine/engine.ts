/**
 * The engine loop: schedule → execute → update, one step at a time, on one async loop. The HTTP
 * server only calls `generate`/`abort`/`stats`/`drain`; it never touches scheduler state. Runners
 * are async (native async work or a worker thread), and the loop yields to the event loop between
 * steps, so HTTP I/O keeps flowing while the model runs.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { badRequest, HttpError, serviceUnavailable } from '../../shared/errors.ts';
import type { Registry } from '../../shared/metrics.ts';
import type { Runner, RunnerOutput, SchedulerOutput } from '../runner/runner.ts';
import { BlockManager } from './block-manager.ts';
import { EngineMetrics } from './engine-metrics.ts';
import { type RequestOutput, RequestStream } from './request-stream.ts';
import type { SamplingParams } from './sampling-params.ts';
import { Scheduler, type StepOutput } from './scheduler.ts';
import { type FinishReason, Sequence } from './sequence.ts';

export type { RequestOutput } from './request-stream.ts';

export interface EngineConfig {
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  /** Longest prompt + output; must fit the runner's KV pool. */
  maxModelLen: number;
  maxQueueLen: number;
  eosTokenIds: readonly number[];
  enablePrefixCaching?: boolean;
  /** When set, prompt token ids are checked against it (they may come straight from a client). */
  vocabSize?: number;
  /** A step running longer than this makes `healthy()` false. Default 60. */
  stepTimeoutSeconds?: number;
  metrics?: Registry;
  /** Seconds, monotonic. Default performance.now() / 1000. */
  now?: () => number;
  /** Runner failures and loop crashes, with the original error (the client sees a generic 500). */
  onError?: (error: unknown, context: string) => void;
}

export interface EngineRequest {
  requestId: string;
  promptTokenIds: number[];
  params: SamplingParams;
  /** Overrides params.priority. */
  priority?: number;
  signal?: AbortSignal;
  wantPromptLogprobs?: boolean;
  /** Prefix-cache namespace: only requests with the same salt share cached blocks. */
  cacheSalt?: string | null;
}

export interface EngineStats {
  numRunning: number;
  numWaiting: number;
  /** 0..1 */
  kvCacheUsage: number;
  numPreemptions: number;
  /** In tokens. */
  prefixCacheQueries: number;
  prefixCacheHits: number;
  numBlocks: number;
  numFreeBlocks: number;
  blockSize: number;
  numSteps: number;
  draining: boolean;
}

const DEFAULT_STEP_TIMEOUT_SECONDS = 60;
const QUEUE_FULL_RETRY_AFTER_SECONDS = 1;

const engineFailure = () =>
  new HttpError(500, 'server_error', 'engine_error', 'The model failed while generating.');

export class LLMEngine {
  readonly blockManager: BlockManager;
  readonly scheduler: Scheduler;
  private readonly streams = new Map<string, { seq: Sequence; stream: RequestStream }>();
  private readonly metrics: EngineMetrics | null;
  private readonly now: () => number;
  private readonly loop: Promise<void>;
  private nextSeqId = 0;
  private numSteps = 0;
  private wakeup: (() => void) | null = null;
  /** Set by notify(); an idle() that follows returns at once, so no wakeup is lost between checks. */
  private woken = false;
  private stepStartedAt: number | null = null;
  /** The last step's outputs, delivered once the next step is running (see step()). */
  private deferred: StepOutput[] = [];
  private loopError: unknown = null;
  private closed = false;
  private draining = false;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly runner: Runner,
    private readonly config: EngineConfig,
  ) {
    const { numBlocks, blockSize } = runner.kvCache;
    if (config.maxModelLen > numBlocks * blockSize)
      throw new Error(
        `maxModelLen ${config.maxModelLen} exceeds the KV cache (${numBlocks} blocks × ${blockSize} = ${numBlocks * blockSize} tokens); lower --max-model-len or give the KV cache more memory`,
      );
    this.now = config.now ?? (() => performance.now() / 1000);
    this.blockManager = new BlockManager({
      numBlocks,
      blockSize,
      enablePrefixCaching: config.enablePrefixCaching ?? true,
    });
    this.scheduler = new Scheduler(config, this.blockManager);
    this.metrics = config.metrics
      ? new EngineMetrics(config.metrics, {
          numRunning: () => this.scheduler.numRunning,
          numWaiting: () => this.scheduler.numWaiting,
          kvCacheUsage: () => this.blockManager.usage,
        })
      : null;
    this.loop = this.run();
  }

  /**
   * Streams a request's outputs. Validation and queueing happen on the first `next()`: it rejects
   * with a 400 (empty prompt, prompt + max_tokens over the context) or a 503 with retry-after
   * (queue full, draining, closed). Leaving the iteration early aborts the request.
   */
  async *generate(req: EngineRequest): AsyncGenerator<RequestOutput, void, undefined> {
    const seq = this.admit(req);
    const stream = new RequestStream();
    this.streams.set(req.requestId, { seq, stream });
    const onAbort = () => this.abort(req.requestId);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) onAbort();
    try {
      for (let out = await stream.next(); out !== null; out = await stream.next()) yield out;
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
      if (!stream.isEnded) this.abort(req.requestId);
    }
  }

  /**
   * Ends a request; its blocks are freed at the next step and its stream ends with this finish
   * reason. 'stop' is for the server having matched a stop string. False if it is not in flight.
   */
  abort(requestId: string, reason: FinishReason = 'abort'): boolean {
    const found = this.scheduler.abort(requestId, reason);
    if (found) this.notify();
    return found;
  }

  stats(): EngineStats {
    const bm = this.blockManager;
    return {
      numRunning: this.scheduler.numRunning,
      numWaiting: this.scheduler.numWaiting,
      kvCacheUsage: bm.usage,
      numPreemptions: this.scheduler.numPreemptions,
      prefixCacheQueries: bm.prefixCacheQueries,
      prefixCacheHits: bm.prefixCacheHits,
      numBlocks: bm.numBlocks,
      numFreeBlocks: bm.numFreeBlocks,
      blockSize: bm.blockSize,
      numSteps: this.numSteps,
      draining: this.draining,
    };
  }

  /** Stops admitting (new requests get 503 'draining'); resolves once every request has ended. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.streams.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** False once the loop has died, or while one step has run past the step timeout (hung runner). */
  healthy(): boolean {
    if (this.closed || this.loopError !== null) return false;
    const timeout = this.config.stepTimeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
    return this.stepStartedAt === null || this.now() - this.stepStartedAt <= timeout;
  }

  /** Aborts everything in flight, waits for the current step, then closes the runner. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flushDeferred();
    for (const seq of this.scheduler.abortAll()) this.deliver([this.finalOutput(seq)]);
    this.notify();
    await this.loop;
    await this.runner.close();
  }

  private admit(req: EngineRequest): Sequence {
    if (this.closed || this.loopError !== null)
      throw serviceUnavailable('The engine is not running.', 1, 'engine_unavailable');
    if (this.draining)
      throw serviceUnavailable('The server is draining; retry elsewhere.', 1, 'draining');
    this.validate(req);
    if (this.streams.has(req.requestId))
      throw badRequest(
        `Request id '${req.requestId}' is already in flight.`,
        null,
        'duplicate_request_id',
      );
    const seq = new Sequence({
      requestId: req.requestId,
      seqId: this.nextSeqId++,
      promptTokenIds: [...req.promptTokenIds],
      params: req.params,
      arrivalTime: this.now(),
      priority: req.priority,
      wantPromptLogprobs: req.wantPromptLogprobs,
      cacheSalt: req.cacheSalt,
    });
    if (!this.scheduler.add(seq))
      throw serviceUnavailable(
        'The request queue is full; retry later.',
        QUEUE_FULL_RETRY_AFTER_SECONDS,
        'overloaded',
      );
    this.notify();
    return seq;
  }

  private validate(req: EngineRequest): void {
    const { maxModelLen, vocabSize } = this.config;
    const numPrompt = req.promptTokenIds.length;
    if (numPrompt === 0) throw badRequest('The prompt is empty.', 'prompt');
    const bad = req.promptTokenIds.find(
      (t) => !Number.isSafeInteger(t) || t < 0 || (vocabSize !== undefined && t >= vocabSize),
    );
    if (bad !== undefined) throw badRequest(`Token id ${bad} is out of the vocabulary.`, 'prompt');
    const { maxTokens } = req.params;
    if (maxTokens === null && numPrompt >= maxModelLen)
      throw badRequest(
        `This model's maximum context length is ${maxModelLen} tokens, but the prompt has ${numPrompt} tokens, leaving no room for a completion.`,
        'prompt',
      );
    if (maxTokens !== null && numPrompt + maxTokens > maxModelLen)
      throw badRequest(
        `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${numPrompt + maxTokens} tokens (${numPrompt} in the prompt, ${maxTokens} for max_tokens). Please reduce the prompt or max_tokens.`,
        'max_tokens',
      );
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed) {
        if (!this.scheduler.hasUnfinished()) await this.idle();
        else if (!(await this.step())) await this.idle();
        await nextMacrotask();
      }
    } catch (error) {
      this.loopError = error;
      this.stepStartedAt = null;
      this.deferred = [];
      this.config.onError?.(error, 'engine loop');
      this.scheduler.abortAll();
      for (const { stream } of this.streams.values()) stream.fail(engineFailure());
      this.streams.clear();
      this.settleDrain();
    }
  }

  /**
   * One step; false when there was nothing to run. A step's outputs are handed to their streams
   * only once the next step has been started, so the consumers' work (detokenizing, writing SSE)
   * runs while the runner computes instead of between steps. Stream order is unchanged: a step's
   * tokens, then anything that ends the stream.
   */
  private async step(): Promise<boolean> {
    const { batch, aborted } = this.scheduler.schedule();
    if (batch.sequences.length === 0) {
      this.flushDeferred();
      this.deliver(aborted);
      return false;
    }
    this.numSteps++;
    this.markScheduled(batch);
    this.stepStartedAt = this.now();
    let execution: Promise<RunnerOutput>;
    try {
      execution = this.runner.execute(batch);
    } catch (error) {
      execution = Promise.reject(error);
    }
    this.flushDeferred();
    this.deliver(aborted);
    let outputs: StepOutput[];
    try {
      // A runner that breaks its contract (wrong result count, no token) fails this batch only.
      outputs = this.scheduler.update(batch, await execution);
    } catch (error) {
      this.stepStartedAt = null;
      this.failBatch(batch, error);
      return true;
    }
    this.stepStartedAt = null;
    if (this.scheduler.hasUnfinished()) this.deferred = outputs;
    else this.deliver(outputs);
    this.metrics?.sync({
      prefixCacheQueries: this.blockManager.prefixCacheQueries,
      prefixCacheHits: this.blockManager.prefixCacheHits,
      numPreemptions: this.scheduler.numPreemptions,
    });
    return true;
  }

  private markScheduled(batch: SchedulerOutput): void {
    const now = this.now();
    for (const { seqId } of batch.sequences) {
      const entry = this.scheduler.getBySeqId(seqId);
      if (!entry || entry.timings.firstScheduled !== null) continue;
      entry.timings.firstScheduled = now;
      this.metrics?.onFirstScheduled(now - entry.timings.arrival);
    }
  }

  private failBatch(batch: SchedulerOutput, error: unknown): void {
    this.config.onError?.(error, `runner.execute (step ${batch.step})`);
    for (const seq of this.scheduler.failBatch(batch)) {
      this.streams.get(seq.requestId)?.stream.fail(engineFailure());
      this.streams.delete(seq.requestId);
    }
    this.settleDrain();
  }

  private flushDeferred(): void {
    if (this.deferred.length === 0) return;
    const outputs = this.deferred;
    this.deferred = [];
    this.deliver(outputs);
  }

  private deliver(outputs: StepOutput[]): void {
    const now = this.now();
    for (const out of outputs) {
      const { seq } = out;
      const entry = this.streams.get(seq.requestId);
      if (!entry) continue;
      this.recordTimings(seq, out.newTokenIds.length, now);
      entry.stream.push(this.toRequestOutput(out));
      if (out.finished) {
        this.metrics?.onFinished(out.finishReason!, now - seq.timings.arrival);
        this.streams.delete(seq.requestId);
      }
    }
    this.settleDrain();
  }

  private recordTimings(seq: Sequence, numNewTokens: number, now: number): void {
    if (numNewTokens === 0) return;
    const { timings } = seq;
    if (timings.firstToken === null) {
      timings.firstToken = now;
      this.metrics?.onFirstToken(now - timings.arrival, seq.numPromptTokens);
    }
    const interToken = timings.lastToken === null ? null : now - timings.lastToken;
    this.metrics?.onTokens(numNewTokens, interToken);
    timings.lastToken = now;
  }

  private toRequestOutput(out: StepOutput): RequestOutput {
    const { seq } = out;
    return {
      requestId: seq.requestId,
      newTokenIds: out.newTokenIds,
      newLogprobs: out.newLogprobs,
      ...(out.promptLogprobs ? { promptLogprobs: out.promptLogprobs } : {}),
      finished: out.finished,
      finishReason: out.finishReason,
      numPromptTokens: seq.numPromptTokens,
      numCachedTokens: seq.numCachedTokens,
      numOutputTokens: seq.numOutputTokens,
    };
  }

  private finalOutput(seq: Sequence): StepOutput {
    return {
      seq,
      newTokenIds: [],
      newLogprobs: [],
      promptLogprobs: null,
      finished: true,
      finishReason: seq.finishReason,
    };
  }

  private settleDrain(): void {
    if (!this.draining || this.streams.size > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private idle(): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wakeup = resolve;
    });
  }

  private notify(): void {
    const wakeup = this.wakeup;
    this.wakeup = null;
    this.woken = wakeup === null;
    wakeup?.();
  }
}
