/**
 * The Cloudflare Workers entry. Config comes from `env` bindings ([vars], secrets; EDGE_CONFIG as
 * a JSON string). The app is built once per isolate and reused; upstream calls use the runtime's
 * fetch; health checks run lazily from requests; the Cache API backs the in-memory cache.
 */
import { createEdgeApp, type EdgeApp } from './app.ts';
import { cacheApiStore } from './cache.ts';
import { configFromEnv, type EdgeEnv } from './config.ts';
import { fetchUpstreamVia } from './upstream.ts';

export interface WorkerEnv extends EdgeEnv {
  /** The EDGE_CONFIG document itself (JSON text), not a path. */
  EDGE_CONFIG?: string;
}

interface ExecutionContext {
  waitUntil(work: Promise<unknown>): void;
}

let built: { env: WorkerEnv; app: EdgeApp } | undefined;

function appFor(env: WorkerEnv): EdgeApp {
  if (built?.env === env) return built.app;
  const config = configFromEnv(env, env.EDGE_CONFIG);
  const cacheStorage = (globalThis as { caches?: { default?: Cache } }).caches;
  const app = createEdgeApp(config, {
    fetchUpstream: fetchUpstreamVia(fetch),
    secondLevelCache: cacheStorage?.default ? cacheApiStore(cacheStorage.default) : undefined,
    lazyHealthChecks: true,
  });
  built = { env, app };
  return app;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    return appFor(env).fetch(request, { waitUntil: (work) => ctx.waitUntil(work) });
  },
};
