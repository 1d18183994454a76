import { describe, expect, it } from 'vitest';
import { Registry } from '../../../shared/metrics.ts';
import { parsePrometheusText } from '../prometheus-text.ts';
import { bucketIncrease, buckets, quantile, rate, sum } from './metrics-math.ts';

const histogramOf = (values: number[], bounds = [0.01, 0.1, 1]) => {
  const registry = new Registry();
  const h = registry.histogram('lat_seconds', 'x', bounds);
  for (const v of values) h.observe(v);
  return buckets(parsePrometheusText(registry.render()), 'lat_seconds');
};

describe('dashboard metric math', () => {
  it('interpolates quantiles linearly inside the bucket that holds the rank', () => {
    // 10 observations: 4 in (0, 0.01], 6 in (0.01, 0.1].
    const cumulative = histogramOf([...Array(4).fill(0.005), ...Array(6).fill(0.05)]);
    expect(quantile(0.2, cumulative)).toBeCloseTo(0.005); // rank 2 of 4 in the first bucket
    expect(quantile(0.7, cumulative)).toBeCloseTo(0.01 + 0.09 * (3 / 6)); // rank 7: 3 of 6
    expect(quantile(1, cumulative)).toBeCloseTo(0.1);
  });

  it('answers null for an empty histogram and the top finite bound for the +Inf bucket', () => {
    expect(quantile(0.5, histogramOf([]))).toBeNull();
    expect(quantile(0.99, histogramOf([5, 6]))).toBe(1);
  });

  it('subtracts an earlier snapshot, or keeps all of the later one after a reset', () => {
    const before = histogramOf([0.005]);
    const now = histogramOf([0.005, 0.05, 0.5]);
    expect([...bucketIncrease(now, before).values()]).toEqual([0, 1, 2, 2]);
    expect([...bucketIncrease(before, now).values()]).toEqual([1, 1, 1, 1]);
  });

  it('rates a counter per second and reads a drop as no increase', () => {
    expect(rate(30, 10, 4)).toBe(5);
    expect(rate(3, 10, 4)).toBe(0);
    expect(rate(null, 10, 4)).toBeNull();
  });

  it('sums the series a label filter keeps, and is null when the metric is absent', () => {
    const families = parsePrometheusText('r{route="/v1/a"} 2\nr{route="/x"} 5\n');
    expect(sum(families, 'r', (l) => l.route!.startsWith('/v1/'))).toBe(2);
    expect(sum(families, 'missing')).toBeNull();
    expect(sum(null, 'r')).toBeNull();
  });
});
