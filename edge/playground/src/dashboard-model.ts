/**
 * Turns the recent `/v1/dashboard` snapshots into the numbers the dashboard shows. Rates use the
 * last few seconds; latency percentiles use the last minute, or all time when the last minute
 * saw no requests (so an idle stack still shows what it did).
 */
import type { DashboardSnapshot } from '../dashboard-route.ts';
import {
  bucketIncrease,
  buckets,
  type MetricFamilies,
  observations,
  quantile,
  rate,
  sum,
} from './metrics-math.ts';

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  /** Observations behind them. */
  count: number;
  window: 'last minute' | 'all time';
}

export interface BackendSummary {
  url: string;
  healthy: boolean;
  circuit: string;
  outstanding: number;
  lastError: string | null;
  scrapeError: string | null;
  running: number | null;
  waiting: number | null;
  kvCacheUsage: number | null;
  prefixHitRate: number | null;
}

export interface DashboardSummary {
  time: number;
  healthy: boolean;
  requestsPerSecond: number | null;
  tokensPerSecond: number | null;
  ttft: Percentiles;
  itl: Percentiles;
  running: number | null;
  waiting: number | null;
  kvCacheUsage: number | null;
  prefixHitRate: number | null;
  edgeCacheHitRate: number | null;
  backends: BackendSummary[];
  /** Requests/s and tokens/s between consecutive snapshots, oldest first. */
  requestsSeries: number[];
  tokensSeries: number[];
}

export const RATE_WINDOW_MS = 5_000;
export const LATENCY_WINDOW_MS = 60_000;

/** API traffic only: the dashboard's own polling and the page's assets are not load. */
const isApiRoute = (labels: Record<string, string>) =>
  (labels.route ?? '').startsWith('/v1/') && labels.route !== '/v1/dashboard';

const backendMetrics = (s: DashboardSnapshot) => s.backends.map((b) => b.metrics);
const requests = (s: DashboardSnapshot) => sum(s.edge, 'edge_requests_total', isApiRoute);
const generated = (s: DashboardSnapshot) =>
  sumOver(backendMetrics(s), 'edgeserve:generation_tokens_total');

function sumOver(families: (MetricFamilies | null)[], name: string): number | null {
  const values = families.map((f) => sum(f, name)).filter((v): v is number => v !== null);
  return values.length ? values.reduce((a, b) => a + b, 0) : null;
}

/** The oldest snapshot no older than `windowMs` before the newest. */
function since(history: DashboardSnapshot[], windowMs: number): DashboardSnapshot {
  const newest = history.at(-1)!;
  return history.find((s) => newest.time - s.time <= windowMs) ?? newest;
}

function rateOver(history: DashboardSnapshot[], read: (s: DashboardSnapshot) => number | null) {
  const newest = history.at(-1)!;
  const before = since(history, RATE_WINDOW_MS);
  if (before === newest) return null;
  return rate(read(newest), read(before), (newest.time - before.time) / 1000);
}

function latency(history: DashboardSnapshot[], name: string): Percentiles {
  const all = (s: DashboardSnapshot) => {
    const merged = new Map<number, number>();
    for (const f of backendMetrics(s))
      for (const [le, n] of buckets(f, name)) merged.set(le, (merged.get(le) ?? 0) + n);
    return merged;
  };
  const lifetime = all(history.at(-1)!);
  const before = since(history, LATENCY_WINDOW_MS);
  const recent = before === history.at(-1) ? lifetime : bucketIncrease(lifetime, all(before));
  const useRecent = observations(recent) > 0 && history[0] !== before;
  const chosen = useRecent ? recent : lifetime;
  return {
    p50: quantile(0.5, chosen),
    p90: quantile(0.9, chosen),
    p99: quantile(0.99, chosen),
    count: observations(chosen),
    window: useRecent ? 'last minute' : 'all time',
  };
}

function ratio(hits: number | null, total: number | null): number | null {
  return hits === null || !total ? null : hits / total;
}

function summarizeBackend(b: DashboardSnapshot['backends'][number]): BackendSummary {
  const m = b.metrics;
  return {
    url: b.url,
    healthy: b.healthy,
    circuit: b.circuit,
    outstanding: b.outstanding,
    lastError: b.lastError,
    scrapeError: b.scrapeError,
    running: sum(m, 'edgeserve:num_requests_running'),
    waiting: sum(m, 'edgeserve:num_requests_waiting'),
    kvCacheUsage: sum(m, 'edgeserve:kv_cache_usage_perc'),
    prefixHitRate: ratio(
      sum(m, 'edgeserve:prefix_cache_hits_total'),
      sum(m, 'edgeserve:prefix_cache_queries_total'),
    ),
  };
}

function series(history: DashboardSnapshot[], read: (s: DashboardSnapshot) => number | null) {
  const out: number[] = [];
  for (let i = 1; i < history.length; i++) {
    const seconds = (history[i]!.time - history[i - 1]!.time) / 1000;
    out.push(rate(read(history[i]!), read(history[i - 1]!), seconds) ?? 0);
  }
  return out;
}

export function summarize(history: DashboardSnapshot[]): DashboardSummary {
  const newest = history.at(-1)!;
  const metrics = backendMetrics(newest);
  const backends = newest.backends.map(summarizeBackend);
  const usages = backends.map((b) => b.kvCacheUsage).filter((v): v is number => v !== null);
  const cacheHits = sum(newest.edge, 'edge_cache_total', (l) => l.result === 'hit');
  const cacheLookups = sum(newest.edge, 'edge_cache_total', (l) => l.result !== 'bypass');
  return {
    time: newest.time,
    healthy: newest.healthy,
    requestsPerSecond: rateOver(history, requests),
    tokensPerSecond: rateOver(history, generated),
    ttft: latency(history, 'edgeserve:time_to_first_token_seconds'),
    itl: latency(history, 'edgeserve:inter_token_latency_seconds'),
    running: sumOver(metrics, 'edgeserve:num_requests_running'),
    waiting: sumOver(metrics, 'edgeserve:num_requests_waiting'),
    kvCacheUsage: usages.length ? usages.reduce((a, b) => a + b, 0) / usages.length : null,
    prefixHitRate: ratio(
      sumOver(metrics, 'edgeserve:prefix_cache_hits_total'),
      sumOver(metrics, 'edgeserve:prefix_cache_queries_total'),
    ),
    edgeCacheHitRate: ratio(cacheHits, cacheLookups),
    backends,
    requestsSeries: series(history, requests),
    tokensSeries: series(history, generated),
  };
}
