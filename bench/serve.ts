/**
 * The serving benchmark's run: send a workload on its arrival schedule, at most
 * `maxConcurrency` in flight, time every stream, summarise. Plain function of its options, so the
 * CLI, the suite runner and the tests all drive it the same way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { arrivalTimes } from './arrivals.ts';
import { type Target, timeRequest } from './client.ts';
import type { BenchRequest } from './dataset.ts';
import { type GoodputSlo, type RequestTimeline, type ServeMetrics, summarize } from './metrics.ts';
import { createRng } from './rng.ts';

export interface ServeRunOptions {
  target: Target;
  requests: BenchRequest[];
  /** Requests per second; Infinity sends all at once. */
  requestRate: number;
  burstiness: number;
  /** null: no cap beyond the arrival schedule. */
  maxConcurrency: number | null;
  seed: number;
  goodput: GoodputSlo | null;
  /** Called after each finished request (progress display). */
  onResult?: (done: number, total: number) => void;
}

export interface ServeRun {
  timelines: RequestTimeline[];
  metrics: ServeMetrics;
  /** Highest number of requests in flight at once. */
  peakConcurrency: number;
}

/** A counting semaphore: at most `limit` tasks run at once (null: no limit). */
function limiter(limit: number | null) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (limit !== null && active >= limit) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** A connection pool sized to the most requests that can be in flight. */
export function createPool(baseUrl: string, maxInFlight: number): Pool {
  return new Pool(new URL(baseUrl).origin, {
    connections: maxInFlight,
    pipelining: 1,
    // Long generations stream for minutes on slow devices; only a silent socket is an error.
    headersTimeout: 0,
    bodyTimeout: 600_000,
  });
}

export async function runServe(options: ServeRunOptions): Promise<ServeRun> {
  const { requests, target } = options;
  const arrivals = arrivalTimes(
    requests.length,
    options.requestRate,
    options.burstiness,
    createRng(options.seed + 1),
  );
  const pool = createPool(target.baseUrl, options.maxConcurrency ?? requests.length);
  const limit = limiter(options.maxConcurrency);
  let inFlight = 0;
  let peakConcurrency = 0;
  let done = 0;
  const runStartMs = performance.now();
  const pending: Promise<RequestTimeline>[] = [];
  try {
    for (const [i, req] of requests.entries()) {
      const waitMs = runStartMs + arrivals[i]! * 1000 - performance.now();
      if (waitMs > 0) await sleep(waitMs);
      pending.push(
        limit(async () => {
          peakConcurrency = Math.max(peakConcurrency, ++inFlight);
          const timeline = await timeRequest(pool, target, req, runStartMs);
          inFlight--;
          options.onResult?.(++done, requests.length);
          return timeline;
        }),
      );
    }
    const timelines = await Promise.all(pending);
    const durationS = (performance.now() - runStartMs) / 1000;
    return {
      timelines,
      metrics: summarize(timelines, durationS, options.goodput),
      peakConcurrency,
    };
  } finally {
    await pool.close();
  }
}
