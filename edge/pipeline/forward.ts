/**
 * Stage 7: sends the request to a backend (see route.ts for which, and for retries), at the path
 * of the route it came in on (a trailing slash the client added is not passed on), and parses
 * its answer into an EdgeReply. Unless `routing.sharedPrefixCache`, the request is salted with its
 * caller (`cache_salt`) so callers never share the backends' prefix cache. Streamed requests
 * always ask the backend for usage, since the token rate limit needs it; meter-usage.ts strips it
 * again when the client did not ask.
 */
import { LRUCache } from 'lru-cache';
import { readUtf8 } from '../../shared/utf8.ts';
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';
import { appendFields } from '../json-splice.ts';
import { EdgeReply, isJson, isSse, parseSse } from '../reply.ts';
import { affinityKey, type Forwarded } from '../route.ts';

const SALT_PAIR_MEMO_CHARS = 512;

export const forwardCompletion = ({ config, router, sha256Hex }: EdgeServices, path: string) => {
  // A caller sends the same (sub, salt) pair request after request: hashed once, not every time
  // (pairs of a sane length: a client's salt is its own text, of any size).
  const salts = new LRUCache<string, string>({ max: 10_000 });
  return async (_request: EdgeRequest, state: RequestState): Promise<EdgeReply> => {
    const body = state.body as unknown as Record<string, unknown>;
    // What the edge adds to the client's request.
    const added: Record<string, unknown> = {};
    if (!config.routing.sharedPrefixCache && state.principal) {
      // One prefix-cache namespace per caller; a client's own salt subdivides its namespace but
      // can never reach into another caller's (the pair is encoded unambiguously, then hashed).
      const pair = JSON.stringify([state.principal.sub, body.cache_salt ?? null]);
      let salt = salts.get(pair);
      if (salt === undefined) {
        salt = await sha256Hex(pair);
        if (pair.length <= SALT_PAIR_MEMO_CHARS) salts.set(pair, salt);
      }
      added.cache_salt = salt;
    }
    const options = (body.stream_options ?? {}) as Record<string, unknown>;
    if (body.stream === true && options.include_usage !== true) {
      added.stream_options = { ...options, include_usage: true };
      state.injectedUsage = true;
    }
    // Usually the client sent neither field: its body is encoded as it is and they follow.
    const replaces = Object.keys(added).some((key) => Object.hasOwn(body, key));
    const salt = added.cache_salt ?? body.cache_salt;
    const forwarded = await router.send({
      path,
      method: 'POST',
      headers: upstreamHeaders(config.routing.apiKey, state, true),
      body: replaces
        ? JSON.stringify({ ...body, ...added })
        : appendFields(JSON.stringify(body), added),
      affinityKey: affinityKey(
        body,
        typeof salt === 'string' ? salt : '',
        config.routing.affinityPrefixChars,
      ),
      signal: state.signal,
    });
    state.backend = forwarded.backend.url;
    return toReply(forwarded);
  };
};

export const forwardGet =
  ({ config, router }: EdgeServices, path: string) =>
  async (_request: EdgeRequest, state: RequestState): Promise<EdgeReply> => {
    const forwarded = await router.send({
      path,
      method: 'GET',
      headers: upstreamHeaders(config.routing.apiKey, state, false),
      signal: state.signal,
    });
    state.backend = forwarded.backend.url;
    return toReply(forwarded);
  };

function upstreamHeaders(
  apiKey: string | undefined,
  state: RequestState,
  hasBody: boolean,
): Record<string, string> {
  const headers: Record<string, string> = { 'x-request-id': state.requestId };
  if (hasBody) headers['content-type'] = 'application/json';
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return headers;
}

/** Headers worth passing from a backend to the client. */
const PASSED_HEADERS = ['retry-after'];

async function toReply(forwarded: Forwarded): Promise<EdgeReply> {
  const { response, chunks } = forwarded;
  const headers: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = response.headers.get(name);
    if (value) headers[name] = value;
  }
  const contentType = response.headers.get('content-type');
  if (isSse(contentType))
    return new EdgeReply(
      response.status,
      headers,
      { type: 'sse', events: parseSse(chunks), stages: [] },
      false,
      forwarded.abort,
    );
  const text = await readUtf8(chunks);
  if (isJson(contentType)) {
    try {
      return new EdgeReply(response.status, headers, { type: 'json', json: JSON.parse(text) });
    } catch {
      // fall through: pass the text on as it came
    }
  }
  if (contentType) headers['content-type'] = contentType;
  return new EdgeReply(response.status, headers, { type: 'text', text });
}
