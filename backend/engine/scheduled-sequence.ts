/**
 * Turns a sequence plus "compute n more tokens" into the plain `ScheduledSequence` a runner
 * receives: typed arrays only, nothing that points back into engine state.
 */
import type { ScheduledSequence } from '../runner/runner.ts';
import type { Sequence } from './sequence.ts';

export function slotMappingFor(
  blockTable: ArrayLike<number>,
  blockSize: number,
  start: number,
  numTokens: number,
): Int32Array {
  const slots = new Int32Array(numTokens);
  for (let i = 0; i < numTokens; i++) {
    const position = start + i;
    const blockId = blockTable[Math.floor(position / blockSize)];
    if (blockId === undefined) throw new Error(`no block for position ${position}`);
    slots[i] = blockId * blockSize + (position % blockSize);
  }
  return slots;
}

/** EOS (unless ignored) and stop ids may not be sampled while the output is shorter than min_tokens. */
export function bannedTokenIdsFor(
  seq: Sequence,
  eosTokenIds: readonly number[],
): Int32Array | null {
  const { minTokens, ignoreEos, stopTokenIds } = seq.params;
  if (seq.numOutputTokens >= minTokens) return null;
  const banned = ignoreEos ? [...stopTokenIds] : [...eosTokenIds, ...stopTokenIds];
  return banned.length > 0 ? Int32Array.from(new Set(banned)) : null;
}

/**
 * The prompt tokens this chunk's logits predict: positions start+1 … clipped to the prompt.
 * Always starts at start+1 (the runner contract); positions already collected before a
 * preemption are dropped when the answer comes back.
 */
export function promptLogprobTargetsFor(
  seq: Sequence,
  start: number,
  numTokens: number,
): Int32Array | null {
  if (!seq.needsPromptLogprobs) return null;
  const end = Math.min(start + numTokens + 1, seq.numPromptTokens);
  if (end <= start + 1) return null;
  return Int32Array.from(seq.promptTokenIds.slice(start + 1, end));
}

export function buildScheduledSequence(
  seq: Sequence,
  numTokens: number,
  blockSize: number,
  eosTokenIds: readonly number[],
): ScheduledSequence {
  const start = seq.numComputedTokens;
  const sample = start + numTokens === seq.numTokens;
  return {
    seqId: seq.seqId,
    tokenIds: seq.tokenRange(start, start + numTokens),
    startPosition: start,
    slotMapping: slotMappingFor(seq.blockTable, blockSize, start, numTokens),
    blockTable: seq.blockTableArray,
    sample,
    sampling: seq.runnerSampling,
    promptTokenIds: seq.promptTokenArray,
    outputTokenIds: seq.outputTokenArray,
    bannedTokenIds: sample ? bannedTokenIdsFor(seq, eosTokenIds) : null,
    promptLogprobTargets: promptLogprobTargetsFor(seq, start, numTokens),
  };
}
