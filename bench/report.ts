/** The serve benchmark's outputs: a console table and a JSON document (the charts read the JSON). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Target } from './client.ts';
import type { DatasetSpec } from './dataset.ts';
import { type Distribution, type RequestTimeline, type ServeMetrics, tpotMs } from './metrics.ts';
import type { Provenance } from './provenance.ts';

export const SERVE_SCHEMA = 'edgeserve.bench.serve/1';

export interface ServeWorkload {
  dataset: DatasetSpec;
  seed: number;
  vocabSize: number;
  /** 'inf' or requests per second. */
  requestRate: number | 'inf';
  burstiness: number;
  maxConcurrency: number | null;
}

export interface ServeResult extends Provenance {
  schema: typeof SERVE_SCHEMA;
  label: string | null;
  device: string | null;
  target: Omit<Target, 'apiKey'>;
  server: { version: Record<string, unknown> | null; info: unknown };
  workload: ServeWorkload;
  metrics: ServeMetrics & { peakConcurrency: number };
  requests: RequestRecord[];
}

export interface RequestRecord {
  ok: boolean;
  error?: string;
  startMs: number;
  ttftMs: number;
  tpotMs: number | null;
  e2eMs: number;
  promptTokens: number;
  outputTokens: number;
  cachedTokens: number | null;
  itlMs?: number[];
}

export function requestRecords(timelines: RequestTimeline[], withItl: boolean): RequestRecord[] {
  return timelines.map(({ itlMs, ...rest }) => ({
    ...rest,
    tpotMs: tpotMs({ itlMs, ...rest }),
    ...(withItl ? { itlMs } : {}),
  }));
}

/** `--server-info` as given: JSON when it parses, else the text (e.g. the server's flags). */
export function parseServerInfo(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const WIDTH = 52;
const rule = (title = '', fill = '-') => {
  const side = Math.max(0, WIDTH - title.length);
  return fill.repeat(Math.floor(side / 2)) + title + fill.repeat(Math.ceil(side / 2));
};
const row = (name: string, value: string | number) => {
  const text = typeof value === 'number' ? fmt(value) : value;
  return name.padEnd(WIDTH - Math.max(10, text.length)) + text.padStart(Math.max(10, text.length));
};
const fmt = (n: number) =>
  Number.isInteger(n) ? String(n) : Number.isFinite(n) ? n.toFixed(2) : '-';

function distributionRows(title: string, short: string, d: Distribution): string[] {
  return [
    rule(title),
    row(`Mean ${short} (ms):`, d.mean),
    row(`Median ${short} (ms):`, d.median),
    row(`P90 ${short} (ms):`, d.p90),
    row(`P99 ${short} (ms):`, d.p99),
  ];
}

export function formatTable(result: ServeResult): string {
  const m = result.metrics;
  const w = result.workload;
  const lines = [
    rule(' Serving Benchmark Result ', '='),
    row('Target:', result.label ?? result.target.baseUrl),
    row('Dataset:', `${w.dataset.name} x${w.dataset.numPrompts}`),
    row('Successful requests:', m.completed),
    row('Failed requests:', m.failed),
    row('Request rate (req/s):', String(w.requestRate)),
    row('Max concurrency:', w.maxConcurrency === null ? 'none' : w.maxConcurrency),
    row('Peak concurrency:', m.peakConcurrency),
    row('Benchmark duration (s):', m.durationS),
    row('Total input tokens:', m.totalInputTokens),
    row('Total generated tokens:', m.totalOutputTokens),
  ];
  if (m.totalCachedTokens !== null)
    lines.push(row('Prefix-cached input tokens:', m.totalCachedTokens));
  lines.push(
    row('Request throughput (req/s):', m.requestThroughput),
    row('Output token throughput (tok/s):', m.outputThroughput),
    row('Total token throughput (tok/s):', m.totalTokenThroughput),
  );
  if (m.goodput) lines.push(row('Request goodput (req/s):', m.goodput.requestThroughput));
  lines.push(
    ...distributionRows(' Time to First Token ', 'TTFT', m.ttftMs),
    ...distributionRows(' Time per Output Token (excl. 1st) ', 'TPOT', m.tpotMs),
    ...distributionRows(' Inter-token Latency ', 'ITL', m.itlMs),
    ...distributionRows(' End-to-end Latency ', 'E2EL', m.e2eMs),
    rule('', '='),
  );
  return lines.join('\n');
}

export function writeResult(path: string, result: ServeResult | object): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
}
