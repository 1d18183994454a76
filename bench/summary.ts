/**
 * `npx tsx bench/summary.ts [--results bench/results]`: markdown tables of every committed result,
 * grouped by device, for docs/benchmarks.md. Numbers are copied from the JSON, never typed in.
 */
import { readFileSync } from 'node:fs';
import { jsonFiles } from './charts.ts';
import type { ServeResult } from './report.ts';

interface Row {
  device: string;
  cells: string[];
}

const n0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const n1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const date = (iso: string) => iso.slice(0, 10);
const commit = (c: string | null, dirty: boolean | null) =>
  `${c?.slice(0, 7) ?? '?'}${dirty ? '+' : ''}`;

/** Requests done, throughput and latency: the same columns for serve and offline results. */
function metricCells(m: ServeResult['metrics']): string[] {
  return [
    `${m.completed}/${m.completed + m.failed}`,
    n1(m.requestThroughput),
    n0(m.outputThroughput),
    n0(m.totalTokenThroughput),
    n0(m.ttftMs.median),
    n0(m.ttftMs.p99),
    n1(m.tpotMs.median),
    n1(m.tpotMs.p99),
  ];
}

function serveRow(r: ServeResult): Row {
  const m = r.metrics;
  const w = r.workload;
  const cached = m.totalCachedTokens === null ? '-' : n0(m.totalCachedTokens);
  const load = r.loadAverage ? r.loadAverage[0]!.toFixed(1) : '-';
  return {
    device: r.device ?? 'unknown',
    cells: [
      r.label ?? r.target.baseUrl,
      'serve (HTTP)',
      w.dataset.name,
      String(w.maxConcurrency ?? 'inf'),
      ...metricCells(m),
      cached,
      load,
      `${date(r.date)} ${commit(r.gitCommit, r.gitDirty)}`,
    ],
  };
}

// biome-ignore lint/suspicious/noExplicitAny: offline/peer documents are read loosely by schema
function offlineRow(r: any): Row {
  const m = r.metrics;
  const cached =
    m.totalCachedTokens === null || m.totalCachedTokens === undefined
      ? '-'
      : n0(m.totalCachedTokens);
  return {
    device: r.device,
    cells: [
      r.label ?? r.engine.device,
      'offline (engine)',
      r.workload.dataset.name,
      'all',
      ...metricCells(m),
      cached,
      r.loadAverage?.[0]?.toFixed(1) ?? '-',
      `${date(r.date)} ${commit(r.gitCommit, r.gitDirty)}`,
    ],
  };
}

// biome-ignore lint/suspicious/noExplicitAny: see above
function peerRow(r: any): Row {
  const m = r.metrics;
  const ds = r.workload.dataset;
  return {
    device: r.device,
    cells: [
      `${r.label} (${r.model.source}, transformers ${r.versions.transformers})`,
      'offline (peer)',
      `${ds.name} x${ds.numPrompts} [${ds.minLen},${ds.maxLen}]`,
      'all',
      `${m.completed}/${m.completed + m.failed}`,
      n1(m.requestThroughput),
      n0(m.outputThroughput),
      n0(m.totalTokenThroughput),
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      date(r.date),
    ],
  };
}

const HEADER = [
  'system',
  'mode',
  'dataset',
  'max conc.',
  'ok',
  'req/s',
  'out tok/s',
  'total tok/s',
  'TTFT p50 ms',
  'TTFT p99 ms',
  'TPOT p50 ms',
  'TPOT p99 ms',
  'cached prompt tok',
  'load avg',
  'date, commit',
];

// biome-ignore lint/suspicious/noExplicitAny: see above
function rooflineLine(r: any): string {
  const hw = r.measured;
  const wl = r.workload;
  const line = r.decode.line
    .map(
      (p: { concurrency: number; outputTokensPerS: number }) =>
        `${p.concurrency}: ${n0(p.outputTokensPerS)}`,
    )
    .join(', ');
  return `- **${hw.device}**, ${r.model.config} (${(r.model.params / 1e9).toFixed(2)} B params, bf16): measured ${n0(hw.hbmBandwidthGBs)} GB/s copy bandwidth and ${n0(hw.bf16GemmTflops)} bf16 TFLOP/s (${hw.gemmSize}³ GEMM); ceiling for ${wl.dataset.name} x${wl.dataset.numPrompts} at ≤${wl.maxNumSeqs} in flight: **${n0(wl.outputTokensPerS)} output tok/s** (${n0(wl.totalTokensPerS)} total); decode ceiling at context ${r.decode.context} by concurrency: ${line} tok/s (${date(r.date)})`;
}

export function summaryMarkdown(dir: string): string {
  const rows: Row[] = [];
  const rooflines: string[] = [];
  for (const path of jsonFiles(dir)) {
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    if (doc.schema === 'edgeserve.bench.serve/1') rows.push(serveRow(doc));
    else if (doc.schema === 'edgeserve.bench.offline/1' && doc.mode === 'throughput')
      rows.push(offlineRow(doc));
    else if (doc.schema === 'edgeserve.bench.peer/1' && doc.workload?.dataset)
      rows.push(peerRow(doc));
    else if (doc.schema === 'edgeserve.bench.roofline/1') rooflines.push(rooflineLine(doc));
  }
  const out: string[] = [];
  for (const device of [...new Set(rows.map((r) => r.device))].sort()) {
    out.push(
      `#### ${device}`,
      '',
      `| ${HEADER.join(' | ')} |`,
      `|${HEADER.map(() => '---').join('|')}|`,
    );
    for (const r of rows.filter((x) => x.device === device)) out.push(`| ${r.cells.join(' | ')} |`);
    out.push('');
  }
  if (rooflines.length) out.push('#### Roofline (measured on the device)', '', ...rooflines, '');
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--results');
  console.log(summaryMarkdown(i === -1 ? 'bench/results' : process.argv[i + 1]!));
}
