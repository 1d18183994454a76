/** Stage 5: per-`sub` request and token buckets; 429 with retry-after when either is empty. */
import { rateLimited } from '../../shared/errors.ts';
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';

export const limitRate =
  ({ limiter }: EdgeServices) =>
  async (_request: EdgeRequest, state: RequestState): Promise<undefined> => {
    const { sub, limits } = state.principal!;
    const decision = limiter.take(sub, limits);
    Object.assign(state.headers, decision.headers);
    if (!decision.allowed) throw rateLimited(decision.reason, decision.retryAfterSeconds);
    return undefined;
  };
