/**
 * `npm run bench:edge`: what the edge adds. Streams chat completions from a stub upstream on
 * loopback directly, through the edge (`edgeserve edge`, its own process) and, when installed,
 * through Portkey's gateway, at 1, 64 and 512 concurrent streams, in three scenarios:
 *
 *   paced stream  the stub sends a chunk every --pace-ms (20 ≈ a model decoding 50 tokens/s): the
 *                 latency a gateway adds to a real stream, its own work per chunk
 *   stream        the stub writes as fast as it can: saturation, where added latency is queueing
 *                 behind the gateway's CPU and throughput shows its cost per request
 *   json          non-streamed answers, as fast as the stub can
 *
 * then the latency of a cache hit. Beside the edge and Portkey runs a bare pass-through proxy
 * (bare-proxy.ts): the floor any gateway process pays on this machine. Every row carries the load
 * average and the CPU time each process spent per request (load generator, gateway, stub: /proc),
 * so a busy shared machine can be told apart from a slow gateway. Prints tables and writes JSON
 * under bench/results/.
 *
 * The edge runs with the Node options it is deployed with (EDGE_NODE_OPTIONS: a single-threaded
 * GC); Portkey with its own defaults.
 *
 * Method: every process serves --warmup requests of the kinds it will serve before any group is
 * measured (V8 is still optimizing the edge's functions for the first few thousand);
 * paced streams start spread over one stream's length and are recorded once all are open (the
 * steady state of N concurrent streams: see load.ts); the edges write their request logs to a
 * file, not to a pipe the load generator would have to drain. Each group (concurrency × scenario)
 * runs --rounds times, every target once per round, who goes first rotating: the machine drifts
 * by more between minutes than the edge's cost, so "added" is taken per round (gateway minus the
 * direct call measured beside it) and the median over rounds is reported, as is the median of
 * every other figure.
 *
 * Flags: --levels 1,64,512  --rounds 3  --warmup 4000  --scale 1 (request count multiplier)
 *        --chunks 32  --pace-ms 20  --scenarios paced,stream,json
 *        --cpu-prof-dir DIR (profile the edge)
 *        --baseline DIR: also measure the edge of another checkout in the same run (before/after
 *          under the same machine load), with --baseline-node-options (default: the deployed
 *          ones); `--baseline . --baseline-node-options ''` measures what those options are worth
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release } from 'node:os';
import { join } from 'node:path';
import { mintDevToken } from '../../edge/dev-token.ts';
import { parseOptions } from '../../shared/config.ts';
import { processUsage } from './cpu-time.ts';
import { type LoadResult, percentile, runLoad, type Target } from './load.ts';
import {
  EDGE_NODE_OPTIONS,
  hasPortkey,
  type Server,
  startBareProxy,
  startEdge,
  startPortkey,
  startStub,
} from './processes.ts';
import { addedLatency, medianRows, type Row, round } from './rounds.ts';

const opts = parseOptions(
  {
    levels: { type: 'list', default: ['1', '64', '512'], help: 'concurrent streams' },
    rounds: { type: 'int', default: 3, min: 1, help: 'times each group runs (medians reported)' },
    warmup: {
      type: 'int',
      default: 4000,
      min: 0,
      help: 'requests each gateway process serves before anything is measured',
    },
    scale: { type: 'number', default: 1, min: 0.01, help: 'request count multiplier' },
    chunks: { type: 'int', default: 32, min: 1, help: 'SSE content chunks per answer' },
    'pace-ms': { type: 'int', default: 20, min: 1, help: 'ms between chunks, paced scenario' },
    scenarios: { type: 'list', default: ['paced', 'stream', 'json'], help: 'which to run' },
    'cpu-prof-dir': { type: 'string', default: '', help: 'write a CPU profile of the edge' },
    baseline: {
      type: 'string',
      default: '',
      help: 'another checkout whose edge runs beside this one (e.g. `git archive` of a commit)',
    },
    'baseline-node-options': {
      type: 'string',
      default: EDGE_NODE_OPTIONS.join(' '),
      help: "the baseline edge's Node options ('' for Node's defaults; with --baseline .)",
    },
    'baseline-first': {
      type: 'bool',
      default: false,
      help: 'start the baseline edge before this one (run comparisons both ways round)',
    },
  },
  process.argv.slice(2),
);

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

interface Scenario {
  name: string;
  body: (i: number) => unknown;
  paced: boolean;
}

const SCENARIOS: Record<string, Scenario> = {
  paced: { name: 'paced stream', body: streamBody, paced: true },
  stream: { name: 'stream', body: streamBody, paced: false },
  json: { name: 'json', body: jsonBody, paced: false },
};

/**
 * Enough requests for stable percentiles (p99 needs hundreds); paced requests take ~chunks × pace
 * each, so 10 per stream is ~6.5 s per target at 64 and 512 streams.
 */
