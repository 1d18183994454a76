/**
 * A results file of `npm run bench:edge` as markdown tables, ready for docs/benchmarks.md:
 *
 *   npx tsx bench/edge/markdown.ts bench/results/edge-<date>.json
 */
import { readFileSync } from 'node:fs';

import type { Added as RoundAdded, Row as RoundRow } from './rounds.ts';

/** What a results file holds, older ones included (they lack some of the CPU and p99 fields). */
type Row = Omit<RoundRow, 'gatewayCpuMs' | 'upstreamCpuMs' | 'loadAverage1m'> &
  Partial<Pick<RoundRow, 'gatewayCpuMs' | 'upstreamCpuMs' | 'loadAverage1m'>>;
type Added = Omit<RoundAdded, 'addedFirstByteP99Ms'> & { addedFirstByteP99Ms?: number };

const signed = (v: number | undefined) =>
  v === undefined ? '–' : v >= 0 ? `+${v.toFixed(1)}` : v.toFixed(1);
const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));

export function markdown(result: {
  date: string;
  commit: string;
  device: { cpu?: string; cores: number };
  workload: {
    rounds?: number;
    warmupRequestsPerProcess?: number;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
    pacedChunkDelayMs?: number;
  };
  notes: string[];
  rows: Row[];
  addedLatency?: Added[];
}): string {
  const added = result.addedLatency ?? [];
  const rounds = result.workload.rounds ?? 1;
  const warmup = result.workload.warmupRequestsPerProcess;
  const lines = [
    `Edge benchmark, ${result.date.slice(0, 10)}, commit ${result.commit.slice(0, 7)}${result.commit.endsWith('+dirty') ? ' (with uncommitted changes)' : ''}, ${result.device.cpu} (${result.device.cores} cores), load average ${result.workload.loadAverageAtStart.join(' / ')} at start, ${result.workload.loadAverageAtEnd.join(' / ')} at end${rounds > 1 ? `; medians over ${rounds} rounds, "added" taken against the direct call of the same round` : ''}${warmup ? `; every process served ${warmup} warm-up requests first` : ''}.`,
    '',
    // The stub does the same work for every target: its CPU per request shows how fast the
    // machine was running while that target was measured.
    '| scenario | streams | target | req/s | TTFB p50 / p99 ms | total p50 / p99 ms | added TTFB p50 / p99 | added total p50 / p99 | × direct req/s | gateway CPU ms/req | stub CPU ms/req | load 1m |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  // Listed per group: direct, the edge, the bare proxy's floor, then the other gateways.
  const group = (r: Row) => `${r.concurrency} ${r.scenario}`;
  const groups = [...new Set(result.rows.map(group))];
  const order = ['direct', 'edgeserve edge', 'bare proxy (floor)'];
  const rank = (r: Row) => (order.includes(r.target) ? order.indexOf(r.target) : order.length);
  const rows = [...result.rows].sort(
    (a, b) => groups.indexOf(group(a)) - groups.indexOf(group(b)) || rank(a) - rank(b),
  );
  for (const r of rows) {
    if (r.scenario.startsWith('json ')) continue;
    const a = added.find(
      (x) => x.target === r.target && x.scenario === r.scenario && x.concurrency === r.concurrency,
    );
    lines.push(
      `| ${r.scenario} | ${r.concurrency} | ${r.target} | ${r.requestsPerSecond.toFixed(r.requestsPerSecond < 10 ? 1 : 0)} | ${ms(r.firstByteP50Ms)} / ${ms(r.firstByteP99Ms)} | ${ms(r.totalP50Ms)} / ${ms(r.totalP99Ms)} | ${a ? `${signed(a.addedFirstByteP50Ms)} / ${signed(a.addedFirstByteP99Ms)}` : ''} | ${a ? `${signed(a.addedTotalP50Ms)} / ${signed(a.addedTotalP99Ms)}` : ''} | ${a ? a.throughputRatio.toFixed(2) : ''} | ${r.gatewayCpuMs ?? ''} | ${r.upstreamCpuMs ?? ''} | ${r.loadAverage1m ?? ''} |`,
    );
  }
  const same = result.rows.find((r) => r.scenario === 'json same request');
  const hit = result.rows.find((r) => r.scenario === 'json cache hit');
  if (same && hit)
    lines.push(
      '',
      `Cache hit through the edge: ${ms(hit.totalP50Ms)} ms p50, ${ms(hit.totalP99Ms)} ms p99 (the stub answering directly: ${ms(same.totalP50Ms)} / ${ms(same.totalP99Ms)} ms).`,
    );
  for (const note of result.notes) lines.push('', `Note: ${note}`);
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('markdown.ts')) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: markdown.ts bench/results/edge-<date>.json');
  console.log(markdown(JSON.parse(readFileSync(file, 'utf8'))));
}
