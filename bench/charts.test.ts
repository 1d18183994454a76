import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCharts } from './charts.ts';
import { summarize } from './metrics.ts';
import { requestRecords, SERVE_SCHEMA } from './report.ts';
import { summaryMarkdown } from './summary.ts';

/** A serve result whose requests all took `ttftMs` to the first token and 10 tokens in total. */
function serveResult(label: string, maxConcurrency: number, ttftMs: number) {
  const timelines = Array.from({ length: 4 }, (_, i) => ({
    ok: true,
    startMs: 0,
    ttftMs: ttftMs + i,
    e2eMs: ttftMs + 90,
    itlMs: [],
    promptTokens: 5,
    outputTokens: 10,
    cachedTokens: null,
  }));
  return {
    schema: SERVE_SCHEMA,
    label,
    date: `2026-01-0${maxConcurrency}T00:00:00Z`,
    gitCommit: 'abcdef0123',
    gitDirty: false,
    loadAverage: [0.5, 0.5, 0.5],
    device: 'Test GPU',
    target: { baseUrl: 'http://x' },
    workload: { dataset: { name: 'random', numPrompts: 4 }, maxConcurrency },
    metrics: { ...summarize(timelines, 2, null), peakConcurrency: maxConcurrency },
    requests: requestRecords(timelines, false),
  };
}

const roofline = {
  schema: 'edgeserve.bench.roofline/1',
  date: '2026-01-01T00:00:00Z',
  measured: { device: 'Test GPU', hbmBandwidthGBs: 1000, bf16GemmTflops: 100, gemmSize: 8192 },
  model: { config: 'tiny.json', params: 1e9 },
  decode: {
    context: 1024,
    line: [1, 2, 4, 8].map((c) => ({ concurrency: c, outputTokensPerS: 100 * c })),
  },
  workload: {
    dataset: { name: 'random', numPrompts: 4 },
    maxNumSeqs: 4,
    outputTokensPerS: 500,
    totalTokensPerS: 700,
  },
};

function resultsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-charts-'));
  const docs = [
    serveResult('ours', 1, 100),
    serveResult('ours', 4, 200),
    serveResult('peer', 1, 300),
    roofline,
  ];
  for (const [i, doc] of docs.entries())
    writeFileSync(join(dir, `r${i}.json`), JSON.stringify(doc));
  return dir;
}

describe('charts and summary from result JSON', () => {
  it('draws throughput vs concurrency with every system and the roofline, and CDFs at a common concurrency', () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-svg-'));
    const files = writeCharts(resultsDir(), out).map((f) => f.slice(out.length + 1));
    expect(files.sort()).toEqual([
      'e2e-cdf-test-gpu-random.svg',
      'throughput-test-gpu-random.svg',
      'ttft-cdf-test-gpu-random.svg',
    ]);
    const throughput = readFileSync(join(out, 'throughput-test-gpu-random.svg'), 'utf8');
    expect(throughput).toContain('>ours<');
    expect(throughput).toContain('>peer<');
    expect(throughput).toContain('roofline tiny.json');
    expect(throughput.match(/<polyline /g)).toHaveLength(3);
    // 'peer' only ran at concurrency 1, so the CDFs compare both systems there.
    expect(readFileSync(join(out, 'ttft-cdf-test-gpu-random.svg'), 'utf8')).toContain(
      'concurrency 1 ',
    );
  });

  it('tabulates every result under its device with numbers from the JSON', () => {
    const md = summaryMarkdown(resultsDir());
    expect(md).toContain('#### Test GPU');
    const rows = md.split('\n').filter((l) => l.startsWith('| ours') || l.startsWith('| peer'));
    expect(rows).toHaveLength(3);
    // 4 requests × 10 tokens over 2 s = 20 output tok/s; TTFT median of 100..103 = 101.5 → "102".
    expect(rows[0]).toContain('| 20 |');
    expect(rows[0]).toContain('abcdef0');
    expect(md).toContain('measured 1000 GB/s copy bandwidth');
  });
});
