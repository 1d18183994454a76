/**
 * A closed-loop load generator: `concurrency` workers, each sending its next request as soon as
 * the previous one has ended, over one undici Pool with a connection per worker. Per request it
 * records time to the first body byte and to the end of the body.
 *
 * With `rampMs`, worker i sends its first request i/concurrency of the way into the ramp, and
 * only requests sent after the ramp are recorded: N streams open at any moment, started at
 * independent times, rather than N arriving in the same millisecond and staying in step (equal
 * paced streams all end together, so a closed loop would send the same burst again and again).
 */
import { Pool } from 'undici';

export interface Target {
  url: string;
  path: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  /** Requests recorded (sent after the ramp). */
  numRequests: number;
  /** Requests sent, the ramp's included: what the servers' CPU is divided by. */
  sent: number;
  /** Successful requests that ended after the ramp: the throughput over `wallSeconds`. */
  completed: number;
  errors: number;
  /** From the end of the ramp (the start, without one) to the last response's end. */
  wallSeconds: number;
  firstByteMs: number[];
  totalMs: number[];
  /** CPU the load generator itself used (this process), to show it is not the bottleneck. */
  clientCpuMs: number;
}

export async function runLoad(
  target: Target,
  body: (i: number) => unknown,
  concurrency: number,
  numRequests: number,
  rampMs = 0,
): Promise<LoadResult> {
  const pool = new Pool(target.url, {
    connections: concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  const result: LoadResult = {
    numRequests,
    sent: 0,
    completed: 0,
    errors: 0,
    wallSeconds: 0,
    firstByteMs: [],
    totalMs: [],
    clientCpuMs: 0,
  };
  let next = 0;
  let recorded = 0;
  let rampEnd = 0;
  const worker = async (w: number) => {
    if (rampMs > 0) await new Promise((r) => setTimeout(r, (w * rampMs) / concurrency));
    while (recorded < numRequests) {
      const i = next++;
      const started = performance.now();
      const record = started >= rampEnd;
      if (record) recorded++;
      result.sent++;
      try {
        const res = await pool.request({
          method: 'POST',
          path: target.path,
          headers: { 'content-type': 'application/json', ...target.headers },
          body: JSON.stringify(body(i)),
        });
        let first = 0;
        for await (const _chunk of res.body) if (!first) first = performance.now();
        const ended = performance.now();
        if (ended >= rampEnd && res.statusCode === 200) result.completed++;
        if (!record) continue;
        if (res.statusCode !== 200) result.errors++;
        else {
          result.firstByteMs.push((first || ended) - started);
          result.totalMs.push(ended - started);
        }
      } catch {
        if (record) result.errors++;
      }
    }
  };
  const t0 = performance.now();
  rampEnd = t0 + (rampMs * (concurrency - 1)) / concurrency;
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  result.wallSeconds = (performance.now() - rampEnd) / 1000;
  const cpu = process.cpuUsage(cpu0);
  result.clientCpuMs = (cpu.user + cpu.system) / 1000;
  await pool.close();
  return result;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
