/**
 * Post-stage 3: stores a 200 answer (already masked) under the request's cache key. A stream is
 * recorded as it passes and stored before its last byte is released, so a repeat sent the moment
 * the response ends is a HIT; a stream that fails or is cut short is not stored.
 */
import type { CachedReply } from '../cache.ts';
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';
import { EdgeReply, itemData, type SseItem, type SseStage } from '../reply.ts';

export const cacheStore =
  ({ cache }: EdgeServices) =>
  (reply: unknown, _request: EdgeRequest, state: RequestState): unknown => {
    if (!(reply instanceof EdgeReply) || reply.fromCache || reply.status !== 200) return reply;
    const key = state.cacheKey;
    if (!key) return reply;
    const store = (entry: CachedReply) => {
      const pending = cache.set(key, entry);
      if (pending) state.waitUntil(pending);
    };
    const headers = { ...reply.headers };
    if (reply.body.type === 'json') {
      const text = JSON.stringify(reply.body.json);
      store({ headers, body: { type: 'json', text }, sizeBytes: text.length });
    }
    if (reply.body.type === 'sse') reply.body.stages.push(recordStream(headers, store));
    return reply;
  };

function recordStream(
  headers: Record<string, string>,
  store: (entry: CachedReply) => void,
): SseStage {
  const items: SseItem[] = [];
  let sizeBytes = 0;
  return {
    batch(batch) {
      let done = false;
      for (const item of batch) {
        // Kept as its text: a snapshot later stages cannot change, and replay needs no re-encoding.
        const data = itemData(item);
        sizeBytes += data.length;
        items.push({ data });
        if (data === '[DONE]') done = true;
      }
      // Store before the client sees the end of the stream.
      if (done) store({ headers, body: { type: 'sse', items }, sizeBytes });
      return batch;
    },
  };
}
