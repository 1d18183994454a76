/**
 * What the dashboard computes from metric snapshots: sums across series, counter rates between
 * two snapshots, and histogram quantiles from cumulative buckets (linear within a bucket, as
 * Prometheus' histogram_quantile does). Pure functions over the parsed JSON.
 */
import type { MetricFamilies, Sample } from '../prometheus-text.ts';

type LabelFilter = (labels: Record<string, string>) => boolean;

export function sum(
  families: MetricFamilies | null,
  name: string,
  keep: LabelFilter = () => true,
): number | null {
  const samples = families?.[name];
  if (!samples) return null;
  return samples.filter((s) => keep(s.labels)).reduce((total, s) => total + (s.value ?? 0), 0);
}

/**
 * Per-second increase of a counter. A drop (a restart, or a backend missing from a sum) reads as
 * no increase rather than as a spike.
 */
export function rate(now: number | null, before: number | null, seconds: number): number | null {
  if (now === null || before === null || seconds <= 0) return null;
  return Math.max(0, now - before) / seconds;
}

/** Cumulative bucket counts by upper bound, summed over all series of a histogram. */
export function buckets(families: MetricFamilies | null, name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of families?.[`${name}_bucket`] ?? []) {
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    if (!Number.isNaN(le)) out.set(le, (out.get(le) ?? 0) + (s.value ?? 0));
  }
  return out;
}

/** Bucket counts observed between two snapshots (`before` may be empty: all of `now`). */
export function bucketIncrease(
  now: Map<number, number>,
  before: Map<number, number>,
): Map<number, number> {
  const out = new Map<number, number>();
  const reset = [...now].some(([le, count]) => count < (before.get(le) ?? 0));
  for (const [le, count] of now) out.set(le, reset ? count : count - (before.get(le) ?? 0));
  return out;
}

/** The q-quantile (0..1) of a cumulative histogram; null when it holds no observations. */
export function quantile(q: number, cumulative: Map<number, number>): number | null {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  const total = cumulative.get(Number.POSITIVE_INFINITY) ?? cumulative.get(bounds.at(-1)!) ?? 0;
  if (!total) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = cumulative.get(bound)!;
    if (count >= rank) {
      if (!Number.isFinite(bound)) return lowerBound;
      if (count === lowerCount) return bound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

export const observations = (cumulative: Map<number, number>) =>
  cumulative.get(Number.POSITIVE_INFINITY) ?? 0;

export type { MetricFamilies, Sample };
