/**
 * What the pipeline stages share: the services built once per app (`EdgeServices`) and the
 * state of one request (`RequestState`), passed to every itty handler as its second argument.
 */
import type { Registry } from '../shared/metrics.ts';
import type { Authenticator, Principal } from './auth.ts';
import type { ResponseCache, SecondLevelCache } from './cache.ts';
import type { AbortLike } from './cancel.ts';
import type { EdgeConfig } from './config.ts';
import type { Filter } from './filter.ts';
import type { Sha256Hex } from './hash.ts';
import type { Masker } from './mask.ts';
import type { EdgeMetrics } from './metrics.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { BackendRouter } from './route.ts';
import type { CompletionBody, Endpoint } from './schema.ts';
import type { BackendPool, FetchUpstream } from './upstream.ts';

export type LogRecord = Record<string, unknown>;

/** Request headers as the app reads them (fetch's Headers is one). */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * A request as the app reads it: a fetch Request is one; the Node entry builds a lighter one
 * straight from Node's parsed message, with the body it has already read.
 */
export interface EdgeRequest {
  method: string;
  url: string;
  headers: HeaderReader;
  signal: AbortLike;
  body: ReadableStream<Uint8Array> | null;
  /** The whole body, already read by the runtime (at most the size limit plus one byte). */
  bodyBytes?: Uint8Array;
}

export interface EdgeDeps {
  /** fetch on Workers; an undici keep-alive Agent on Node. */
  fetchUpstream: FetchUpstream;
  now?: () => number;
  log?: (record: LogRecord) => void;
  /** The Cache API on Workers. */
  secondLevelCache?: SecondLevelCache;
  registry?: Registry;
  /** A faster sha256 than Web Crypto's, where the runtime has one (node:crypto). */
  sha256Hex?: Sha256Hex;
  /** Workers has no background timers: check backends' health from requests when due. */
  lazyHealthChecks?: boolean;
}

export interface EdgeServices {
  config: EdgeConfig;
  auth: Authenticator;
  limiter: RateLimiter;
  cache: ResponseCache;
  pool: BackendPool;
  router: BackendRouter;
  metrics: EdgeMetrics;
  filters: Filter[];
  maskers: Masker[];
  now: () => number;
  log: (record: LogRecord) => void;
  sha256Hex: Sha256Hex;
}

export type CacheResult = 'HIT' | 'MISS' | 'BYPASS';

export interface RequestState {
  requestId: string;
  startedAt: number;
  /** The route pattern, the `route` label of edge_requests_total. */
  route: string;
  /** Headers every response to this request carries (rate limits, x-cache). */
  headers: Record<string, string>;
  signal: AbortLike;
  /** Keeps the runtime alive for work after the response (Workers' ctx.waitUntil). */
  waitUntil: (work: Promise<unknown>) => void;
  endpoint?: Endpoint;
  rawBody?: unknown;
  body?: CompletionBody;
  principal?: Principal;
  cacheKey?: string;
  cacheResult?: CacheResult;
  backend?: string;
  /** The edge asked the backend for usage the client did not ask for: strip it again. */
  injectedUsage?: boolean;
  totalTokens?: number;
}
