/**
 * `GET /v1/dashboard` (auth required): one snapshot for the live dashboard — the edge's own
 * metrics and backend states, plus each backend's `/metrics` scraped now and parsed. A backend
 * that cannot be scraped is reported with its error instead of failing the whole snapshot.
 */
import type { EdgeServices } from '../context.ts';
import { type BackendState, describeNetworkError, type FetchUpstream } from '../upstream.ts';
import { type MetricFamilies, parsePrometheusText } from './prometheus-text.ts';

export interface BackendSnapshot extends BackendState {
  metrics: MetricFamilies | null;
  scrapeError: string | null;
}

export interface DashboardSnapshot {
  /** Milliseconds since the epoch, by the edge's clock. */
  time: number;
  healthy: boolean;
  edge: MetricFamilies;
  backends: BackendSnapshot[];
}

/** Callers within this long of a scrape share it, so polling cannot multiply backend load. */
export const SNAPSHOT_REUSE_MS = 500;

export function dashboardRoute(services: EdgeServices, fetchUpstream: FetchUpstream) {
  let latest: { at: number; snapshot: Promise<DashboardSnapshot> } | undefined;
  return async (): Promise<Response> => {
    const now = services.now();
    if (!latest || now - latest.at >= SNAPSHOT_REUSE_MS)
      latest = { at: now, snapshot: takeSnapshot(services, fetchUpstream) };
    return new Response(JSON.stringify(await latest.snapshot), {
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    });
  };
}

export async function takeSnapshot(
  { pool, metrics, config, now }: EdgeServices,
  fetchUpstream: FetchUpstream,
): Promise<DashboardSnapshot> {
  const timeoutMs = config.routing.healthCheckTimeoutMs;
  const apiKey = config.routing.apiKey;
  const backends = await Promise.all(
    pool.states().map((state) => scrapeBackend(state, fetchUpstream, timeoutMs, apiKey)),
  );
  return {
    time: now(),
    healthy: pool.anyHealthy(),
    edge: parsePrometheusText(metrics.registry.render()),
    backends,
  };
}

async function scrapeBackend(
  state: BackendState,
  fetchUpstream: FetchUpstream,
  timeoutMs: number,
  apiKey: string | undefined,
): Promise<BackendSnapshot> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetchUpstream(`${state.url}/metrics`, {
      method: 'GET',
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      signal: controller.signal,
    });
    const text = await res.text();
    if (res.status !== 200)
      return { ...state, metrics: null, scrapeError: `metrics answered ${res.status}` };
    return { ...state, metrics: parsePrometheusText(text), scrapeError: null };
  } catch (err) {
    const reason = controller.signal.aborted ? 'metrics timed out' : describeNetworkError(err);
    return { ...state, metrics: null, scrapeError: reason };
  } finally {
    clearTimeout(timer);
  }
}
