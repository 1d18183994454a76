/**
 * The CUDA runner as the GPU benchmarks build it: random (dummy) bf16 weights, blocks of 16, 90 %
 * of the card's memory, seed 0; and the decode batches of the runner-only benchmarks, where
 * sequence i owns blocks [i·blocksPerSeq, (i+1)·blocksPerSeq) and every step samples.
 */
import type { ModelSpec } from '../../backend/model/config.ts';
import { greedy } from '../../backend/runner/contract-driver.ts';
import { createCudaRunner } from '../../backend/runner/cuda/cuda-runner.ts';
import type { Runner, ScheduledSequence } from '../../backend/runner/runner.ts';
import type { EngineLimits } from './engine-run.ts';

export const blockSize = 16;

export function dummyCudaRunner(
  spec: ModelSpec,
  limits: EngineLimits & { numGpuBlocksOverride?: number },
): Promise<Runner> {
  return createCudaRunner({
    spec,
    loadFormat: 'dummy',
    blockSize,
    gpuMemoryUtilization: 0.9,
    seed: 0,
    ...limits,
  });
}

/** Sequence i computing `tokens` from position `start`, sampled at `temperature`. */
export function decodeSequence(
  blocksPerSeq: number,
  i: number,
  start: number,
  tokens: number[],
  temperature: number,
): ScheduledSequence {
  const block = (p: number) => i * blocksPerSeq + Math.floor(p / blockSize);
  const end = start + tokens.length;
  return {
    seqId: i,
    tokenIds: Int32Array.from(tokens),
    startPosition: start,
    slotMapping: Int32Array.from(
      tokens,
      (_, j) => block(start + j) * blockSize + ((start + j) % blockSize),
    ),
    blockTable: Int32Array.from({ length: Math.ceil(end / blockSize) }, (_, b) =>
      block(b * blockSize),
    ),
    sample: true,
    sampling: { ...greedy, temperature },
    promptTokenIds: new Int32Array(0),
    outputTokenIds: new Int32Array(0),
    bannedTokenIds: null,
    promptLogprobTargets: null,
  };
}

/** Prefills sequences 0..numSeqs-1 to `context` tokens, 32 sequences a step. */
export async function prefill(
  runner: Runner,
  blocksPerSeq: number,
  numSeqs: number,
  context: number,
): Promise<void> {
  for (let i = 0; i < numSeqs; i += 32) {
    const seqs = Array.from({ length: 32 }, (_, k) =>
      decodeSequence(
        blocksPerSeq,
        i + k,
        0,
        Array.from({ length: context }, (_, j) => (j * 13 + k) % 10000),
        0,
      ),
    );
    await runner.execute({ step: 0, sequences: seqs, numBatchedTokens: 32 * context });
  }
}
