/**
 * Stage 4: the request's shape and size (400 naming the param), then the content filters (400
 * `content_filter` naming the rule). Every refusal is counted by kind.
 */
import { HttpError } from '../../shared/errors.ts';
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';
import { checkRequest, contentFilterError } from '../filter.ts';
import { type Endpoint, validateRequest } from '../schema.ts';

export const validate =
  ({ config, filters, metrics }: EdgeServices, endpoint: Endpoint) =>
  async (_request: EdgeRequest, state: RequestState): Promise<undefined> => {
    state.endpoint = endpoint;
    try {
      state.body = validateRequest(endpoint, state.rawBody, config.input);
    } catch (err) {
      const code = err instanceof HttpError ? err.code : null;
      metrics.filtered.inc({ kind: code?.startsWith('too_many') ? code : 'schema' });
      throw err;
    }
    const hit = checkRequest(state.body, filters);
    if (hit) {
      metrics.filtered.inc({ kind: hit.kind });
      throw contentFilterError(hit);
    }
    return undefined;
  };
