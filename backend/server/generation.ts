/**
 * One choice of one request, from engine tokens to text deltas: incremental detokenizing, stop
 * strings (the engine works on ids, so the server ends a request on a matched string), and the
 * token-level details (ids, logprobs) the response formats need.
 */
import type { LLMEngine, RequestOutput } from '../engine/engine.ts';
import type { SamplingParams } from '../engine/sampling-params.ts';
import { IncrementalDetokenizer, StopChecker } from '../model/detokenizer.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import type { PromptLogprob, SampledToken } from '../runner/runner.ts';

export type FinishReason = 'stop' | 'length' | 'abort';

export interface ChoiceDelta {
  index: number;
  text: string;
  tokenIds: number[];
  logprobs: SampledToken[];
  /** Set on the first delta when prompt logprobs were asked for (echo). */
  promptLogprobs?: (PromptLogprob | null)[];
  finishReason: FinishReason | null;
  numPromptTokens: number;
  numCachedTokens: number;
  numOutputTokens: number;
}

export interface ChoiceRequest {
  engine: LLMEngine;
  tokenizer: ModelTokenizer;
  requestId: string;
  index: number;
  promptTokenIds: number[];
  params: SamplingParams;
  signal: AbortSignal;
  wantPromptLogprobs?: boolean;
  cacheSalt?: string | null;
}

/** Streams one choice. The engine request is aborted if the consumer stops early. */
export async function* generateChoice(req: ChoiceRequest): AsyncGenerator<ChoiceDelta> {
  const { engine, params } = req;
  const detokenizer = new IncrementalDetokenizer(req.tokenizer, {
    skipSpecialTokens: true,
    promptTokenIds: req.promptTokenIds,
  });
  const stop = params.stop.length ? new StopChecker(params.stop) : null;
  const outputs = engine.generate({
    requestId: req.requestId,
    promptTokenIds: req.promptTokenIds,
    params,
    signal: req.signal,
    wantPromptLogprobs: req.wantPromptLogprobs ?? false,
    cacheSalt: req.cacheSalt ?? null,
  });
  for await (const out of outputs) {
    let text = '';
    for (const id of out.newTokenIds) text += detokenizer.push(id);
    if (out.finished) text += detokenizer.flush();
    const delta = toDelta(req.index, out, stop ? stop.push(text).text : text);
    if (stop?.stopped) {
      engine.abort(req.requestId, 'stop');
      yield { ...delta, finishReason: 'stop' };
      return;
    }
    if (out.finished && stop) delta.text += stop.flush();
    yield delta;
  }
}

function toDelta(index: number, out: RequestOutput, text: string): ChoiceDelta {
  const delta: ChoiceDelta = {
    index,
    text,
    tokenIds: out.newTokenIds,
    logprobs: out.newLogprobs,
    finishReason: out.finished ? out.finishReason : null,
    numPromptTokens: out.numPromptTokens,
    numCachedTokens: out.numCachedTokens,
    numOutputTokens: out.numOutputTokens,
  };
  if (out.promptLogprobs) delta.promptLogprobs = out.promptLogprobs;
  return delta;
}

/** Interleaves several choice streams, yielding each delta as soon as it is ready. */
export async function* mergeChoices(
  streams: AsyncGenerator<ChoiceDelta>[],
): AsyncGenerator<ChoiceDelta> {
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<ChoiceDelta> }>>();
  const pull = (i: number) =>
    pending.set(
      i,
      streams[i]!.next().then((r) => ({ i, r })),
    );
  for (let i = 0; i < streams.length; i++) pull(i);
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) pending.delete(i);
      else {
        pull(i);
        yield r.value;
      }
    }
  } finally {
    // An early exit (client gone, error in one choice) ends the others and frees their blocks.
    await Promise.allSettled(streams.map((s) => s.return(undefined)));
  }
}

/**
 * Waits for a stream's first delta before anything is written, so a request the engine refuses
 * (400, or 503 + retry-after when its queue is full) gets that status instead of a 200 whose SSE
 * body carries the error; the edge retries a 503 on another backend only before the first byte.
 */
export async function primeStream(
  stream: AsyncGenerator<ChoiceDelta>,
): Promise<AsyncGenerator<ChoiceDelta>> {
  const first = await stream.next();
  return (async function* () {
    if (!first.done) yield first.value;
    yield* stream;
  })();
}

/** Usage totals over choices: the prompt counts once per distinct prompt, as OpenAI counts it. */
export class UsageCounter {
  private readonly prompts = new Map<number, { prompt: number; cached: number }>();
  private readonly outputs = new Map<number, number>();

  constructor(private readonly promptOf: (choiceIndex: number) => number) {}

  add(delta: ChoiceDelta): void {
    this.prompts.set(this.promptOf(delta.index), {
      prompt: delta.numPromptTokens,
      cached: delta.numCachedTokens,
    });
    this.outputs.set(delta.index, delta.numOutputTokens);
  }

  usage() {
    let prompt = 0;
    let cached = 0;
    for (const p of this.prompts.values()) {
      prompt += p.prompt;
      cached += p.cached;
    }
    let completion = 0;
    for (const n of this.outputs.values()) completion += n;
    return {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached },
    };
  }
}
