/**
 * Last stage: renders the reply (or the error Response from `catch`) with the headers this
 * request earned (x-request-id, rate limits, x-cache), and records metrics and one structured
 * log line when the body has ended. Logs carry no prompt or completion text.
 */
import type { HttpError } from '../../shared/errors.ts';
import { requestTexts } from '../../shared/openai.ts';
import type { EdgeServices, RequestState } from '../context.ts';
import { type BodyOutcome, EdgeReply, renderReply } from '../reply.ts';

export const respond =
  (services: EdgeServices) =>
  (reply: unknown, request: Request, state: RequestState): Response => {
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

function record(
  { metrics, log, now, config }: EdgeServices,
  request: Request,
  state: RequestState,
  status: number,
  outcome: BodyOutcome,
  error?: HttpError,
): void {
  const seconds = (now() - state.startedAt) / 1000;
  metrics.requests.inc({ route: state.route, status: String(status) });
  metrics.duration.observe(seconds, { route: state.route });
  log({
    level: status >= 500 || outcome === 'error' ? 'error' : 'info',
    msg: 'request',
    request_id: state.requestId,
    method: request.method,
    route: state.route,
    status,
    outcome,
    duration_ms: Math.round(seconds * 1000),
    sub: state.principal?.sub,
    cache: state.cacheResult,
    backend: state.backend,
    total_tokens: state.totalTokens,
    error: error?.message,
    // Opt-in only (logPrompts): prompts may hold personal data.
    prompt: config.logPrompts && state.body ? requestTexts(state.body) : undefined,
  });
}
