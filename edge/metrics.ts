/** The edge's Prometheus metrics (names are part of the public contract). */
import { type Counter, type Histogram, Registry } from '../shared/metrics.ts';

export interface EdgeMetrics {
  registry: Registry;
  requests: Counter;
  duration: Histogram;
  cache: Counter;
  upstreamErrors: Counter;
  filtered: Counter;
  masked: Counter;
}

export function createEdgeMetrics(registry = new Registry()): EdgeMetrics {
  return {
    registry,
    requests: registry.counter('edge_requests_total', 'Requests answered, by route and status.'),
    duration: registry.histogram(
      'edge_request_duration_seconds',
      'Time from request to the end of the response body.',
    ),
    cache: registry.counter('edge_cache_total', 'Response cache lookups, by result.'),
    upstreamErrors: registry.counter(
      'edge_upstream_errors_total',
      'Backend connect failures, timeouts and mid-response failures.',
    ),
    filtered: registry.counter(
      'edge_filtered_total',
      'Requests rejected by input checks, by kind.',
    ),
    masked: registry.counter('edge_masked_total', 'Spans masked in responses, by kind.'),
  };
}

/** Adds a masker's per-kind counts. */
export function countMasked(metrics: EdgeMetrics, counts: Record<string, number>): void {
  for (const [kind, n] of Object.entries(counts)) if (n > 0) metrics.masked.inc({ kind }, n);
}
