/** Stage 6: answers from the response cache when it can; a HIT never reaches a backend. */
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';
import { EdgeReply, type SseItem } from '../reply.ts';

export const cacheLookup =
  ({ cache, metrics }: EdgeServices) =>
  async (request: EdgeRequest, state: RequestState): Promise<EdgeReply | undefined> => {
    const body = state.body as unknown as Record<string, unknown>;
    const decision = await cache.decide(
      state.endpoint ?? state.route,
      body,
      request.headers,
      state.principal!.sub,
    );
    if ('bypass' in decision) {
      state.cacheResult = 'BYPASS';
      metrics.cache.inc({ result: 'bypass' });
      return undefined;
    }
    state.cacheKey = decision.key;
    const hit = await cache.get(decision.key);
    state.cacheResult = hit ? 'HIT' : 'MISS';
    metrics.cache.inc({ result: hit ? 'hit' : 'miss' });
    if (!hit) return undefined;
    if (hit.body.type === 'json')
      return new EdgeReply(
        200,
        Object.assign({}, hit.headers, { 'content-type': 'application/json' }),
        { type: 'text', text: hit.body.text },
        true,
      );
    return new EdgeReply(
      200,
      { ...hit.headers },
      { type: 'sse', events: replay(hit.body.items), stages: [] },
      true,
    );
  };

async function* replay(items: SseItem[]): AsyncGenerator<SseItem[]> {
  yield items;
}
