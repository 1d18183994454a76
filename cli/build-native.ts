/**
 * `edgeserve build-native` (`npm run build:native`): builds the CUDA addon with nvcc into
 * backend/native/build/edgeserve_cuda.node. Before compiling it checks for everything the build
 * needs (nvcc, the CUDA runtime and cuBLAS headers, Node's N-API headers) and, when something is
 * missing, prints exactly what and where it looked, then exits 1 without running anything.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type OptionSpecs, parseOptions } from '../shared/config.ts';
import type { Command } from './command.ts';
import { wantsHelp } from './help.ts';

const run = promisify(execFile);
const nativeDir =
  process.env.EDGESERVE_NATIVE_DIR ??
  join(dirname(fileURLToPath(import.meta.url)), '..', 'backend', 'native');

export const nativeSources = [
  'norm.cu',
  'embedding.cu',
  'activation.cu',
  'gemv.cu',
  'gemm.cu',
  'rope-qkv.cu',
  'attention-decode.cu',
  'attention-prefill.cu',
  'sampling.cu',
  'sampling-fast.cu',
  'weights-init.cu',
  'model.cu',
  'forward.cu',
  'api.cu',
  'binding.cc',
  'execute.cc',
];

const specs = {
  arch: {
    type: 'string',
    default: '90a',
    help: 'GPU architecture(s), comma-separated (e.g. 80,90a)',
  },
  jobs: { type: 'int', default: 0, min: 0, help: 'parallel nvcc jobs (0: one per core)' },
} satisfies OptionSpecs;

export interface NativeBuildPlan {
  missing: string[];
  nvcc: string | null;
  includeDirs: string[];
  libDirs: string[];
}

function findFile(dirs: string[], file: string): string | null {
  for (const d of dirs) if (d && existsSync(join(d, file))) return d;
  return null;
}

/** Finds the toolchain from env alone (PATH, CUDA_HOME, CPATH, …); pure apart from fs checks. */
export function planNativeBuild(
  env: Record<string, string | undefined>,
  nodeExec = process.execPath,
): NativeBuildPlan {
  const missing: string[] = [];
  const cudaHome = env.CUDA_HOME ?? env.CUDA_PATH ?? '/usr/local/cuda';
  const pathDirs = (env.PATH ?? '').split(delimiter);
  const nvccDir = findFile([...pathDirs, join(cudaHome, 'bin')], 'nvcc');
  if (!nvccDir)
    missing.push(
      `nvcc (the CUDA compiler): not on PATH nor in ${join(cudaHome, 'bin')}; install the CUDA toolkit or set CUDA_HOME`,
    );
  const extraIncludes = (env.CPATH ?? '').split(delimiter).filter(Boolean);
  const cudaIncludes = [
    join(cudaHome, 'include'),
    join(cudaHome, 'targets', 'x86_64-linux', 'include'),
    ...extraIncludes,
  ];
  const runtimeInc = findFile(cudaIncludes, 'cuda_runtime.h');
  if (!runtimeInc)
    missing.push(`cuda_runtime.h (CUDA runtime headers): looked in ${cudaIncludes.join(', ')}`);
  const cublasInc = findFile(cudaIncludes, 'cublas_v2.h');
  if (!cublasInc)
    missing.push(
      `cublas_v2.h (cuBLAS headers): looked in ${cudaIncludes.join(', ')}; install libcublas-dev or add its include dir to CPATH`,
    );
  const napiDirs = [
    env.EDGESERVE_NAPI_INCLUDE ?? '',
    join(dirname(nodeExec), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  const napiInc = findFile(napiDirs, 'node_api.h');
  if (!napiInc)
    missing.push(
      `node_api.h (Node's N-API headers): looked in ${napiDirs.filter(Boolean).join(', ')}; set EDGESERVE_NAPI_INCLUDE`,
    );
  const libCandidates = [
    join(cudaHome, 'lib64'),
    join(cudaHome, 'lib'),
    ...(env.LIBRARY_PATH ?? '').split(delimiter).filter(Boolean),
  ];
  const includeDirs = [
    ...new Set([runtimeInc, cublasInc, napiInc].filter((d): d is string => d !== null)),
  ];
  return {
    missing,
    nvcc: nvccDir ? join(nvccDir, 'nvcc') : null,
    includeDirs,
    libDirs: libCandidates.filter((d) => existsSync(d)),
  };
}

function gencodes(arch: string): string[] {
  return arch.split(',').map((a) => `-gencode=arch=compute_${a.trim()},code=sm_${a.trim()}`);
}

async function pool<T>(items: T[], jobs: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(jobs, items.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

export const command: Command = {
  summary: 'Build the CUDA runner addon with nvcc',
  async run(argv) {
    if (wantsHelp(argv, 'Usage: edgeserve build-native [--arch 90a] [--jobs N]', specs)) return 0;
    const opts = parseOptions(specs, argv, process.env);
    const plan = planNativeBuild(process.env);
    if (plan.missing.length > 0 || !plan.nvcc) {
      console.error('edgeserve build-native: cannot build the CUDA addon; missing:');
      for (const m of plan.missing) console.error(`  - ${m}`);
      return 1;
    }
    const nvcc = plan.nvcc;
    const buildDir = join(nativeDir, 'build');
    mkdirSync(buildDir, { recursive: true });
    const includes = plan.includeDirs.map((d) => `-I${d}`);
    const common = [
      '-O3',
      '-std=c++17',
      ...gencodes(opts.arch),
      '-Xcompiler',
      '-fPIC',
      ...includes,
    ];
    const started = Date.now();
    await pool(nativeSources, opts.jobs || availableParallelism(), async (src) => {
      const out = join(buildDir, `${basename(src).replace(/\.(cu|cc)$/, '')}.o`);
      console.error(`  nvcc ${src}`);
      await run(nvcc, [...common, '-c', join(nativeDir, 'src', src), '-o', out], {
        maxBuffer: 1 << 24,
      });
    });
    const objects = nativeSources.map((s) => join(buildDir, `${s.replace(/\.(cu|cc)$/, '')}.o`));
    const target = join(buildDir, 'edgeserve_cuda.node');
    const libs = plan.libDirs.map((d) => `-L${d}`);
    await run(
      nvcc,
      [
        '-shared',
        ...gencodes(opts.arch),
        '-o',
        target,
        ...objects,
        ...libs,
        '-lcublas',
        '-lcublasLt',
      ],
      { maxBuffer: 1 << 24 },
    );
    console.log(`built ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  },
};
