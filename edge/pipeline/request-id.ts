/** Stage 1: every request gets an id, the client's own if it sent a sane one. */
import type { EdgeRequest, RequestState } from '../context.ts';

const SANE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function assignRequestId(request: EdgeRequest, state: RequestState): undefined {
  const sent = request.headers.get('x-request-id');
  state.requestId = sent && SANE_ID.test(sent) ? sent : crypto.randomUUID();
  state.headers['x-request-id'] = state.requestId;
  return undefined;
}
