/** POST /v1/chat/completions: the model's chat template, n choices, logprobs, streaming. */
import { badRequest } from '../../shared/errors.ts';
import type { ChatChoice, ChatTokenLogprob } from '../../shared/openai.ts';
import { parseChatRequest } from '../../shared/openai.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import type { SampledToken } from '../runner/runner.ts';
import {
  checkModel,
  newId,
  requestSamplingParams,
  type ServingContext,
  unixSeconds,
} from './context.ts';
import { generateChoice, mergeChoices, primeStream, UsageCounter } from './generation.ts';
import { type RequestContext, readJson, SseWriter, sendJson } from './http.ts';

const encoder = new TextEncoder();

function chatLogprobs(tokenizer: ModelTokenizer, entries: SampledToken[]): ChatTokenLogprob[] {
  const entry = (tokenId: number, logprob: number) => {
    const token = tokenizer.decode([tokenId]);
    return { token, logprob, bytes: [...encoder.encode(token)] };
  };
  return entries.map((e) => ({
    ...entry(e.tokenId, e.logprob),
    top_logprobs: (e.topLogprobs ?? []).map((t) => entry(t.tokenId, t.logprob)),
  }));
}

export async function handleChat(ctx: ServingContext, rc: RequestContext): Promise<void> {
  const body = parseChatRequest(await readJson(rc.req));
  checkModel(ctx, body.model);
  const params = requestSamplingParams(ctx, body, 'chat');
  if (!ctx.chatTemplate)
    throw badRequest(
      'This model has no chat template; use /v1/completions.',
      'messages',
      'no_chat_template',
    );
  const promptText = ctx.chatTemplate.render(body.messages, {
    addGenerationPrompt: true,
    bosToken: ctx.tokenizer.bosToken,
    eosToken: ctx.tokenizer.eosToken,
  });
  const promptTokenIds = ctx.tokenizer.encode(promptText, { addSpecialTokens: false });
  const id = newId('chatcmpl');
  const created = unixSeconds();
  const wantLogprobs = params.logprobs !== null;
  const streams = Array.from({ length: params.n }, (_, index) =>
    generateChoice({
      engine: ctx.engine,
      tokenizer: ctx.tokenizer,
      requestId: `${id}-${index}`,
      index,
      promptTokenIds,
      params: params.seed !== null ? { ...params, seed: params.seed + index } : params,
      signal: rc.signal,
      cacheSalt: body.cache_salt ?? null,
    }),
  );
  const usage = new UsageCounter(() => 0);
  const merged = mergeChoices(streams);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: ctx.modelName,
    choices,
    ...extra,
  });

  if (body.stream) {
    const deltas = await primeStream(merged);
    const sse = new SseWriter(rc);
    for (let index = 0; index < params.n; index++)
      await sse.send(
        chunk([
          { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
        ]),
      );
    for await (const d of deltas) {
      usage.add(d);
      if (!d.text && !d.finishReason && !(wantLogprobs && d.logprobs.length)) continue;
      await sse.send(
        chunk([
          {
            index: d.index,
            delta: d.text ? { content: d.text } : {},
            logprobs: wantLogprobs ? { content: chatLogprobs(ctx.tokenizer, d.logprobs) } : null,
            finish_reason: d.finishReason,
          },
        ]),
      );
    }
    if (body.stream_options?.include_usage) await sse.send(chunk([], { usage: usage.usage() }));
    sse.end();
    return;
  }

  const choices: ChatChoice[] = streams.map((_, index) => ({
    index,
    message: { role: 'assistant', content: '' },
    logprobs: wantLogprobs ? { content: [] } : null,
    finish_reason: null,
  }));
  for await (const d of merged) {
    usage.add(d);
    const c = choices[d.index]!;
    c.message.content += d.text;
    c.finish_reason = d.finishReason ?? c.finish_reason;
    c.logprobs?.content.push(...chatLogprobs(ctx.tokenizer, d.logprobs));
  }
  sendJson(rc, 200, {
    id,
    object: 'chat.completion',
    created,
    model: ctx.modelName,
    choices,
    usage: usage.usage(),
  });
}
