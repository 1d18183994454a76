/**
 * Post-stage 1: masks sensitive spans in what the model wrote, in JSON answers and in streams.
 * A stream gets one StreamMasker per choice index, so text is held back only as long as a match
 * could still be under way, and a choice's held-back tail is flushed with its finish_reason (or
 * in one extra chunk if the stream ends without one).
 */
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';
import { replaceStringValue } from '../json-splice.ts';
import { maskText, StreamMasker } from '../mask.ts';
import { countMasked, type EdgeMetrics } from '../metrics.ts';
import { EdgeReply, type SseItem, type SseStage } from '../reply.ts';

type Json = Record<string, unknown>;
type Choice = {
  index?: number;
  delta?: Json;
  message?: Json;
  text?: unknown;
  finish_reason?: unknown;
};

export const maskOutput =
  ({ maskers, metrics }: EdgeServices) =>
  (reply: unknown, _request: EdgeRequest, state: RequestState): unknown => {
    if (!(reply instanceof EdgeReply) || reply.fromCache || reply.status !== 200) return reply;
    if (!state.endpoint || maskers.length === 0) return reply;
    const body = reply.body;
    if (body.type === 'json') maskJson(body.json, maskers, metrics);
    if (body.type === 'sse') body.stages.push(maskStream(maskers, metrics));
    return reply;
  };

function maskJson(json: unknown, maskers: EdgeServices['maskers'], metrics: EdgeMetrics): void {
  const choices = (json as { choices?: Choice[] })?.choices;
  if (!Array.isArray(choices)) return;
  const mask = (text: string) => {
    const { text: masked, counts } = maskText(text, maskers);
    countMasked(metrics, counts);
    return masked;
  };
  for (const choice of choices) {
    if (typeof choice.message?.content === 'string')
      choice.message.content = mask(choice.message.content);
    if (typeof choice.text === 'string') choice.text = mask(choice.text);
  }
}

function maskStream(maskers: EdgeServices['maskers'], metrics: EdgeMetrics): SseStage {
  const perChoice = new Map<number, StreamMasker>();
  let template: Json | undefined;
  const finish = (index: number): string => {
    const masker = perChoice.get(index);
    if (!masker) return '';
    perChoice.delete(index);
    const tail = masker.end();
    countMasked(metrics, masker.counts);
    return tail;
  };
  const flushAll = (out: SseItem[]) => {
    for (const index of [...perChoice.keys()]) {
      const tail = finish(index);
      if (tail && template) out.push({ json: tailChunk(template, index, tail) });
    }
  };
  return {
    batch(batch) {
      const out: SseItem[] = [];
      for (const item of batch) {
        if ('data' in item) {
          if (item.data === '[DONE]') flushAll(out);
        } else {
          const choices = item.json.choices as Choice[] | undefined;
          if (Array.isArray(choices) && choices.length > 0) {
            template = item.json;
            for (const choice of choices) maskChoice(item, choice, perChoice, maskers, finish);
          }
        }
        out.push(item);
      }
      return out;
    },
    end() {
      const rest: SseItem[] = [];
      flushAll(rest);
      return rest;
    },
  };
}

function maskChoice(
  item: { json: Json; raw?: string },
  choice: Choice,
  perChoice: Map<number, StreamMasker>,
  maskers: EdgeServices['maskers'],
  finish: (index: number) => string,
): void {
  const index = typeof choice.index === 'number' ? choice.index : 0;
  const isChat = choice.delta !== undefined;
  const text = isChat ? choice.delta!.content : choice.text;
  let out = '';
  if (typeof text === 'string' && text) {
    let masker = perChoice.get(index);
    if (!masker) {
      masker = new StreamMasker(maskers);
      perChoice.set(index, masker);
    }
    out = masker.push(text);
  }
  if (choice.finish_reason != null) out += finish(index);
  if (out === text || (typeof text !== 'string' && !out)) return;
  if (isChat) choice.delta!.content = out;
  else choice.text = out;
  // The frame the backend sent, with only this value changed; re-encoded when that is ambiguous.
  const key = isChat ? 'content' : 'text';
  if (item.raw !== undefined)
    item.raw = typeof text === 'string' ? replaceStringValue(item.raw, key, text, out) : undefined;
}

/** A chunk carrying a choice's held-back text, shaped like the stream's other chunks. */
function tailChunk(template: Json, index: number, text: string): Json {
  const isChat = template.object === 'chat.completion.chunk';
  const choice = isChat
    ? { index, delta: { content: text }, logprobs: null, finish_reason: null }
    : { index, text, logprobs: null, finish_reason: null };
  return {
    id: template.id,
    object: template.object,
    created: template.created,
    model: template.model,
    choices: [choice],
  };
}
