import { describe, expect, it } from 'vitest';
import { Registry } from '../../shared/metrics.ts';
import { parsePrometheusText } from './prometheus-text.ts';

describe('parsePrometheusText', () => {
  it('reads back what the shared registry renders: counters, gauges, histograms, labels', () => {
    const registry = new Registry();
    registry.counter('edge_requests_total', 'x').inc({ route: '/v1/models', status: '200' }, 3);
    registry.gauge('edgeserve:kv_cache_usage_perc', 'x', () => 0.25);
    registry.histogram('ttft_seconds', 'x', [0.1, 1]).observe(0.5);
    const families = parsePrometheusText(registry.render());
    expect(families.edge_requests_total).toEqual([
      { labels: { route: '/v1/models', status: '200' }, value: 3 },
    ]);
    expect(families['edgeserve:kv_cache_usage_perc']).toEqual([{ labels: {}, value: 0.25 }]);
    expect(families.ttft_seconds_bucket).toEqual([
      { labels: { le: '0.1' }, value: 0 },
      { labels: { le: '1' }, value: 1 },
      { labels: { le: '+Inf' }, value: 1 },
    ]);
    expect(families.ttft_seconds_sum).toEqual([{ labels: {}, value: 0.5 }]);
  });

  it('unescapes label values and keeps commas and braces inside them', () => {
    const registry = new Registry();
    registry.counter('c_total', 'x').inc({ path: 'a "b", {c}\\d\ne' });
    expect(parsePrometheusText(registry.render()).c_total).toEqual([
      { labels: { path: 'a "b", {c}\\d\ne' }, value: 1 },
    ]);
  });

  it('reads special values and timestamps, and skips malformed lines instead of failing', () => {
    const text = [
      'a +Inf',
      'b NaN 1700000000000',
      'c{x="1"} 2 17',
      'bad line here',
      'd{x=1} 3',
      '',
    ];
    const families = parsePrometheusText(text.join('\n'));
    expect(families.a).toEqual([{ labels: {}, value: Number.POSITIVE_INFINITY }]);
    expect(families.b![0]!.value).toBeNaN();
    expect(families.c).toEqual([{ labels: { x: '1' }, value: 2 }]);
    expect(Object.keys(families).sort()).toEqual(['a', 'b', 'c']);
  });
});
