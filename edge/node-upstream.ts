/**
 * Upstream calls on Node: undici's request API over one keep-alive Agent (a connection pool per
 * backend origin), with the connect timeout enforced at the socket. Plain Node streams rather
 * than fetch's web streams: per SSE chunk they cost a fraction. The router enforces first-byte
 * and idle timeouts itself, identically on both runtimes.
 */
import { Agent, type Dispatcher } from 'undici';
import type { RoutingConfig } from './config.ts';
import type { FetchUpstream } from './upstream.ts';

export interface NodeUpstream {
  fetchUpstream: FetchUpstream;
  close(): Promise<void>;
}

export function createNodeUpstream(routing: RoutingConfig): NodeUpstream {
  const agent = new Agent({
    connections: 1024,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect: { timeout: routing.connectTimeoutMs },
    // Ours are enforced in route.ts; undici's own would race them.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const fetchUpstream: FetchUpstream = async (url, init) => {
    const { origin, pathname, search } = new URL(url);
    const res = await agent.request({
      origin,
      path: pathname + search,
      method: init.method as Dispatcher.HttpMethod,
      headers: init.headers,
      body: init.body,
      signal: init.signal,
    });
    const headers = res.headers;
    return {
      status: res.statusCode,
      headers: {
        get(name) {
          const value = headers[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
        },
      },
      body: res.body,
      text: () => res.body.text(),
      cancel() {
        // Destroying an unfinished undici body emits an abort error: expected here, so swallowed.
        res.body.on('error', () => {});
        res.body.destroy();
      },
    };
  };
  return { fetchUpstream, close: () => agent.close() };
}
