/**
 * Last stage: renders the reply (or the error Response from `catch`) with the headers this
 * request earned (x-request-id, rate limits, x-cache); metrics and the log line follow when the
 * body has ended (record.ts). A pipeline reply stays a RenderedReply (the Node entry writes it
 * without building a fetch Response); app.ts turns it into one for `fetch`.
 */
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';
import { EdgeReply, type RenderedReply, renderReply } from '../reply.ts';
import { record } from './record.ts';

export const respond =
  (services: EdgeServices) =>
  (reply: unknown, request: EdgeRequest, state: RequestState): RenderedReply | Response => {
    state.route = (request as { route?: string }).route ?? 'unmatched';
    const headers = { ...state.headers };
    if (state.cacheResult) headers['x-cache'] = state.cacheResult;
    if (reply instanceof EdgeReply) {
      const status = reply.status;
      return renderReply(reply, headers, (outcome, error) =>
        record(services, request, state, status, outcome, error),
      );
    }
    const response = reply instanceof Response ? reply : new Response(null, { status: 500 });
    const merged = new Headers(response.headers);
    for (const [name, value] of Object.entries(headers)) merged.set(name, value);
    record(services, request, state, response.status, 'complete');
    return new Response(response.body, { status: response.status, headers: merged });
  };
