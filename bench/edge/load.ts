/**
 * A closed-loop load generator: `concurrency` workers, each sending its next request as soon as
 * the previous one has ended, over one undici Pool with a connection per worker. Per request it
 * records time to the first body byte and to the end of the body.
 */
import { Pool } from 'undici';

export interface Target {
  url: string;
  path: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  numRequests: number;
  errors: number;
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
): Promise<LoadResult> {
  const pool = new Pool(target.url, {
    connections: concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  const result: LoadResult = {
    numRequests,
    errors: 0,
    wallSeconds: 0,
    firstByteMs: [],
    totalMs: [],
    clientCpuMs: 0,
  };
  let next = 0;
  const worker = async () => {
    while (next < numRequests) {
      const i = next++;
      const started = performance.now();
      try {
        const res = await pool.request({
          method: 'POST',
          path: target.path,
          headers: { 'content-type': 'application/json', ...target.headers },
          body: JSON.stringify(body(i)),
        });
        let first = 0;
        for await (const _chunk of res.body) if (!first) first = performance.now();
        if (res.statusCode !== 200) result.errors++;
        else {
          const ended = performance.now();
          result.firstByteMs.push((first || ended) - started);
          result.totalMs.push(ended - started);
        }
      } catch {
        result.errors++;
      }
    }
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.wallSeconds = (performance.now() - t0) / 1000;
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
