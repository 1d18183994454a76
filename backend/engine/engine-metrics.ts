/**
 * The engine's Prometheus series, named as vLLM names them under `edgeserve:` so dashboards
 * built for vLLM read ours. Gauges are computed at scrape time; counters that mirror cumulative
 * engine stats (prefix cache, preemptions) are advanced by their delta after each step.
 */
import type { Counter, Histogram, Registry } from '../../shared/metrics.ts';
import type { FinishReason } from './sequence.ts';

export interface EngineGaugeSources {
  numRunning: () => number;
  numWaiting: () => number;
  kvCacheUsage: () => number;
}

export interface CumulativeEngineStats {
  prefixCacheQueries: number;
  prefixCacheHits: number;
  numPreemptions: number;
}

const REQUEST_LATENCY_BUCKETS_SECONDS = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];

export class EngineMetrics {
  private readonly prefixCacheQueries: Counter;
  private readonly prefixCacheHits: Counter;
  private readonly numPreemptions: Counter;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly requestSuccess: Counter;
  private readonly timeToFirstToken: Histogram;
  private readonly interTokenLatency: Histogram;
  private readonly e2eRequestLatency: Histogram;
  private readonly requestQueueTime: Histogram;
  private reported: CumulativeEngineStats = {
    prefixCacheQueries: 0,
    prefixCacheHits: 0,
    numPreemptions: 0,
  };

  constructor(registry: Registry, sources: EngineGaugeSources) {
    const r = registry;
    r.gauge('edgeserve:num_requests_running', 'Requests in the running batch.', sources.numRunning);
    r.gauge(
      'edgeserve:num_requests_waiting',
      'Requests waiting to be scheduled.',
      sources.numWaiting,
    );
    r.gauge(
      'edgeserve:kv_cache_usage_perc',
      'Fraction of KV-cache blocks in use (0..1).',
      sources.kvCacheUsage,
    );
    this.prefixCacheQueries = r.counter(
      'edgeserve:prefix_cache_queries_total',
      'Prefix-cache lookups, in tokens.',
    );
    this.prefixCacheHits = r.counter(
      'edgeserve:prefix_cache_hits_total',
      'Prefix-cache hits, in tokens.',
    );
    this.numPreemptions = r.counter(
      'edgeserve:num_preemptions_total',
      'Running requests preempted.',
    );
    this.promptTokens = r.counter(
      'edgeserve:prompt_tokens_total',
      'Prompt tokens of requests that started generating.',
    );
    this.generationTokens = r.counter('edgeserve:generation_tokens_total', 'Tokens generated.');
    this.requestSuccess = r.counter(
      'edgeserve:request_success_total',
      'Requests finished, by finished_reason.',
    );
    this.timeToFirstToken = r.histogram(
      'edgeserve:time_to_first_token_seconds',
      'Arrival to first token.',
    );
    this.interTokenLatency = r.histogram(
      'edgeserve:inter_token_latency_seconds',
      'Time between tokens of a request.',
    );
    this.e2eRequestLatency = r.histogram(
      'edgeserve:e2e_request_latency_seconds',
      'Arrival to finish.',
      REQUEST_LATENCY_BUCKETS_SECONDS,
    );
    this.requestQueueTime = r.histogram(
      'edgeserve:request_queue_time_seconds',
      'Arrival to first scheduled.',
      REQUEST_LATENCY_BUCKETS_SECONDS,
    );
  }

  onFirstScheduled(queueSeconds: number): void {
    this.requestQueueTime.observe(queueSeconds);
  }

  onFirstToken(ttftSeconds: number, numPromptTokens: number): void {
    this.timeToFirstToken.observe(ttftSeconds);
    this.promptTokens.inc({}, numPromptTokens);
  }

  onTokens(numTokens: number, interTokenSeconds: number | null): void {
    this.generationTokens.inc({}, numTokens);
    if (interTokenSeconds !== null) this.interTokenLatency.observe(interTokenSeconds);
  }

  onFinished(reason: FinishReason, e2eSeconds: number): void {
    this.requestSuccess.inc({ finished_reason: reason });
    this.e2eRequestLatency.observe(e2eSeconds);
  }

  /** Advances the mirrored counters to the engine's cumulative stats. */
  sync(stats: CumulativeEngineStats): void {
    this.prefixCacheQueries.inc({}, stats.prefixCacheQueries - this.reported.prefixCacheQueries);
    this.prefixCacheHits.inc({}, stats.prefixCacheHits - this.reported.prefixCacheHits);
    this.numPreemptions.inc({}, stats.numPreemptions - this.reported.numPreemptions);
    this.reported = { ...stats };
  }
}
