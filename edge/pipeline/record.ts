/**
 * Metrics and one structured log line per request, once its body has ended (for a stream, at
 * its last byte). Logs carry no prompt or completion text unless `logPrompts` is on.
 */
import type { HttpError } from '../../shared/errors.ts';
import { requestTexts } from '../../shared/openai.ts';
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';
import type { BodyOutcome } from '../reply.ts';

export function record(
  { metrics, log, now, config }: EdgeServices,
  request: EdgeRequest,
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
