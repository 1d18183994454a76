/**
 * The channel from the engine loop to one request's consumer. The loop never waits on a
 * consumer: outputs queue up, and a slow consumer gets them merged into one on its next read.
 */
import type { PromptLogprob, SampledToken } from '../runner/runner.ts';

export interface RequestOutput {
  requestId: string;
  /** Tokens new since the previous output (an EOS or stop token included, as vLLM counts it). */
  newTokenIds: number[];
  /** Aligned with newTokenIds; empty when the request asked for no logprobs. */
  newLogprobs: SampledToken[];
  /** On the first output only, when asked for (echo): one per prompt token, index 0 null. */
  promptLogprobs?: (PromptLogprob | null)[];
  finished: boolean;
  finishReason: 'stop' | 'length' | 'abort' | null;
  numPromptTokens: number;
  /** Prompt tokens served from the prefix cache (usage.prompt_tokens_details.cached_tokens). */
  numCachedTokens: number;
  /** Output tokens so far, this output's included. */
  numOutputTokens: number;
}

export function mergeOutputs(outputs: RequestOutput[]): RequestOutput {
  const last = outputs[outputs.length - 1]!;
  const promptLogprobs = outputs.find((o) => o.promptLogprobs)?.promptLogprobs;
  return {
    ...last,
    newTokenIds: outputs.flatMap((o) => o.newTokenIds),
    newLogprobs: outputs.flatMap((o) => o.newLogprobs),
    ...(promptLogprobs ? { promptLogprobs } : {}),
  };
}

export class RequestStream {
  private queue: RequestOutput[] = [];
  private error: unknown = null;
  private ended = false;
  private wake: (() => void) | null = null;

  get isEnded(): boolean {
    return this.ended;
  }

  push(output: RequestOutput): void {
    if (this.ended) return;
    this.queue.push(output);
    if (output.finished) this.ended = true;
    this.notify();
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.error = error;
    this.ended = true;
    this.notify();
  }

  /** The next (merged) output; null once the stream has ended; throws the failure if it failed. */
  async next(): Promise<RequestOutput | null> {
    while (this.queue.length === 0) {
      if (this.error !== null) throw this.error;
      if (this.ended) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    const pending = this.queue;
    this.queue = [];
    return pending.length === 1 ? pending[0]! : mergeOutputs(pending);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
