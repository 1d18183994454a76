/** POST /v1/completions: text or token-id prompts, batches, n, echo, logprobs, streaming. */
import { badRequest } from '../../shared/errors.ts';
import type {
  CompletionChoice,
  CompletionLogprobs,
  CompletionRequest,
} from '../../shared/openai.ts';
import { parseCompletionRequest } from '../../shared/openai.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import type { PromptLogprob, TokenLogprob } from '../runner/runner.ts';
import {
  checkModel,
  newId,
  requestSamplingParams,
  type ServingContext,
  unixSeconds,
} from './context.ts';
import {
  type ChoiceDelta,
  generateChoice,
  mergeChoices,
  primeStream,
  UsageCounter,
} from './generation.ts';
import { type RequestContext, readJson, SseWriter, sendJson } from './http.ts';

interface Prompt {
  tokenIds: number[];
  text: string;
}

function toPrompts(req: CompletionRequest, tokenizer: ModelTokenizer): Prompt[] {
  const p = req.prompt;
  const list: (string | number[])[] =
    typeof p === 'string'
      ? [p]
      : typeof p[0] === 'number'
        ? [p as number[]]
        : (p as (string | number[])[]);
  return list.map((item) =>
    typeof item === 'string'
      ? { text: item, tokenIds: tokenizer.encode(item, { addSpecialTokens: true }) }
      : { text: tokenizer.decode(item), tokenIds: item },
  );
}

/** Builds OpenAI's completion `logprobs` object incrementally, tracking text offsets. */
class LogprobsBuilder {
  private offset: number;
  constructor(
    private readonly tokenizer: ModelTokenizer,
    startOffset: number,
  ) {
    this.offset = startOffset;
  }
  build(entries: (PromptLogprob | null)[], ids: number[]): CompletionLogprobs {
    const out: CompletionLogprobs = {
      tokens: [],
      token_logprobs: [],
      top_logprobs: [],
      text_offset: [],
    };
    ids.forEach((id, i) => {
      const token = this.tokenizer.decode([id]);
      const e = entries[i] ?? null;
      out.tokens.push(token);
      out.token_logprobs.push(e ? e.logprob : null);
      out.top_logprobs.push(
        e?.topLogprobs ? this.top(e.topLogprobs) : e ? { [token]: e.logprob } : null,
      );
      out.text_offset.push(this.offset);
      // Special tokens (BOS, …) are not part of the text, so they take no width in it.
      if (!this.tokenizer.isSpecial(id)) this.offset += token.length;
    });
    return out;
  }
  private top(list: TokenLogprob[]): Record<string, number> {
    const record: Record<string, number> = {};
    for (const t of list) record[this.tokenizer.decode([t.tokenId])] ??= t.logprob;
    return record;
  }
}

export async function handleCompletions(ctx: ServingContext, rc: RequestContext): Promise<void> {
  const body = parseCompletionRequest(await readJson(rc.req));
  checkModel(ctx, body.model);
  const params = requestSamplingParams(ctx, body, 'completion');
  const echo = body.echo === true;
  if (echo && params.logprobs !== null && body.stream)
    throw badRequest("'echo' with 'logprobs' is not supported when streaming.", 'echo');
  const prompts = toPrompts(body, ctx.tokenizer);
  const id = newId('cmpl');
  const created = unixSeconds();
  const wantLogprobs = params.logprobs !== null;
  const streams = prompts.flatMap((prompt, p) =>
    Array.from({ length: params.n }, (_, j) =>
      generateChoice({
        engine: ctx.engine,
        tokenizer: ctx.tokenizer,
        requestId: `${id}-${p * params.n + j}`,
        index: p * params.n + j,
        promptTokenIds: prompt.tokenIds,
        params: params.seed !== null ? { ...params, seed: params.seed + j } : params,
        signal: rc.signal,
        wantPromptLogprobs: echo && wantLogprobs,
        cacheSalt: body.cache_salt ?? null,
      }),
    ),
  );
  const promptOf = (index: number) => Math.floor(index / params.n);
  const usage = new UsageCounter(promptOf);
  const builders = streams.map(
    (_, i) => new LogprobsBuilder(ctx.tokenizer, echo ? prompts[promptOf(i)]!.text.length : 0),
  );
  const logprobsOf = (d: ChoiceDelta): CompletionLogprobs | null => {
    if (!wantLogprobs) return null;
    const b = builders[d.index]!;
    const generated = b.build(d.logprobs, d.tokenIds);
    if (!d.promptLogprobs) return generated;
    // Echo: the prompt's own tokens come first, the first one without a logprob.
    const promptIds = prompts[promptOf(d.index)]!.tokenIds;
    const head = new LogprobsBuilder(ctx.tokenizer, 0).build(d.promptLogprobs, promptIds);
    return {
      tokens: [...head.tokens, ...generated.tokens],
      token_logprobs: [...head.token_logprobs, ...generated.token_logprobs],
      top_logprobs: [...head.top_logprobs, ...generated.top_logprobs],
      text_offset: [...head.text_offset, ...generated.text_offset],
    };
  };
  const merged = mergeChoices(streams);

  if (body.stream) {
    const deltas = await primeStream(merged);
    const sse = new SseWriter(rc);
    const echoed = new Set<number>();
    for await (const d of deltas) {
      usage.add(d);
      let text = d.text;
      if (echo && !echoed.has(d.index)) {
        echoed.add(d.index);
        text = prompts[promptOf(d.index)]!.text + text;
      }
      if (!text && !d.finishReason) continue;
      await sse.send({
        id,
        object: 'text_completion',
        created,
        model: ctx.modelName,
        choices: [{ index: d.index, text, logprobs: logprobsOf(d), finish_reason: d.finishReason }],
      });
    }
    if (body.stream_options?.include_usage)
      await sse.send({
        id,
        object: 'text_completion',
        created,
        model: ctx.modelName,
        choices: [],
        usage: usage.usage(),
      });
    sse.end();
    return;
  }

  const choices: CompletionChoice[] = streams.map((_, index) => ({
    index,
    text: echo ? prompts[promptOf(index)]!.text : '',
    logprobs: null,
    finish_reason: null,
  }));
  for await (const d of merged) {
    usage.add(d);
    const c = choices[d.index]!;
    c.text += d.text;
    c.finish_reason = d.finishReason ?? c.finish_reason;
    const lp = logprobsOf(d);
    if (lp) c.logprobs = c.logprobs ? concatLogprobs(c.logprobs, lp) : lp;
  }
  sendJson(rc, 200, {
    id,
    object: 'text_completion',
    created,
    model: ctx.modelName,
    choices,
    usage: usage.usage(),
  });
}

function concatLogprobs(a: CompletionLogprobs, b: CompletionLogprobs): CompletionLogprobs {
  return {
    tokens: a.tokens.concat(b.tokens),
    token_logprobs: a.token_logprobs.concat(b.token_logprobs),
    top_logprobs: a.top_logprobs.concat(b.top_logprobs),
    text_offset: a.text_offset.concat(b.text_offset),
  };
}
