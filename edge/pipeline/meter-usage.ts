/**
 * Post-stage 2: debits the tokens a request used (the response's `usage`) from the caller's
 * token bucket once it has ended, and removes the usage the edge asked for on the client's
 * behalf but the client did not request.
 */
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';
import { EdgeReply, type SseItem, type SseStage } from '../reply.ts';

type Usage = { total_tokens?: unknown };

export const meterUsage =
  ({ limiter }: EdgeServices) =>
  (reply: unknown, _request: EdgeRequest, state: RequestState): unknown => {
    if (!(reply instanceof EdgeReply) || reply.fromCache || !state.principal) return reply;
    const { sub, limits } = state.principal;
    const charge = (usage: unknown) => {
      const total = (usage as Usage | undefined)?.total_tokens;
      if (typeof total !== 'number') return;
      state.totalTokens = total;
      limiter.charge(sub, limits, total);
    };
    if (reply.body.type === 'json') charge((reply.body.json as { usage?: unknown })?.usage);
    if (reply.body.type === 'sse')
      reply.body.stages.push(meterStream(charge, !!state.injectedUsage));
    return reply;
  };

function meterStream(charge: (usage: unknown) => void, strip: boolean): SseStage {
  const keep = (item: SseItem) => {
    if (!('json' in item && 'usage' in item.json)) return true;
    if (item.json.usage) charge(item.json.usage);
    if (!strip) return true;
    const choices = item.json.choices;
    if (Array.isArray(choices) && choices.length === 0) return false;
    delete item.json.usage;
    delete item.raw;
    return true;
  };
  return { batch: (batch) => batch.filter(keep) };
}
