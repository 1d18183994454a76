/**
 * `npx tsx bench/charts.ts [--results bench/results] [--out docs/img]`: SVG charts from the
 * committed JSON results: output throughput vs concurrency per device and dataset (with the
 * roofline's decode ceiling when one was measured on that device), and TTFT / E2E latency CDFs
 * at the highest concurrency every system was run at.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServeResult } from './report.ts';
import { cdfPoints, renderLineChart, type Series } from './svg-chart.ts';

interface RooflineResult {
  schema: 'edgeserve.bench.roofline/1';
  measured: { device: string };
  model: { config: string };
  decode: { context: number; line: { concurrency: number; outputTokensPerS: number }[] };
}

export function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsonFiles(path);
    return name.endsWith('.json') ? [path] : [];
  });
}

export function loadResults(dir: string) {
  const serve: ServeResult[] = [];
  const roofline: RooflineResult[] = [];
  for (const path of jsonFiles(dir)) {
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    if (doc.schema === 'edgeserve.bench.serve/1') serve.push(doc);
    else if (doc.schema === 'edgeserve.bench.roofline/1') roofline.push(doc);
  }
  return { serve, roofline };
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
const groupBy = <T>(items: T[], key: (t: T) => string) => {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
};
const labelOf = (r: ServeResult) => r.label ?? r.target.baseUrl;
const concurrencyOf = (r: ServeResult) =>
  r.workload.maxConcurrency ?? r.workload.dataset.numPrompts;

/** Latest result per (label, concurrency): re-runs replace older points. */
function latest(results: ServeResult[]): ServeResult[] {
  const byKey = groupBy(results, (r) => `${labelOf(r)}|${concurrencyOf(r)}`);
  return [...byKey.values()].map((rs) => rs.sort((a, b) => b.date.localeCompare(a.date))[0]!);
}

function throughputChart(
  device: string,
  dataset: string,
  results: ServeResult[],
  roofline: RooflineResult[],
) {
  const series: Series[] = [...groupBy(results, labelOf)].map(([name, rs]) => ({
    name,
    points: rs
      .map((r) => [concurrencyOf(r), r.metrics.outputThroughput] as [number, number])
      .sort((a, b) => a[0] - b[0]),
  }));
  const maxC = Math.max(...results.map(concurrencyOf));
  for (const r of roofline.filter((x) => x.measured.device === device))
    series.push({
      name: `roofline ${r.model.config} (decode, ctx ${r.decode.context})`,
      dashed: true,
      points: r.decode.line
        .filter((p) => p.concurrency <= maxC)
        .map((p) => [p.concurrency, p.outputTokensPerS]),
    });
  return renderLineChart({
    title: `Output throughput vs concurrency — ${dataset} — ${device}`,
    xLabel: 'max concurrency (requests in flight)',
    yLabel: 'output tokens/s',
    series,
    logX: true,
    markers: true,
  });
}

function cdfChart(
  kind: 'ttftMs' | 'e2eMs',
  device: string,
  dataset: string,
  results: ServeResult[],
) {
  const byLabel = groupBy(results, labelOf);
  // The highest concurrency that every system was measured at, so the curves are comparable.
  const common = Math.min(...[...byLabel.values()].map((rs) => Math.max(...rs.map(concurrencyOf))));
  const series = [...byLabel].flatMap(([name, rs]) => {
    const r = rs.find((x) => concurrencyOf(x) === common);
    if (!r) return [];
    const values = r.requests.filter((q) => q.ok).map((q) => q[kind]);
    return [{ name, points: cdfPoints(values) }];
  });
  const what = kind === 'ttftMs' ? 'Time to first token' : 'End-to-end latency';
  return renderLineChart({
    title: `${what} CDF — ${dataset}, concurrency ${common} — ${device}`,
    xLabel: `${what.toLowerCase()} (ms)`,
    yLabel: 'fraction of requests',
    series,
    yMax: 1,
    xFromZero: true,
    legendAt: 'bottom-right',
  });
}

export function writeCharts(resultsDir: string, outDir: string): string[] {
  const { serve, roofline } = loadResults(resultsDir);
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, svg: string) => {
    writeFileSync(join(outDir, name), svg);
    written.push(join(outDir, name));
  };
  const groups = groupBy(
    serve,
    (r) => `${r.device ?? 'unknown device'}|${r.workload.dataset.name}`,
  );
  for (const [key, results] of groups) {
    const [device, dataset] = key.split('|') as [string, string];
    const base = `${slug(device)}-${dataset}`;
    const current = latest(results);
    write(`throughput-${base}.svg`, throughputChart(device, dataset, current, roofline));
    write(`ttft-cdf-${base}.svg`, cdfChart('ttftMs', device, dataset, current));
    write(`e2e-cdf-${base}.svg`, cdfChart('e2eMs', device, dataset, current));
  }
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (flag: string, fallback: string) => {
    const i = process.argv.indexOf(flag);
    return i === -1 ? fallback : process.argv[i + 1]!;
  };
  for (const path of writeCharts(arg('--results', 'bench/results'), arg('--out', 'docs/img')))
    console.log(path);
}
