import { describe, expect, it } from 'vitest';
import { addedLatency, median, medianRows, type Row } from './rounds.ts';

const row = (target: string, round: number, ttfb: number, rps = 100): Row => ({
  target,
  scenario: 'paced stream',
  concurrency: 64,
  round,
  requests: 640,
  errors: 0,
  requestsPerSecond: rps,
  firstByteP50Ms: ttfb,
  firstByteP99Ms: ttfb * 4,
  totalP50Ms: 650 + ttfb,
  totalP99Ms: 660 + ttfb,
  clientCpuMs: 1,
  gatewayCpuMs: target === 'direct' ? null : 4,
  upstreamCpuMs: 1,
  loadAverage1m: 0.5,
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('addedLatency', () => {
  it('subtracts the direct call of the same round before taking the median', () => {
    // The machine drifts: round 1 is slow for everyone. Per round the edge adds 1, 1.5 and 2.1 ms;
    // medians taken first would give 3 - 0.9 = 2.1 instead.
    const rows = [
      row('direct', 0, 0.5),
      row('edge', 0, 1.5),
      row('direct', 1, 2.0),
      row('edge', 1, 3.5),
      row('direct', 2, 0.9),
      row('edge', 2, 3.0),
    ];
    const [added] = addedLatency(rows);
    expect(added).toMatchObject({ target: 'edge', concurrency: 64, addedFirstByteP50Ms: 1.5 });
    expect(added!.addedFirstByteP99Ms).toBe(6);
  });

  it('reports throughput as a ratio to direct, and skips the cache rows', () => {
    const rows = [
      row('direct', 0, 1, 200),
      row('edge', 0, 2, 100),
      { ...row('edge', 0, 1), scenario: 'json cache hit' },
    ];
    expect(addedLatency(rows)).toEqual([expect.objectContaining({ throughputRatio: 0.5 })]);
  });
});

describe('medianRows', () => {
  it('keeps one row per target and group, with each figure its median over rounds', () => {
    const rows = [row('edge', 0, 1), row('edge', 1, 5), row('edge', 2, 2), row('direct', 0, 1)];
    const medians = medianRows(rows);
    expect(medians.map((r) => r.target)).toEqual(['edge', 'direct']);
    expect(medians[0]).toMatchObject({ firstByteP50Ms: 2, totalP50Ms: 652, gatewayCpuMs: 4 });
    expect(medians[0]).not.toHaveProperty('round');
  });
});
