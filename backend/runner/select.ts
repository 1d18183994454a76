/**
 * Picks and builds the runner named by `--device`, and sizes its KV pool. The CUDA runner is
 * imported lazily so CPU-only installs never load (or need) the native addon.
 */
import { ConfigError } from '../../shared/config.ts';
import type { BackendOptions } from '../config.ts';
import { parseBytes } from '../config.ts';
import type { ModelSpec } from '../model/config.ts';
import { dummyWeights, loadWeights, type WeightSet } from '../model/loader.ts';
import { estimateKvBlockBytes } from './cpu/kv-pool.ts';
import type { Runner } from './runner.ts';

export type Device = 'cpu' | 'cuda' | 'reference';

export interface RunnerChoice {
  device: Device;
  runner: Runner;
  /** Why auto picked this device (shown at startup). */
  reason: string;
}

async function cudaStatus(): Promise<{ ok: boolean; reason?: string }> {
  try {
    const cuda = await import('./cuda/cuda-runner.ts');
    return cuda.cudaAvailable();
  } catch (err) {
    return { ok: false, reason: `CUDA runner not loadable: ${(err as Error).message}` };
  }
}

async function hostWeights(dir: string, spec: ModelSpec, opts: BackendOptions): Promise<WeightSet> {
  return opts.loadFormat === 'dummy' ? dummyWeights(spec, opts.seed) : loadWeights(dir, spec);
}

/** What each runner computes in; a --dtype it cannot honour is refused, never ignored. */
const COMPUTE_DTYPES: Record<Device, readonly string[]> = {
  cpu: ['float32'],
  reference: ['float32'],
  cuda: ['bfloat16'],
};

function checkDtype(device: Device, dtype: string): void {
  const supported = COMPUTE_DTYPES[device];
  if (dtype !== 'auto' && !supported.includes(dtype))
    throw new ConfigError(
      `--dtype ${dtype}: the ${device} runner computes in ${supported.join(' or ')} (use --dtype auto)`,
    );
}

export async function createRunner(
  dir: string,
  spec: ModelSpec,
  opts: BackendOptions,
): Promise<RunnerChoice> {
  let device = opts.device as Device | 'auto';
  let reason = `--device ${device}`;
  if (device === 'auto') {
    const cuda = await cudaStatus();
    device = cuda.ok ? 'cuda' : 'cpu';
    reason = cuda.ok
      ? 'auto: CUDA runner and GPU found'
      : `auto: ${cuda.reason ?? 'no GPU'}; using cpu`;
  }
  checkDtype(device, opts.dtype);
  if (opts.quantization !== 'none' && device !== 'cpu')
    throw new ConfigError(
      `--quantization ${opts.quantization} is implemented by the cpu runner only, not ${device}`,
    );
  if (opts.cpuThreads !== 0 && device !== 'cpu')
    throw new ConfigError(`--cpu-threads sets the cpu runner's threads; the runner is ${device}`);
  const blockSize = opts.blockSize;
  if (device === 'cuda') {
    const { createCudaRunner } = await import('./cuda/cuda-runner.ts');
    const runner = await createCudaRunner({
      modelDir: dir,
      spec,
      loadFormat: opts.loadFormat === 'dummy' ? 'dummy' : 'auto',
      blockSize,
      gpuMemoryUtilization: opts.gpuMemoryUtilization,
      maxNumSeqs: opts.maxNumSeqs ?? 256,
      maxNumBatchedTokens: opts.maxNumBatchedTokens ?? 4096,
      maxModelLen: opts.maxModelLen ?? spec.maxPositionEmbeddings,
      seed: opts.seed,
    });
    return { device, runner, reason };
  }
  const numBlocks = Math.floor(
    parseBytes(opts.kvCacheMemory) / estimateKvBlockBytes(spec, blockSize),
  );
  if (numBlocks < 1)
    throw new Error(`--kv-cache-memory ${opts.kvCacheMemory} holds no KV block of this model`);
  if (device === 'reference') {
    const { createReferenceRunner } = await import('./reference/reference-runner.ts');
    const weights = await hostWeights(dir, spec, opts);
    return {
      device,
      runner: createReferenceRunner({ spec, weights, numBlocks, blockSize }),
      reason,
    };
  }
  const { createCpuRunner } = await import('./cpu/cpu-runner.ts');
  const quantization = opts.quantization as 'none' | 'int8' | 'int4';
  // The worker reads checkpoint files itself, so real weights never cross the thread boundary.
  const source =
    opts.loadFormat === 'dummy'
      ? { weights: await hostWeights(dir, spec, opts) }
      : { modelDir: dir };
  const runner = await createCpuRunner({
    spec,
    ...source,
    numBlocks,
    blockSize,
    quantization,
    numThreads: opts.cpuThreads || undefined,
  });
  return { device, runner, reason };
}
