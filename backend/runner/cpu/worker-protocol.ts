/** Messages between `createCpuRunner` (main thread) and the CPU worker. */
import type { ModelSpec } from '../../model/config.ts';
import type { RunnerOutput, SchedulerOutput } from '../runner.ts';
import type { DecoderGraphOptions } from './decoder-graph.ts';
import type { MemoryTensor } from './memory-weights.ts';

export interface InitMessage extends DecoderGraphOptions {
  type: 'init';
  spec: ModelSpec;
  /** Weights handed over in memory; when absent the worker loads `modelDir` itself. */
  tensors: Map<string, MemoryTensor> | null;
  modelDir: string | null;
  numBlocks: number;
  blockSize: number;
  numThreads: number;
  allowSpinning: boolean;
  keepLogits: boolean;
}

export interface ExecuteMessage {
  type: 'execute';
  id: number;
  batch: SchedulerOutput;
}

export interface CloseMessage {
  type: 'close';
}

export type ToWorker = InitMessage | ExecuteMessage | CloseMessage;

export type FromWorker =
  | { type: 'ready'; kvBytes: number }
  | { type: 'result'; id: number; output: RunnerOutput; logits: Float32Array[] | null }
  | { type: 'error'; id: number | null; message: string; stack?: string }
  | { type: 'closed' };
