/**
 * The edge app: one itty-router pipeline shared by the Workers and Node entries and the tests.
 * Request stages, in order: request id → body limit → auth → validate/input filter → rate limit
 * → cache lookup → forward. Response stages, in order: output mask → usage metering → cache
 * store → respond (headers, metrics, log). Errors thrown anywhere become OpenAI JSON in `catch`.
 */
import { Router } from 'itty-router';
import { errorResponse, HttpError, notFound } from '../shared/errors.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../shared/metrics.ts';
import { Authenticator } from './auth.ts';
import { ResponseCache } from './cache.ts';
import type { EdgeConfig } from './config.ts';
import type { EdgeDeps, EdgeRequest, EdgeServices, LogRecord, RequestState } from './context.ts';
import { buildFilters } from './filter.ts';
import { webCryptoSha256Hex } from './hash.ts';
import { builtinMaskers, type Masker, regexMasker } from './mask.ts';
import { createEdgeMetrics } from './metrics.ts';
import { authenticate } from './pipeline/authenticate.ts';
import { cacheLookup } from './pipeline/cache-lookup.ts';
import { cacheStore } from './pipeline/cache-store.ts';
import { forwardCompletion, forwardGet } from './pipeline/forward.ts';
import { limitRate } from './pipeline/limit-rate.ts';
import { maskOutput } from './pipeline/mask-output.ts';
import { meterUsage } from './pipeline/meter-usage.ts';
import { readBody } from './pipeline/read-body.ts';
import { assignRequestId } from './pipeline/request-id.ts';
import { respond } from './pipeline/respond.ts';
import { validate } from './pipeline/validate.ts';
import { RateLimiter } from './rate-limit.ts';
import { RenderedReply, toResponse } from './reply.ts';
import { BackendRouter } from './route.ts';
import type { Endpoint } from './schema.ts';
import { mountPlayground } from './static.ts';
import { BackendPool } from './upstream.ts';

export interface RuntimeContext {
  waitUntil?: (work: Promise<unknown>) => void;
}

export interface EdgeApp {
  fetch(request: EdgeRequest, runtime?: RuntimeContext): Promise<Response>;
  /** As `fetch`, but a pipeline reply comes back rendered, not as a Response (Node writes it). */
  handle(request: EdgeRequest, runtime?: RuntimeContext): Promise<RenderedReply | Response>;
  services: EdgeServices;
  /** Starts background health checks (Node; Workers checks lazily per request). */
  startHealthChecks(): void;
  close(): void;
}

const jsonLog = (record: LogRecord) =>
  console.log(JSON.stringify({ time: new Date().toISOString(), ...record }));

export function createServices(config: EdgeConfig, deps: EdgeDeps): EdgeServices {
  const now = deps.now ?? Date.now;
  const metrics = createEdgeMetrics(deps.registry);
  const pool = new BackendPool(config.routing, deps.fetchUpstream, now);
  const maskers: Masker[] = [
    ...builtinsFor(config.maskers.builtins),
    ...config.maskers.custom.map((spec) => regexMasker(spec as Parameters<typeof regexMasker>[0])),
  ];
  return {
    config,
    auth: new Authenticator(config.auth, config.limits, now, deps.sha256Hex),
    limiter: new RateLimiter(now),
    cache: new ResponseCache(config.cache, deps.secondLevelCache, deps.sha256Hex),
    pool,
    router: new BackendRouter(pool, config.routing, deps.fetchUpstream, now, () =>
      metrics.upstreamErrors.inc(),
    ),
    metrics,
    filters: buildFilters(config.filters as Parameters<typeof buildFilters>[0]),
    maskers,
    now,
    log: deps.log ?? jsonLog,
    sha256Hex: deps.sha256Hex ?? webCryptoSha256Hex,
  };
}

const builtinsFor = (builtins: boolean | string[]): Masker[] =>
  builtins === true ? builtinMaskers() : builtins === false ? [] : builtinMaskers(builtins);

