/** `edgeserve bench serve`: flags → workload → run → table on stdout, JSON on disk. */
import { join } from 'node:path';
import { type Options, parseOptions } from '../shared/config.ts';
import { parseRequestRate } from './arrivals.ts';
import type { Endpoint, Target } from './client.ts';
import { buildDataset } from './dataset.ts';
import { datasetOptionSpecs, datasetSpec } from './dataset-options.ts';
import { parseGoodputSlo } from './metrics.ts';
import { acceptsTokenPrompts, firstModel, serverVersion } from './probe.ts';
import { provenance } from './provenance.ts';
import {
  formatTable,
  parseServerInfo,
  requestRecords,
  SERVE_SCHEMA,
  type ServeResult,
  writeResult,
} from './report.ts';
import { createPool, runServe } from './serve.ts';

export const serveOptionSpecs = {
  baseUrl: { type: 'string', meta: 'URL', help: 'server to measure, e.g. http://127.0.0.1:8000' },
  endpoint: {
    type: 'string',
    choices: ['/v1/completions', '/v1/chat/completions'],
    default: '/v1/completions',
    help: 'API route to call',
  },
  model: { type: 'string', meta: 'ID', help: 'model id (default: the first of GET /v1/models)' },
  apiKey: {
    type: 'string',
    meta: 'KEY',
    env: 'OPENAI_API_KEY',
    help: 'sent as Authorization: Bearer KEY',
  },
  ...datasetOptionSpecs,
  vocabSize: {
    type: 'int',
    min: 1,
    help: "token ids are drawn from [0, N) (default: the server's /version vocab_size, else 1000)",
  },
  promptFormat: {
    type: 'string',
    choices: ['auto', 'tokens', 'text'],
    default: 'auto',
    help: 'tokens: token-id arrays (completions); text: random words; auto: tokens when the server takes them',
  },
  requestRate: {
    type: 'string',
    default: 'inf',
    meta: 'RATE',
    help: "requests/s ('inf': all at once)",
  },
  burstiness: { type: 'number', default: 1, help: 'gamma shape of arrival gaps (1 = Poisson)' },
  maxConcurrency: { type: 'int', min: 1, help: 'most requests in flight at once' },
  ignoreEos: {
    type: 'bool',
    default: false,
    help: 'send ignore_eos so every request generates its full length',
  },
  temperature: { type: 'number', min: 0, default: 0, help: 'sampling temperature sent' },
  seed: { type: 'int', default: 0, help: 'seed of the workload and arrival times' },
  goodput: {
    type: 'list',
    meta: 'SLO',
    help: 'SLOs in ms, e.g. --goodput ttft:500 tpot:50 (keys: ttft, tpot, e2el)',
  },
  label: {
    type: 'string',
    meta: 'NAME',
    help: 'name of the system measured (table, JSON, charts)',
  },
  deviceName: {
    type: 'string',
    meta: 'NAME',
    help: "device measured (default: the server's /version device)",
  },
  serverInfo: {
    type: 'string',
    meta: 'TEXT',
    help: 'how the server was started (flags or JSON), stored in the result',
  },
  resultDir: {
    type: 'string',
    meta: 'DIR',
    help: 'write the JSON result here (file name from the run)',
  },
  resultFile: {
    type: 'string',
    meta: 'FILE',
    help: 'write the JSON result to this file (inside --result-dir if given)',
  },
  saveDetailed: {
    type: 'bool',
    default: false,
    help: 'also store every inter-token gap per request',
  },
  quiet: { type: 'bool', default: false, help: 'no progress line on stderr' },
} as const;

export type ServeOptions = Options<typeof serveOptionSpecs>;

/** Lets `--goodput ttft:500 tpot:50` (space-separated, as vLLM takes it) through the flag parser. */
export function joinGoodputArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--goodput') {
      out.push(argv[i]!);
      continue;
    }
    const values: string[] = [];
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) values.push(argv[++i]!);
    out.push(`--goodput=${values.join(',')}`);
  }
  return out;
}

export function parseServeOptions(argv: string[], env: Record<string, string | undefined>) {
  return parseOptions(serveOptionSpecs, joinGoodputArgs(argv), env);
}

