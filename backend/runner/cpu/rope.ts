/**
 * Rotary tables for the graph: cos/sin rows computed on the host for exactly the tokens a step
 * processes, so every HF rope_type (YaRN's attention factor included) is handled by the shared
 * reference tables and the graph never depends on the position range.
 */
import type { RopeTables } from '../reference/rope.ts';

export type { RopeTables } from '../reference/rope.ts';
export { ropeTables } from '../reference/rope.ts';

/** Fills cos/sin rows ([positions.length, headDim / 2]) for the given absolute positions. */
export function fillRope(
  tables: RopeTables,
  positions: ArrayLike<number>,
  cos: Float32Array,
  sin: Float32Array,
): void {
  const { invFreq, attentionFactor } = tables;
  const half = invFreq.length;
  for (let t = 0; t < positions.length; t++) {
    const base = t * half;
    for (let i = 0; i < half; i++) {
      const angle = positions[t] * invFreq[i];
      cos[base + i] = Math.cos(angle) * attentionFactor;
      sin[base + i] = Math.sin(angle) * attentionFactor;
    }
  }
}