function requestsFor(concurrency: number, paced: boolean): number {
  const n = paced
    ? Math.max(60, concurrency * 10)
    : Math.max(300, concurrency * (concurrency >= 512 ? 4 : 20));
  return Math.max(10, Math.round(opts.scale * n));
}

interface Gateway {
  name: string;
  /** The process to charge CPU to (none when direct). */
  server?: Server;
  /** The process serving a given upstream, where that is not always `server` (one edge each). */
  serverFor?: (upstream: Server) => Server | undefined;
  target: (upstream: Server) => Target;
}

async function measure(
  gateway: Gateway,
  upstream: Server,
  scenario: Scenario,
  concurrency: number,
): Promise<Row> {
  const n = requestsFor(concurrency, scenario.paced);
  const loadAverage1m = round(loadavg()[0]!);
  const gateway0 = processUsage(gateway.server?.pid);
  const upstream0 = processUsage(upstream.pid);
  // Paced streams start spread over one stream's length (see load.ts); the others run flat out.
  const rampMs = scenario.paced ? opts.chunks * opts['pace-ms'] : 0;
  const r = await runLoad(gateway.target(upstream), scenario.body, concurrency, n, rampMs);
  const gateway1 = processUsage(gateway.server?.pid);
  const upstream1 = processUsage(upstream.pid);
  const perRequest = (before?: number, after?: number) =>
    before === undefined || after === undefined ? null : round((after - before) / r.sent);
  return {
    ...summarize(gateway.name, scenario.name, concurrency, r),
    clientCpuMs: round(r.clientCpuMs / r.sent),
    gatewayCpuMs: perRequest(gateway0?.cpuMs, gateway1?.cpuMs),
    gatewayMinorFaults: perRequest(gateway0?.minorFaults, gateway1?.minorFaults),
    upstreamCpuMs: perRequest(upstream0?.cpuMs, upstream1?.cpuMs),
    loadAverage1m,
  };
}

function summarize(target: string, scenario: string, concurrency: number, r: LoadResult) {
  return {
    target,
    scenario,
    concurrency,
    requests: r.numRequests,
    errors: r.errors,
    requestsPerSecond: round(r.completed / r.wallSeconds),
    firstByteP50Ms: round(percentile(r.firstByteMs, 50)),
    firstByteP99Ms: round(percentile(r.firstByteMs, 99)),
    totalP50Ms: round(percentile(r.totalMs, 50)),
    totalP99Ms: round(percentile(r.totalMs, 99)),
  };
}

const loadAverageAtStart = loadavg().map(round);
const BASELINE = 'edge (baseline)';
const BARE = 'bare proxy (floor)';