/** The API routes and the methods each takes: any other method there is a 405, not a 404. */
const API_METHODS: Record<string, string[]> = {
  '/v1/chat/completions': ['POST'],
  '/v1/completions': ['POST'],
  '/v1/models': ['GET'],
  '/v1/dashboard': ['GET'],
  '/health': ['GET'],
  '/metrics': ['GET'],
};

const methodNotAllowed = (method: string, allow: string[]) =>
  new HttpError(
    405,
    'invalid_request_error',
    'method_not_allowed',
    `${method} is not allowed here; use ${allow.join(' or ')}.`,
    null,
    { allow: allow.join(', ') },
  );

// itty passes handlers the request and our state; its own types want its IRequest.
// biome-ignore lint/suspicious/noExplicitAny: the boundary with itty's loosely typed handlers
type Handler = (...args: any[]) => unknown;

export function createEdgeApp(config: EdgeConfig, deps: EdgeDeps): EdgeApp {
  const s = createServices(config, deps);
  const router = Router({
    before: [assignRequestId as Handler],
    catch: (err: unknown, _request: EdgeRequest, state: RequestState) => {
      if (!(err instanceof HttpError))
        s.log({
          level: 'error',
          msg: 'unhandled',
          request_id: state.requestId,
          error: String(err),
        });
      return errorResponse(err);
    },
    finally: [maskOutput(s), meterUsage(s), cacheStore(s), respond(s)] as Handler[],
  });
  const completion = (path: string, endpoint: Endpoint) =>
    router.post(
      path,
      readBody(s),
      authenticate(s),
      validate(s, endpoint),
      limitRate(s),
      cacheLookup(s),
      forwardCompletion(s, path),
    );
  completion('/v1/chat/completions', 'chat');
  completion('/v1/completions', 'completions');
  router.get('/v1/models', authenticate(s) as Handler, forwardGet(s, '/v1/models') as Handler);
  router.get('/health', () => healthResponse(s));
  router.get('/metrics', () => metricsResponse(s));
  mountPlayground(router, s, deps.fetchUpstream);
  for (const [path, allow] of Object.entries(API_METHODS))
    router.all(path, (request: EdgeRequest) => {
      throw methodNotAllowed(request.method, allow);
    });
  router.all('*', (request: EdgeRequest) => {
    throw notFound(`No route for ${request.method} ${new URL(request.url).pathname}.`);
  });

  const handle: EdgeApp['handle'] = async (request, runtime = {}) => {
    const waitUntil = runtime.waitUntil ?? ((work) => void work.catch(() => {}));
    if (deps.lazyHealthChecks) {
      const due = s.pool.checkIfDue();
      if (due) waitUntil(due);
    }
    const state: RequestState = {
      requestId: '',
      startedAt: s.now(),
      route: 'unmatched',
      headers: {},
      signal: request.signal,
      waitUntil,
    };
    try {
      return (await router.fetch(request, state)) as RenderedReply | Response;
    } catch (err) {
      return errorResponse(err, { 'x-request-id': state.requestId || crypto.randomUUID() });
    }
  };
  return {
    services: s,
    startHealthChecks: () => s.pool.start(),
    close: () => s.pool.stop(),
    handle,
    async fetch(request, runtime) {
      const reply = await handle(request, runtime);
      return reply instanceof RenderedReply ? toResponse(reply) : reply;
    },
  };
}

function healthResponse({ pool }: EdgeServices): Response {
  const healthy = pool.anyHealthy();
  return new Response(
    JSON.stringify({ status: healthy ? 'ok' : 'unavailable', backends: pool.states() }),
    { status: healthy ? 200 : 503, headers: { 'content-type': 'application/json' } },
  );
}

function metricsResponse({ metrics }: EdgeServices): Response {
  return new Response(metrics.registry.render(), {
    headers: { 'content-type': PROMETHEUS_CONTENT_TYPE },
  });
}