/** Looks for a vocabulary size and a device name where servers commonly put them in /version. */
function fromVersion(version: Record<string, unknown> | null, key: string): unknown {
  if (!version) return undefined;
  const model = version.model as Record<string, unknown> | undefined;
  const engine = version.engine as Record<string, unknown> | undefined;
  return version[key] ?? model?.[key] ?? engine?.[key];
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function versionField(version: Record<string, unknown> | null, key: string): unknown {
  return fromVersion(version, key) ?? fromVersion(version, camel(key));
}

function resultPath(o: ServeOptions, result: ServeResult): string | null {
  if (!o.resultDir && !o.resultFile) return null;
  const rate = result.workload.requestRate;
  const name =
    o.resultFile ??
    `${result.label ?? 'serve'}-${result.workload.dataset.name}-c${result.workload.maxConcurrency ?? 'inf'}-r${rate}-${result.date.replace(/[:.]/g, '-')}.json`;
  return o.resultDir ? join(o.resultDir, name) : name;
}

export async function runServeCommand(o: ServeOptions, log = console.log): Promise<ServeResult> {
  if (!o.baseUrl) throw new RangeError('--base-url is required');
  const apiKey = o.apiKey ?? null;
  const probePool = createPool(o.baseUrl, 2);
  const version = await serverVersion(probePool, o.baseUrl, apiKey);
  const model = o.model ?? (await firstModel(probePool, o.baseUrl, apiKey));
  const endpoint = o.endpoint as Endpoint;
  let promptFormat: 'tokens' | 'text' = o.promptFormat === 'tokens' ? 'tokens' : 'text';
  if (o.promptFormat === 'auto' && endpoint === '/v1/completions')
    promptFormat = (await acceptsTokenPrompts(probePool, o.baseUrl, apiKey, model))
      ? 'tokens'
      : 'text';
  await probePool.close();
  const vocabFromServer = Number(versionField(version, 'vocab_size'));
  const vocabSize = o.vocabSize ?? (vocabFromServer > 0 ? vocabFromServer : 1000);
  const target: Target = {
    baseUrl: o.baseUrl,
    endpoint,
    model,
    apiKey,
    promptFormat,
    ignoreEos: o.ignoreEos,
    temperature: o.temperature,
  };
  const dataset = datasetSpec(o);
  const requests = buildDataset(dataset, { vocabSize, seed: o.seed });
  const requestRate = parseRequestRate(o.requestRate);
  const goodput = o.goodput?.length ? parseGoodputSlo(o.goodput) : null;
  log(
    `bench serve: ${requests.length} ${dataset.name} requests → ${o.baseUrl}${endpoint} (${model}, ${promptFormat} prompts)`,
  );
  const progress = (done: number, total: number) => {
    if (!o.quiet && process.stderr.isTTY) process.stderr.write(`\r${done}/${total} requests`);
  };
  const run = await runServe({
    target,
    requests,
    requestRate,
    burstiness: o.burstiness,
    maxConcurrency: o.maxConcurrency ?? null,
    seed: o.seed,
    goodput,
    onResult: progress,
  });
  if (!o.quiet && process.stderr.isTTY) process.stderr.write('\n');
  const { apiKey: _secret, ...publicTarget } = target;
  const deviceName = o.deviceName ?? versionField(version, 'device');
  const result: ServeResult = {
    schema: SERVE_SCHEMA,
    label: o.label ?? null,
    ...(await provenance()),
    device:
      typeof deviceName === 'string' ? deviceName : deviceName ? JSON.stringify(deviceName) : null,
    target: publicTarget,
    server: { version, info: parseServerInfo(o.serverInfo) },
    workload: {
      dataset,
      seed: o.seed,
      vocabSize,
      requestRate: Number.isFinite(requestRate) ? requestRate : 'inf',
      burstiness: o.burstiness,
      maxConcurrency: o.maxConcurrency ?? null,
    },
    metrics: { ...run.metrics, peakConcurrency: run.peakConcurrency },
    requests: requestRecords(run.timelines, o.saveDetailed),
  };
  log(formatTable(result));
  const cached = result.metrics.totalCachedTokens ?? 0;
  if (cached > 0 && dataset.name !== 'prefix')
    log(
      `note: ${cached} prompt tokens came from the server's prefix cache; an earlier run with the same --seed warms it (use another seed, or restart the server)`,
    );
  const firstError = run.timelines.find((t) => !t.ok)?.error;
  if (firstError) log(`first error: ${firstError}`);
  const path = resultPath(o, result);
  if (path) {
    writeResult(path, result);
    log(`result: ${path}`);
  }
  return result;
}
