import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../edge/playground/prometheus-text.ts';
import { Registry } from './metrics.ts';

describe('Registry', () => {
  it('keeps one series per label set, whatever order its labels come in', () => {
    const counter = new Registry().counter('c_total', 'x');
    counter.inc({ route: 'a', status: '200' });
    counter.inc({ status: '200', route: 'a' }, 2);
    expect(counter.get({ route: 'a', status: '200' })).toBe(3);
    expect(counter.samples()).toEqual(['c_total{route="a",status="200"} 3']);
  });

  it('renders any label values so that they read back exactly', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), (a, b) => {
        const registry = new Registry();
        registry.counter('c_total', 'x').inc({ b, a });
        expect(parsePrometheusText(registry.render()).c_total).toEqual([
          { labels: { a, b }, value: 1 },
        ]);
      }),
      { numRuns: 300 },
    );
  });
});