async function main() {
  const servers: Server[] = [];
  const start = async (server: Promise<Server>) => {
    servers.push(await server);
    return servers.at(-1)!;
  };
  try {
    const stub = await start(startStub(opts.chunks));
    const pacedStub = await start(startStub(opts.chunks, opts['pace-ms']));
    const secret = crypto.randomUUID();
    const prof = opts['cpu-prof-dir']
      ? ['--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof-dir']}`]
      : [];
    const token = await mintDevToken(secret, { sub: 'bench', ttlSeconds: 3600 });
    const bearer = { authorization: `Bearer ${token}` };
    const path = '/v1/chat/completions';
    /**
     * A gateway run as one process per stub: an edge (or the bare proxy) forwards only to the
     * upstream it was started with. CPU is charged to the process serving the measured stub.
     */
    const perStub = async (
      name: string,
      launch: (upstream: Server) => Promise<Server>,
      headers: Record<string, string>,
    ): Promise<Gateway> => {
      const byStub = new Map<Server, Server>();
      for (const upstream of [stub, pacedStub]) byStub.set(upstream, await start(launch(upstream)));
      return {
        name,
        server: byStub.get(stub),
        serverFor: (u) => byStub.get(u),
        target: (u) => ({ url: byStub.get(u)!.url, path, headers }),
      };
    };
    const gateways: Gateway[] = [
      { name: 'direct', target: (u) => ({ url: u.url, path, headers: {} }) },
    ];
    const ours = () =>
      perStub('edgeserve edge', (u) => startEdge(u.url, secret, u === stub ? prof : []), bearer);
    const nodeOptions = opts['baseline-node-options'].split(' ').filter(Boolean);
    const baseline = () =>
      perStub(BASELINE, (u) => startEdge(u.url, secret, [], opts.baseline, nodeOptions), bearer);
    // Which edge starts first matters on this box (the first did worse in side-by-side runs).
    if (opts.baseline && opts['baseline-first']) gateways.push(await baseline(), await ours());
    else if (opts.baseline) gateways.push(await ours(), await baseline());
    else gateways.push(await ours());
    gateways.push(await perStub(BARE, (u) => startBareProxy(u.url), {}));
    // Portkey picks its upstream per request (custom host), so one process serves both stubs.
    if (hasPortkey()) {
      const portkey = await start(startPortkey());
      gateways.push({
        name: 'portkey gateway',
        server: portkey,
        target: (u) => ({
          url: portkey.url,
          path,
          headers: {
            authorization: 'Bearer unused',
            'x-portkey-provider': 'openai',
            'x-portkey-custom-host': `${u.url}/v1`,
          },
        }),
      });
    }
    const rows: Row[] = [];
    const notes: string[] = [];
    const streaming: Gateway[] = [];
    for (const g of gateways) {
      if ((await runLoad(g.target(stub), streamBody, 1, 3)).errors === 0) streaming.push(g);
      else {
        const why = g.server?.firstError?.();
        notes.push(
          `${g.name}: streamed requests fail here${why ? ` (${why.trim()})` : ''}, so it is compared on JSON only`,
        );
      }
    }
    // Warm-up: every process (one edge per stub) serves --warmup requests of the kinds it will be
    // measured with before any group runs. V8 keeps optimizing functions for the first few
    // thousand requests (--trace-opt: ~220 functions in the first 500 paced requests, still ~50
    // per 500 after 1,500, a handful per 1,000 after 4,000); what is measured is a server that has
    // been up for a while, not one whose compiler threads still share the 2 cores with it.
    const warm = opts.warmup;
    for (const g of gateways) {
      const stream = streaming.includes(g);
      await runLoad(g.target(stub), jsonBody, 16, stream ? Math.ceil(warm / 2) : warm);
      if (!stream) continue;
      await runLoad(g.target(stub), streamBody, 16, Math.ceil(warm / 2));
      await runLoad(g.target(pacedStub), streamBody, 64, warm, opts.chunks * opts['pace-ms']);
    }
    const scenarios = opts.scenarios.map((s) => {
      const scenario = SCENARIOS[s];
      if (!scenario) throw new Error(`unknown scenario '${s}'`);
      return scenario;
    });
    let group = 0;
    for (const level of opts.levels.map(Number))
      for (const scenario of scenarios) {
        const upstream = scenario.paced ? pacedStub : stub;
        // Who runs first changes from group to group: the machine's state drifts, and a fixed
        // order would hand the same target the same drift every time.
        const list = scenario.body === streamBody ? streaming : gateways;
        for (let r = 0; r < opts.rounds; r++) {
          const shift = group++ % list.length;
          for (const g of [...list.slice(shift), ...list.slice(0, shift)]) {
            // The edge serving the paced stub is another process: charge CPU to it there.
            const charged = g.serverFor ? { ...g, server: g.serverFor(upstream) } : g;
            rows.push({ ...(await measure(charged, upstream, scenario, level)), round: r });
            printRow(rows.at(-1)!);
          }
        }
      }
    const [direct, viaEdge] = gateways;
    const same: Scenario = { name: 'json same request', body: cachedBody, paced: false };
    await runLoad(viaEdge!.target(stub), cachedBody, 1, 1); // fills the cache
    for (let r = 0; r < opts.rounds; r++) {
      rows.push({ ...(await measure(direct!, stub, same, 1)), round: r });
      printRow(rows.at(-1)!);
      rows.push({
        ...(await measure(viaEdge!, stub, { ...same, name: 'json cache hit' }, 1)),
        round: r,
      });
      printRow(rows.at(-1)!);
    }
    report(
      rows,
      gateways.map((g) => g.name),
      notes,
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

const COLUMNS: [keyof Row, string, number][] = [
  ['target', 'target', 16],
  ['scenario', 'scenario', 17],
  ['concurrency', 'conc', 5],
  ['requests', 'reqs', 6],
  ['errors', 'errs', 5],
  ['requestsPerSecond', 'req/s', 9],
  ['firstByteP50Ms', 'ttfb p50', 9],
  ['firstByteP99Ms', 'ttfb p99', 9],
  ['totalP50Ms', 'e2e p50', 9],
  ['totalP99Ms', 'e2e p99', 9],
  ['clientCpuMs', 'cpu load', 9],
  ['gatewayCpuMs', 'cpu gw', 7],
  ['gatewayMinorFaults', 'flt gw', 7],
  ['upstreamCpuMs', 'cpu stub', 9],
  ['loadAverage1m', 'load', 6],
];
let headerPrinted = false;
function printRow(r: Row) {
  if (!headerPrinted) {
    console.log(COLUMNS.map(([, h, w]) => h.padStart(w)).join(' '));
    console.log(
      "(cpu columns: CPU ms per request of the load generator, gateway, stub; flt gw: the gateway's minor page faults per request)",
    );
    headerPrinted = true;
  }
  console.log(COLUMNS.map(([k, , w]) => String(r[k] ?? '-').padStart(w)).join(' '));
}

const root = join(import.meta.dirname, '..', '..');
/** The code measured: HEAD when the run starts (edits made while it runs are not in it). */
const commit = (() => {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root }).toString().trim();
    // Uncommitted changes (other than results) mean the numbers are not HEAD's alone.
    const changed = execFileSync('git', ['status', '--porcelain', '--', '.', ':!bench/results'], {
      cwd: root,
    });
    return changed.length > 0 ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
})();

const signed = (v: number) => (v >= 0 ? `+${v}` : String(v));

function report(rows: Row[], peers: string[], notes: string[]) {
  const added = addedLatency(rows);
  const medians = medianRows(rows);
  if (opts.rounds > 1) {
    console.log(`\nmedians over ${opts.rounds} rounds:`);
    headerPrinted = false;
    for (const r of medians) printRow(r);
  }
  for (const note of notes) console.log(`note: ${note}`);
  console.log(
    `\nadded latency (gateway minus direct in the same round, ms; median of ${opts.rounds}) and throughput (gateway / direct):`,
  );
  for (const a of added)
    console.log(
      `  ${a.target.padEnd(16)} ${a.scenario.padEnd(13)} ${String(a.concurrency).padStart(4)} streams: ` +
        `ttfb p50 ${signed(a.addedFirstByteP50Ms)} p99 ${signed(a.addedFirstByteP99Ms)}, ` +
        `total p50 ${signed(a.addedTotalP50Ms)} p99 ${signed(a.addedTotalP99Ms)}, ${a.throughputRatio}x req/s`,
    );
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
      upstream: 'test/stub-upstream.ts on loopback',
      sseChunksPerAnswer: opts.chunks,
      pacedChunkDelayMs: opts['pace-ms'],
      levels: opts.levels.map(Number),
      rounds: opts.rounds,
      warmupRequestsPerProcess: opts.warmup,
      scale: opts.scale,
      edgeNodeOptions: EDGE_NODE_OPTIONS,
      baseline: opts.baseline || undefined,
      baselineNodeOptions: opts.baseline ? opts['baseline-node-options'] : undefined,
      baselineFirst: opts.baseline ? opts['baseline-first'] : undefined,
      note: 'load generator, gateways and stubs share this machine; cpu fields are ms per request',
      loadAverageAtStart,
      loadAverageAtEnd: loadavg().map(round),
    },
    peers,
    notes,
    /** Medians over the rounds; every round's own row is in `rounds`. */
    rows: medians,
    rounds: rows,
    addedLatency: added,
  };
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `edge-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

await main();
