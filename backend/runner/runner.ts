/**
 * The runner contract: the engine hands a runner one plain `SchedulerOutput` per step and gets
 * sampled token ids back. Runners never see engine objects (sequences, queues, the block manager);
 * everything they need is in these typed arrays, so the same batch can cross a worker-thread or
 * N-API boundary unchanged.
 */

/** Per-sequence sampling settings, already validated (see engine/sampling-params.ts). */
export interface SamplingSpec {
  /** 0 means greedy. */
  temperature: number;
  /** 1 disables. */
  topP: number;
  /** 0 disables. */
  topK: number;
  /** 0 disables. */
  minP: number;
  presencePenalty: number;
  frequencyPenalty: number;
  /** 1 disables; applies to prompt and output tokens, as in vLLM. */
  repetitionPenalty: number;
  /** null: unseeded. Seeded sampling is a pure function of (seed, outputIndex, logits). */
  seed: number | null;
  /** null: no logprobs; 0: only the chosen token's; N: also the top N alternatives. */
  logprobs: number | null;
}

export interface ScheduledSequence {
  seqId: number;
  /** Tokens whose KV this step computes (a prefill chunk, or the one decode token). */
  tokenIds: Int32Array;
  /** Absolute position of tokenIds[0] (= tokens already in the KV cache). */
  startPosition: number;
  /** KV slot (blockId * blockSize + offset) for each token in tokenIds. */
  slotMapping: Int32Array;
  /** Every block of the sequence, covering positions [0, startPosition + tokenIds.length). */
  blockTable: Int32Array;
  /** Sample a next token from the last position (false for a prefill chunk that is not the last). */
  sample: boolean;
  sampling: SamplingSpec;
  /** The prompt (for the repetition penalty). */
  promptTokenIds: Int32Array;
  /** Tokens generated so far (for penalties); its length is the seeded RNG's step counter. */
  outputTokenIds: Int32Array;
  /** Token ids forced to -inf before sampling (EOS/stop ids while below min_tokens). */
  bannedTokenIds: Int32Array | null;
  /**
   * For `echo` + `logprobs`: the prompt tokens at positions startPosition+1 … that this chunk's
   * logits predict (clipped to the prompt). The runner returns their logprobs in order.
   */
  promptLogprobTargets: Int32Array | null;
}

export interface SchedulerOutput {
  /** Monotonic step number (for logs and tests). */
  step: number;
  sequences: ScheduledSequence[];
  /** Sum of tokenIds lengths. */
  numBatchedTokens: number;
}

export interface TokenLogprob {
  tokenId: number;
  logprob: number;
}

/**
 * The sampled token and its logprob. A runner may leave `logprob` NaN when the sequence asked for
 * no logprobs (`sampling.logprobs` null): nothing reads it then.
 */
export interface SampledToken extends TokenLogprob {
  /** Present when sampling.logprobs > 0: the top alternatives, most likely first. */
  topLogprobs?: TokenLogprob[];
}

export interface PromptLogprob extends TokenLogprob {
  topLogprobs?: TokenLogprob[];
}

export interface RunnerOutput {
  /** One entry per scheduled sequence, in order; null where `sample` was false. */
  sampled: (SampledToken | null)[];
  /** One entry per scheduled sequence; null where promptLogprobTargets was null. */
  promptLogprobs: (PromptLogprob[] | null)[];
}

export interface KvCacheInfo {
  numBlocks: number;
  blockSize: number;
  /** Bytes of KV memory the pool holds (all layers, K and V). */
  bytes: number;
}

export interface Runner {
  /** 'reference' | 'cpu' | 'cuda' | … */
  readonly name: string;
  readonly kvCache: KvCacheInfo;
  execute(batch: SchedulerOutput): Promise<RunnerOutput>;
  /** Logits of the last `execute` for each sampled sequence (tests and reference comparisons only). */
  lastLogits?(): Float32Array[];
  close(): Promise<void>;
}
