/** Stage 3: names the caller (JWT or API key); 401 otherwise. */
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';

export const authenticate =
  ({ auth }: EdgeServices) =>
  async (request: EdgeRequest, state: RequestState): Promise<undefined> => {
    state.principal = await auth.authenticate(request.headers);
    return undefined;
  };
