/**
 * Upstream calls on Node: undici's fetch over one keep-alive Agent (a connection pool per
 * backend origin), with the connect timeout enforced at the socket. The router enforces
 * first-byte and idle timeouts itself, identically on both runtimes.
 */
import { Agent, fetch as undiciFetch } from 'undici';
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
  const fetchUpstream: FetchUpstream = (url, init) =>
    undiciFetch(url, {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher: agent,
    }) as unknown as Promise<Response>;
  return { fetchUpstream, close: () => agent.close() };
}
