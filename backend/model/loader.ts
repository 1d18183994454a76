/**
 * Model weights: a `WeightSet` over a Hugging Face safetensors checkpoint (single file or sharded
 * with model.safetensors.index.json), or over deterministic random weights for tests. Tensor bytes
 * are read lazily, one tensor at a time, so a checkpoint larger than one JS buffer still loads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSpec } from './config.ts';
import { fromFloat32, toFloat32 } from './dtype.ts';
import {
  type DType,
  elementCount,
  readSafetensorsHeader,
  readTensorBytes,
  type TensorEntry,
} from './safetensors.ts';
import { checkTensorShapes, expectedTensorShapes } from './weight-names.ts';

export type { DType } from './safetensors.ts';
export { writeSafetensors } from './safetensors.ts';
export { checkTensorShapes, expectedTensorShapes } from './weight-names.ts';

export interface WeightTensor {
  name: string;
  dtype: DType;
  shape: number[];
  /** Raw little-endian bytes (a fresh buffer owned by the caller). */
  data: Uint8Array;
}

export interface WeightSet {
  names(): string[];
  has(name: string): boolean;
  /** Throws naming the tensor when it is absent. */
  get(name: string): WeightTensor;
  /** The tensor as a fresh float32 array; F16/BF16 convert exactly. Throws for integer dtypes. */
  float32(name: string): Float32Array;
  /** Shape and dtype without reading bytes. */
  info(name: string): { dtype: DType; shape: number[] };
}

interface Located {
  path: string;
  entry: TensorEntry;
}

class CheckpointWeights implements WeightSet {
  constructor(private readonly tensors: Map<string, Located>) {}

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): { dtype: DType; shape: number[] } {
    const { entry } = this.locate(name);
    return { dtype: entry.dtype, shape: [...entry.shape] };
  }

  get(name: string): WeightTensor {
    const { path, entry } = this.locate(name);
    return {
      name,
      dtype: entry.dtype,
      shape: [...entry.shape],
      data: readTensorBytes(path, entry),
    };
  }

  float32(name: string): Float32Array {
    const t = this.get(name);
    return toFloat32(t.data, t.dtype);
  }

  private locate(name: string): Located {
    const found = this.tensors.get(name);
    if (!found) throw new Error(`weight tensor ${name} is not in the checkpoint`);
    return found;
  }
}

function readIndex(indexPath: string): Map<string, string> {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new Error(`${indexPath}: ${(err as Error).message}`);
  }
  const map = (index as { weight_map?: unknown })?.weight_map;
  if (!map || typeof map !== 'object') throw new Error(`${indexPath}: weight_map is missing`);
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
      throw new Error(
        `${indexPath}: weight_map.${name} must be a file name, got ${JSON.stringify(file)}`,
      );
    }
    out.set(name, file);
  }
  return out;
}

function loadSharded(dir: string, indexPath: string): Map<string, Located> {
  const weightMap = readIndex(indexPath);
  const headers = new Map<string, Map<string, TensorEntry>>();
  for (const file of new Set(weightMap.values())) {
    const path = join(dir, file);
    if (!existsSync(path))
      throw new Error(`${indexPath} names shard ${file}, which does not exist`);
    headers.set(file, readSafetensorsHeader(path).entries);
  }
  const tensors = new Map<string, Located>();
  for (const [name, file] of weightMap) {
    const entry = headers.get(file)!.get(name);
    if (!entry) throw new Error(`${indexPath} places ${name} in ${file}, but that shard lacks it`);
    tensors.set(name, { path: join(dir, file), entry });
  }
  return tensors;
}

function loadSingle(path: string): Map<string, Located> {
  const header = readSafetensorsHeader(path);
  const tensors = new Map<string, Located>();
  for (const [name, entry] of header.entries) tensors.set(name, { path, entry });
  return tensors;
}

/**
 * Opens the checkpoint in `dir` and validates every header. With `spec`, also checks that the
 * tensor names and shapes are exactly the family's (missing/extra/mis-shaped → one clear error).
 */
export async function loadWeights(dir: string, spec?: ModelSpec): Promise<WeightSet> {
  const indexPath = join(dir, 'model.safetensors.index.json');
  const singlePath = join(dir, 'model.safetensors');
  let tensors: Map<string, Located>;
  if (existsSync(indexPath)) tensors = loadSharded(dir, indexPath);
  else if (existsSync(singlePath)) tensors = loadSingle(singlePath);
  else throw new Error(`${dir} holds neither model.safetensors nor model.safetensors.index.json`);
  if (spec) {
    const shapes = new Map([...tensors].map(([name, t]) => [name, t.entry.shape]));
    checkTensorShapes(spec, shapes, dir);
  }
  return new CheckpointWeights(tensors);
}

/** FNV-1a over the name, mixed with the seed: each tensor gets its own stream. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: small, fast and good enough for test weights. */
function uniformStream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Norms near 1, biases small, matrices scaled so activations keep roughly unit variance. */
function dummyValues(name: string, shape: number[], seed: number): Float32Array {
  const next = uniformStream(tensorSeed(seed, name));
  const out = new Float32Array(elementCount(shape));
  const isNorm = name.endsWith('norm.weight');
  const isBias = name.endsWith('.bias');
  const fanIn = shape[shape.length - 1];
  // Embeddings double as the LM head when tied; both are scaled so logits spread over a few
  // nats (neither uniform nor one-hot), which keeps greedy and sampled runs informative.
  const range = name.includes('embed_tokens')
    ? 0.4
    : Math.sqrt(3 / fanIn) * (name === 'lm_head.weight' ? 3 : 1);
  for (let i = 0; i < out.length; i++) {
    const u = next() * 2 - 1;
    out[i] = isNorm ? 1 + 0.1 * u : isBias ? 0.1 * u : range * u;
  }
  return out;
}

/** Deterministic random weights with the family's HF names and shapes, generated on demand. */
export function dummyWeights(
  spec: ModelSpec,
  seed: number,
  dtype: 'F32' | 'BF16' = 'F32',
): WeightSet {
  const shapes = expectedTensorShapes(spec);
  const shapeOf = (name: string) => {
    const shape = shapes.get(name);
    if (!shape)
      throw new Error(`weight tensor ${name} is not part of a ${spec.architecture} model`);
    return shape;
  };
  const get = (name: string): WeightTensor => {
    const shape = shapeOf(name);
    const data = fromFloat32(dummyValues(name, shape, seed), dtype);
    return { name, dtype, shape: [...shape], data };
  };
  return {
    names: () => [...shapes.keys()],
    has: (name) => shapes.has(name),
    info: (name) => ({ dtype, shape: [...shapeOf(name)] }),
    get,
    float32: (name) => {
      const t = get(name);
      return toFloat32(t.data, t.dtype);
    },
  };
}
