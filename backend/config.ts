/** The backend's one typed configuration: flags (vLLM names) over env over defaults. */
import { type Options, parseOptions } from '../shared/config.ts';

export const backendOptionSpecs = {
  model: {
    type: 'string',
    meta: 'DIR',
    env: 'EDGESERVE_MODEL',
    help: 'Hugging Face model folder (config.json, *.safetensors, tokenizer.json)',
  },
  device: {
    type: 'string',
    choices: ['auto', 'cpu', 'cuda', 'reference'],
    default: 'auto',
    env: 'EDGESERVE_DEVICE',
    help: 'runner: cuda (our addon), cpu (onnxruntime-node), reference (plain TypeScript oracle); auto picks cuda when its addon and a GPU are present',
  },
  host: { type: 'string', default: '127.0.0.1', env: 'HOST', help: 'address to listen on' },
  port: {
    type: 'int',
    default: 8000,
    min: 0,
    max: 65535,
    env: 'PORT',
    help: 'port to listen on (0 picks a free one)',
  },
  servedModelName: {
    type: 'string',
    meta: 'NAME',
    help: 'model id reported by the API (default: the folder name)',
  },
  apiKey: {
    type: 'string',
    meta: 'KEY',
    env: 'EDGESERVE_API_KEY',
    help: 'require Authorization: Bearer KEY on /v1 routes',
  },
  maxNumSeqs: {
    type: 'int',
    min: 1,
    help: 'most sequences in one step (default: 256 on cuda, 16 on cpu)',
  },
  maxNumBatchedTokens: {
    type: 'int',
    min: 1,
    help: 'token budget of one step (default: 4096 on cuda, 512 on cpu)',
  },
  blockSize: { type: 'int', default: 16, min: 1, max: 256, help: 'tokens per KV-cache block' },
  gpuMemoryUtilization: {
    type: 'number',
    default: 0.9,
    min: 0.05,
    max: 0.99,
    help: 'fraction of GPU memory for weights + KV cache (cuda)',
  },
  kvCacheMemory: {
    type: 'string',
    default: '1GiB',
    meta: 'SIZE',
    env: 'EDGESERVE_KV_CACHE_MEMORY',
    help: 'KV-cache size on cpu/reference, e.g. 512MiB, 4GiB',
  },
  maxModelLen: {
    type: 'int',
    min: 1,
    help: "longest prompt + output (default: the model's max_position_embeddings)",
  },
  maxQueueLen: {
    type: 'int',
    default: 1024,
    min: 0,
    help: 'waiting requests beyond which new ones get 503 + retry-after',
  },
  enablePrefixCaching: {
    type: 'bool',
    default: true,
    help: 'reuse KV blocks of identical prompt prefixes',
  },
  dtype: {
    type: 'string',
    choices: ['auto', 'float32', 'float16', 'bfloat16'],
    default: 'auto',
    help: 'compute dtype; cpu and reference compute in float32, cuda in bfloat16 (fp16/fp32 checkpoints are converted); another value is refused',
  },
  quantization: {
    type: 'string',
    choices: ['none', 'int8', 'int4'],
    default: 'none',
    help: 'weight-only quantisation on load (cpu runner only; refused elsewhere)',
  },
  cpuThreads: {
    type: 'int',
    default: 0,
    min: 0,
    max: 1024,
    help: 'onnxruntime intra-op threads of the cpu runner (0: every core but one; refused elsewhere)',
  },
  loadFormat: {
    type: 'string',
    choices: ['auto', 'safetensors', 'dummy'],
    default: 'auto',
    help: "dummy: random weights of the config's shape (benchmarks)",
  },
  seed: { type: 'int', default: 0, help: 'seed for dummy weights and unseeded sampling' },
  logLevel: {
    type: 'string',
    choices: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    env: 'LOG_LEVEL',
    help: 'log level (JSON lines on stderr)',
  },
} as const;

export type BackendOptions = Options<typeof backendOptionSpecs>;

export function parseBackendOptions(
  argv: string[],
  env: Record<string, string | undefined>,
): BackendOptions {
  return parseOptions(backendOptionSpecs, argv, env);
}

/** `512MiB`, `4GiB`, `1e9` → bytes. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB|TiB)?$/i.exec(text.trim());
  if (!m) throw new Error(`invalid size '${text}' (use e.g. 512MiB, 4GiB)`);
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    kib: 1024,
    mib: 1024 ** 2,
    gib: 1024 ** 3,
    tib: 1024 ** 4,
  };
  return Math.floor(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
}
