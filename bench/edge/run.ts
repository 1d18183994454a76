/**
 * `npm run bench:edge`: what the edge adds. Streams chat completions from a stub upstream on
 * loopback directly, through the edge (`edgeserve edge`, its own process) and, when installed,
 * through Portkey's gateway, at 1, 64 and 512 concurrent streams; then the latency of a cache
 * hit. Prints a table and writes JSON under bench/results/.
 *
 * Flags: --levels 1,64,512   --scale 1 (multiplies request counts)   --chunks 32 (SSE chunks)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release } from 'node:os';
import { join } from 'node:path';
import { mintDevToken } from '../../edge/dev-token.ts';
import { parseOptions } from '../../shared/config.ts';
import { type LoadResult, percentile, runLoad, type Target } from './load.ts';
import { hasPortkey, type Server, startEdge, startPortkey, startStub } from './processes.ts';

const opts = parseOptions(
  {
    levels: { type: 'list', default: ['1', '64', '512'], help: 'concurrent streams' },
    scale: { type: 'number', default: 1, min: 0.01, help: 'request count multiplier' },
    chunks: { type: 'int', default: 32, min: 1, help: 'SSE content chunks per answer' },
  },
  process.argv.slice(2),
);

interface Row {
  target: string;
  scenario: string;
  concurrency: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  firstByteP50Ms: number;
  firstByteP99Ms: number;
  totalP50Ms: number;
  totalP99Ms: number;
}

const round = (v: number) => Math.round(v * 100) / 100;

function row(target: string, scenario: string, concurrency: number, r: LoadResult): Row {
  return {
    target,
    scenario,
    concurrency,
    requests: r.numRequests,
    errors: r.errors,
    requestsPerSecond: round(r.totalMs.length / r.wallSeconds),
    firstByteP50Ms: round(percentile(r.firstByteMs, 50)),
    firstByteP99Ms: round(percentile(r.firstByteMs, 99)),
    totalP50Ms: round(percentile(r.totalMs, 50)),
    totalP99Ms: round(percentile(r.totalMs, 99)),
  };
}

const streamBody = (i: number) => ({
  model: 'stub-model',
  messages: [{ role: 'user', content: `request ${i}: say something` }],
  stream: true,
  temperature: 1,
});
const jsonBody = (i: number) => ({ ...streamBody(i), stream: false });
const cachedBody = () => ({
  model: 'stub-model',
  messages: [{ role: 'user', content: 'the same question every time' }],
  temperature: 0,
});

const requestsFor = (concurrency: number) =>
  Math.max(50, Math.round(opts.scale * Math.max(300, concurrency * (concurrency >= 512 ? 4 : 20))));

const loadAverageAtStart = loadavg().map(round);

async function main() {
  const servers: Server[] = [];
  try {
    const stub = await startStub(opts.chunks);
    servers.push(stub);
    const secret = crypto.randomUUID();
    const edge = await startEdge(stub.url, secret);
    servers.push(edge);
    const token = await mintDevToken(secret, { sub: 'bench', ttlSeconds: 3600 });
    const path = '/v1/chat/completions';
    const targets: [string, Target][] = [
      ['direct', { url: stub.url, path, headers: {} }],
      ['edgeserve edge', { url: edge.url, path, headers: { authorization: `Bearer ${token}` } }],
    ];
    if (hasPortkey()) {
      const portkey = await startPortkey();
      servers.push(portkey);
      targets.push([
        'portkey gateway',
        {
          url: portkey.url,
          path,
          headers: {
            authorization: 'Bearer unused',
            'x-portkey-provider': 'openai',
            'x-portkey-custom-host': `${stub.url}/v1`,
          },
        },
      ]);
    }
    const rows: Row[] = [];
    const notes: string[] = [];
    for (const [, target] of targets) await runLoad(target, streamBody, 8, 100); // warm-up
    const streams = [];
    for (const [name, target] of targets) {
      if ((await runLoad(target, streamBody, 1, 3)).errors === 0)
        streams.push([name, target] as const);
      else notes.push(`${name}: streamed requests fail here, so it is compared on JSON only`);
    }
    for (const level of opts.levels.map(Number)) {
      for (const [name, target] of streams) {
        rows.push(
          row(name, 'stream', level, await runLoad(target, streamBody, level, requestsFor(level))),
        );
        printRow(rows.at(-1)!);
      }
      for (const [name, target] of targets) {
        rows.push(
          row(name, 'json', level, await runLoad(target, jsonBody, level, requestsFor(level))),
        );
        printRow(rows.at(-1)!);
      }
    }
    const n = requestsFor(1);
    const [, direct] = targets[0]!;
    const [, viaEdge] = targets[1]!;
    rows.push(row('direct', 'json same request', 1, await runLoad(direct, cachedBody, 1, n)));
    printRow(rows.at(-1)!);
    await runLoad(viaEdge, cachedBody, 1, 1); // fills the cache
    rows.push(row('edgeserve edge', 'json cache hit', 1, await runLoad(viaEdge, cachedBody, 1, n)));
    printRow(rows.at(-1)!);
    report(
      rows,
      targets.map(([name]) => name),
      notes,
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

const COLUMNS: [keyof Row, string, number][] = [
  ['target', 'target', 16],
  ['scenario', 'scenario', 16],
  ['concurrency', 'conc', 5],
  ['requests', 'reqs', 6],
  ['errors', 'errs', 5],
  ['requestsPerSecond', 'req/s', 9],
  ['firstByteP50Ms', 'ttfb p50', 9],
  ['firstByteP99Ms', 'ttfb p99', 9],
  ['totalP50Ms', 'e2e p50', 9],
  ['totalP99Ms', 'e2e p99', 9],
];
let headerPrinted = false;
function printRow(r: Row) {
  if (!headerPrinted) {
    console.log(COLUMNS.map(([, h, w]) => h.padStart(w)).join(' '));
    headerPrinted = true;
  }
  console.log(COLUMNS.map(([k, , w]) => String(r[k]).padStart(w)).join(' '));
}

function report(rows: Row[], peers: string[], notes: string[]) {
  const added = rows
    .filter((r) => r.target === 'edgeserve edge' && r.scenario === 'stream')
    .map((r) => {
      const d = rows.find(
        (x) => x.target === 'direct' && x.scenario === 'stream' && x.concurrency === r.concurrency,
      )!;
      return {
        concurrency: r.concurrency,
        addedFirstByteP50Ms: round(r.firstByteP50Ms - d.firstByteP50Ms),
        addedTotalP50Ms: round(r.totalP50Ms - d.totalP50Ms),
        addedTotalP99Ms: round(r.totalP99Ms - d.totalP99Ms),
        throughputRatio: round(r.requestsPerSecond / d.requestsPerSecond),
      };
    });
  for (const note of notes) console.log(`note: ${note}`);
  console.log('\nedge vs direct (streams):');
  for (const a of added)
    console.log(
      `  ${String(a.concurrency).padStart(4)} streams: +${a.addedFirstByteP50Ms} ms ttfb p50, +${a.addedTotalP50Ms} ms e2e p50, +${a.addedTotalP99Ms} ms e2e p99, ${a.throughputRatio}x throughput`,
    );
  const root = join(import.meta.dirname, '..', '..');
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root }).toString().trim();
    } catch {
      return 'unknown';
    }
  })();
  const date = new Date().toISOString();
  const out = {
    benchmark: 'edge',
    date,
    commit,
    device: {
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      os: `${platform()} ${release()}`,
      node: process.version,
    },
    workload: {
      upstream: 'test/stub-upstream.ts on loopback, no generation delay',
      sseChunksPerAnswer: opts.chunks,
      levels: opts.levels.map(Number),
      note: 'load generator, edge and stub share this machine',
      loadAverageAtStart,
      loadAverageAtEnd: loadavg().map(round),
    },
    peers,
    notes,
    rows,
    edgeVsDirect: added,
  };
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `edge-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

await main();
