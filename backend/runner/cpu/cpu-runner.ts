/**
 * The CPU runner: onnxruntime-node in a worker thread. This side is a thin proxy that posts each
 * SchedulerOutput to the worker and resolves with its RunnerOutput; the worker holds the session,
 * the paged KV pool and the sampler.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ModelSpec } from '../../model/config.ts';
import type { WeightSet } from '../../model/loader.ts';
import type { KvCacheInfo, Runner, RunnerOutput, SchedulerOutput } from '../runner.ts';
import type { Quantization } from './decoder-graph.ts';
import { exportFloat32 } from './memory-weights.ts';
import type { FromWorker, InitMessage, ToWorker } from './worker-protocol.ts';

export type { Quantization } from './decoder-graph.ts';
export { estimateKvBlockBytes } from './kv-pool.ts';

export interface CpuRunnerOptions {
  spec: ModelSpec;
  /** Weights in memory; when absent the worker loads them from `modelDir`. */
  weights?: WeightSet;
  modelDir?: string;
  numBlocks: number;
  blockSize: number;
  /** Weight-only quantisation applied on load (MatMulNBits); default 'none'. */
  quantization?: Quantization;
  /** MatMulNBits block size (default 128) and symmetric mode (default asymmetric, zero points). */
  quantBlockSize?: 16 | 32 | 64 | 128;
  quantSymmetric?: boolean;
  /** MatMulNBits accuracy_level: 4 (int8 activations, default) or 0 (fp32). */
  accuracyLevel?: 0 | 1 | 4;
  /** ORT intra-op threads; default `defaultNumThreads()` (every core but one). */
  numThreads?: number;
  /** Idle ORT threads spin for work (default false: spinning only pays on idle, dedicated cores). */
  allowSpinning?: boolean;
  /** Keep each step's sampled logits for `lastLogits()` (tests; costs a copy per step). */
  keepLogits?: boolean;
  /**
   * The worker's entry module. Default: cpu-worker.ts beside this file, run through tsx. A bundle
   * (esbuild) passes its own built worker file here; a `.js` entry runs without tsx.
   */
  workerEntry?: string | URL;
}

/**
 * Every core but one: the main thread (HTTP, engine, tokenizer) keeps a core, and on a 2-core box
 * one ORT thread beats two by far once other processes compete for the cores, because a parallel
 * section waits for its slowest, descheduled thread (bench/cpu/runner-bench.ts, docs/benchmarks.md).
 */
export function defaultNumThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

interface Pending {
  resolve: (output: RunnerOutput) => void;
  reject: (err: Error) => void;
}

class CpuRunner implements Runner {
  readonly name = 'cpu';
  readonly kvCache: KvCacheInfo;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private logits: Float32Array[] | null = null;
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly worker: Worker,
    kvCache: KvCacheInfo,
    private readonly keepLogits: boolean,
  ) {
    this.kvCache = kvCache;
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) =>
      this.fail(new Error(`the CPU runner worker exited (code ${code})`)),
    );
  }

  execute(batch: SchedulerOutput): Promise<RunnerOutput> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error('the CPU runner is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'execute', id, batch } satisfies ToWorker);
    });
  }

  lastLogits(): Float32Array[] {
    if (!this.keepLogits) throw new Error('create the CPU runner with keepLogits to read logits');
    return this.logits ?? [];
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
    return this.closing;
  }

  private onMessage(message: FromWorker): void {
    if (message.type === 'closed') {
      void this.worker.terminate();
      return;
    }
    if (message.type === 'result') {
      this.logits = message.logits;
      this.pending.get(message.id)?.resolve(message.output);
      this.pending.delete(message.id);
    } else if (message.type === 'error') {
      const err = Object.assign(new Error(message.message), { stack: message.stack });
      if (message.id === null) {
        this.fail(err);
        return;
      }
      this.pending.get(message.id)?.reject(err);
      this.pending.delete(message.id);
    }
  }

  private fail(err: Error): void {
    if (this.closing) return;
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** tsx's ESM register API, resolved through its package exports (its CJS build cannot register). */
function tsxEsmApi(): string {
  const packageJson = createRequire(import.meta.url).resolve('tsx/package.json');
  const exports = JSON.parse(readFileSync(packageJson, 'utf8')).exports['./esm/api'];
  return new URL(exports.import.default, pathToFileURL(packageJson)).href;
}

/**
 * A `.ts` entry is loaded through tsx's loader, registered inside the worker first (Node 20 does
 * not apply `--import tsx` from a Worker's execArgv); a `.js` entry (a bundle) starts directly.
 */
function startWorker(entry: string | URL): Worker {
  const url = entry instanceof URL ? entry : pathToFileURL(entry);
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  const tsxApi = tsxEsmApi();
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { eval: true });
}

/** Starts the worker, builds the graph there and resolves once the session is ready. */
export async function createCpuRunner(options: CpuRunnerOptions): Promise<Runner> {
  if (!options.weights && !options.modelDir) {
    throw new Error('createCpuRunner needs weights or a modelDir');
  }
  const exported = options.weights ? exportFloat32(options.weights) : null;
  const worker = startWorker(options.workerEntry ?? new URL('./cpu-worker.ts', import.meta.url));
  const init: InitMessage = {
    type: 'init',
    spec: options.spec,
    tensors: exported?.tensors ?? null,
    modelDir: options.modelDir ?? null,
    numBlocks: options.numBlocks,
    blockSize: options.blockSize,
    numThreads: options.numThreads ?? defaultNumThreads(),
    allowSpinning: options.allowSpinning ?? false,
    keepLogits: options.keepLogits ?? false,
    quantization: options.quantization ?? 'none',
    quantBlockSize: options.quantBlockSize,
    quantSymmetric: options.quantSymmetric,
    accuracyLevel: options.accuracyLevel,
  };
  const kvBytes = await new Promise<number>((resolve, reject) => {
    const onMessage = (message: FromWorker) => {
      if (message.type === 'ready') resolve(message.kvBytes);
      else if (message.type === 'error') reject(new Error(`CPU runner init: ${message.message}`));
      else return;
      worker.off('message', onMessage);
      worker.off('error', reject);
    };
    worker.on('message', onMessage);
    worker.on('error', reject);
    worker.postMessage(init, exported?.transfer ?? []);
  }).catch(async (err) => {
    await worker.terminate();
    throw err;
  });
  const kvCache = { numBlocks: options.numBlocks, blockSize: options.blockSize, bytes: kvBytes };
  return new CpuRunner(worker, kvCache, options.keepLogits ?? false);
}
