/**
 * What the benchmark asks a server before the run: which model it serves, whether
 * /v1/completions takes token-id prompts, and what it says about itself on /version (ours reports
 * device and engine settings; peers may have no such route, which is fine).
 */
import type { Dispatcher } from 'undici';
import { endpointPath } from './client.ts';

interface JsonResponse {
  status: number;
  json: unknown;
}

async function call(
  dispatcher: Dispatcher,
  baseUrl: string,
  method: 'GET' | 'POST',
  route: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<JsonResponse> {
  const res = await dispatcher.request({
    method,
    path: endpointPath(baseUrl, route),
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  try {
    return { status: res.statusCode, json: JSON.parse(text) };
  } catch {
    return { status: res.statusCode, json: text };
  }
}

const authHeaders = (apiKey: string | null): Record<string, string> =>
  apiKey ? { authorization: `Bearer ${apiKey}` } : {};

/** The first model id of GET /v1/models. */
export async function firstModel(
  dispatcher: Dispatcher,
  baseUrl: string,
  apiKey: string | null,
): Promise<string> {
  const res = await call(dispatcher, baseUrl, 'GET', '/v1/models', authHeaders(apiKey));
  const id = (res.json as { data?: { id?: string }[] })?.data?.[0]?.id;
  if (res.status !== 200 || typeof id !== 'string')
    throw new Error(`GET /v1/models answered ${res.status}; pass --model`);
  return id;
}

/** True when the server answers a one-token completion whose prompt is an array of token ids. */
export async function acceptsTokenPrompts(
  dispatcher: Dispatcher,
  baseUrl: string,
  apiKey: string | null,
  model: string,
): Promise<boolean> {
  const body = { model, prompt: [1, 2, 3, 4], max_tokens: 1, temperature: 0 };
  const res = await call(dispatcher, baseUrl, 'POST', '/v1/completions', authHeaders(apiKey), body);
  return res.status === 200;
}

/** GET /version's JSON, or null when the server has no such route. */
export async function serverVersion(
  dispatcher: Dispatcher,
  baseUrl: string,
  apiKey: string | null,
): Promise<Record<string, unknown> | null> {
  try {
    const res = await call(dispatcher, baseUrl, 'GET', '/version', authHeaders(apiKey));
    return res.status === 200 && res.json && typeof res.json === 'object'
      ? (res.json as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
