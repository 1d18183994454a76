/**
 * One command, every system measured the same way in the same run:
 *   npx tsx bench/run-suite.ts --device cpu --model DIR --concurrency 1,4,16 --dataset random ...
 * 1. our backend, started here as a subprocess (`edgeserve backend`), then `bench serve` at each
 *    concurrency; 2. any peer servers given by URL, same workload; 3. the same workload offline
 *    through the in-process engine (no HTTP); 4. on a GPU, optionally the transformers
 *    continuous-batching peer and the roofline (Python). Every result lands in --out as JSON.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Options, parseOptions } from '../shared/config.ts';
import { buildDataset, promptTokenIds } from './dataset.ts';
import { datasetOptionSpecs, datasetSpec } from './dataset-options.ts';
import { parseOfflineOptions, runOfflineCommand } from './offline-command.ts';
import type { ServeResult } from './report.ts';
import { parseServeOptions, runServeCommand } from './serve-command.ts';

const suiteSpecs = {
  ...datasetOptionSpecs,
  model: { type: 'string', meta: 'DIR', help: 'model folder for our backend' },
  device: {
    type: 'string',
    choices: ['cpu', 'cuda', 'reference'],
    default: 'cpu',
    help: 'our runner',
  },
  backendArgs: { type: 'string', default: '', help: "extra flags for 'edgeserve backend', quoted" },
  port: { type: 'int', default: 18000, help: 'port for our backend' },
  label: {
    type: 'string',
    meta: 'NAME',
    help: 'label of our backend (default: edgeserve-<device>)',
  },
  concurrency: {
    type: 'list',
    help: 'max-concurrency values to sweep (default: 1,4,16)',
  },
  seed: { type: 'int', default: 0, help: 'workload seed' },
  peer: {
    type: 'list',
    meta: 'NAME=URL',
    help: 'running OpenAI-compatible servers to measure too',
  },
  offline: {
    type: 'bool',
    default: true,
    help: 'also run the workload through the in-process engine',
  },
  hfConfig: {
    type: 'string',
    meta: 'NAME',
    help: 'GPU: run the transformers peer with this config',
  },
  hfArgs: { type: 'string', default: '', help: 'extra flags for hf_generate_batch.py' },
  roofline: { type: 'string', meta: 'NAME', help: 'GPU: measure the roofline for this config' },
  deviceName: { type: 'string', meta: 'NAME', help: 'device name in results (default: detected)' },
  out: {
    type: 'string',
    meta: 'DIR',
    help: 'results folder (default: bench/results/<device>-<date>)',
  },
  startupTimeoutS: { type: 'int', default: 900, help: 'wait this long for /health' },
} as const;

type SuiteOptions = Options<typeof suiteSpecs>;

function detectDeviceName(device: string): string {
  if (device === 'cuda') {
    try {
      const gpu = execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], {
        encoding: 'utf8',
      });
      return gpu.trim().split('\n')[0]!;
    } catch {
      return 'cuda (unknown GPU)';
    }
  }
  return `${cpus()[0]?.model ?? 'CPU'} x${cpus().length} (${device})`;
}

async function waitHealthy(url: string, child: ChildProcess, timeoutS: number): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`backend exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return;
    } catch {}
    await sleep(500);
  }
  throw new Error(`backend not healthy after ${timeoutS}s`);
}

async function startOurBackend(o: SuiteOptions) {
  const args = ['bin/edgeserve.js', 'backend', '--model', o.model!, '--device', o.device];
  args.push(
    '--port',
    String(o.port),
    '--log-level',
    'warn',
    ...o.backendArgs.split(/\s+/).filter(Boolean),
  );
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${o.port}`;
  await waitHealthy(url, child, o.startupTimeoutS);
  const stop = async () => {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  };
  return { url, serverInfo: args.slice(1).join(' '), stop };
}

async function sweep(
  o: SuiteOptions,
  label: string,
  baseUrl: string,
  serverInfo: string,
  vocabSize?: number,
) {
  const results: ServeResult[] = [];
  for (const [i, c] of (o.concurrency ?? ['1', '4', '16']).entries()) {
    // A fresh draw per step: the server's prefix cache would otherwise serve every later step's
    // prompts from the earlier ones. Step i uses the same seed on every system measured.
    const serve = { ...parseServeOptions([], {}), ...pickDataset(o), seed: o.seed + i };
    Object.assign(serve, {
      baseUrl,
      label,
      serverInfo,
      maxConcurrency: Number(c),
      ignoreEos: true,
    });
    Object.assign(serve, { deviceName: o.deviceName, resultDir: o.out, quiet: true, vocabSize });
    results.push(await runServeCommand(serve));
  }
  return results;
}

function pickDataset(o: SuiteOptions) {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(datasetOptionSpecs)) picked[key] = o[key as keyof SuiteOptions];
  return picked;
}

function python(script: string, args: string[]): void {
  execFileSync('python3', [join('bench/peers', script), ...args], { stdio: 'inherit' });
}

function exportWorkload(o: SuiteOptions, vocabSize: number): string {
  const requests = buildDataset(datasetSpec(o), { vocabSize, seed: o.seed }).map((r) => ({
    prompt_token_ids: promptTokenIds(r),
    output_len: r.outputLen,
  }));
  const path = join(o.out!, 'workload.json');
  writeFileSync(
    path,
    JSON.stringify({ dataset: datasetSpec(o), seed: o.seed, vocabSize, requests }),
  );
  return path;
}

function configVocab(modelDir: string | undefined): number | undefined {
  if (!modelDir) return undefined;
  return JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')).vocab_size;
}

export async function runSuite(argv: string[]): Promise<void> {
  const parsed = parseOptions(suiteSpecs, argv, {});
  const out =
    parsed.out ??
    join('bench/results', `${parsed.device}-${new Date().toISOString().slice(0, 10)}`);
  const o = {
    ...parsed,
    deviceName: parsed.deviceName ?? detectDeviceName(parsed.device),
    out: resolve(out),
  };
  const vocabSize = configVocab(o.model);
  if (o.model) {
    const ours = await startOurBackend(o);
    try {
      await sweep(o, o.label ?? `edgeserve-${o.device}`, ours.url, ours.serverInfo, vocabSize);
    } finally {
      await ours.stop();
    }
  }
  for (const peer of o.peer ?? []) {
    const [name, url] = peer.split('=') as [string, string];
    await sweep(o, name, url, `peer at ${url}`);
  }
  if (o.model && o.offline) {
    const offline = { ...parseOfflineOptions([], {}), ...pickDataset(o), seed: o.seed };
    Object.assign(offline, { model: o.model, device: o.device, resultDir: o.out });
    Object.assign(offline, {
      label: `${o.label ?? `edgeserve-${o.device}`}-offline`,
      deviceName: o.deviceName,
    });
    await runOfflineCommand('throughput', offline);
  }
  if (o.hfConfig || o.roofline) {
    const workload = exportWorkload(o, vocabSize ?? 32000);
    if (o.hfConfig)
      python('hf_generate_batch.py', [
        '--config',
        o.hfConfig,
        '--workload',
        workload,
        '--result-file',
        join(o.out, `hf-${o.hfConfig}.json`),
        ...o.hfArgs.split(/\s+/).filter(Boolean),
      ]);
    if (o.roofline)
      python('roofline.py', [
        '--config',
        o.roofline,
        '--workload',
        workload,
        '--result-file',
        join(o.out, `roofline-${o.roofline}.json`),
      ]);
  }
  console.log(`results: ${o.out}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await runSuite(process.argv.slice(2));
