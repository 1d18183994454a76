import { describe, expect, it } from 'vitest';
import { cdfPoints, niceTicks, renderLineChart } from './svg-chart.ts';

describe('niceTicks', () => {
  it('steps by 1, 2 or 5 times a power of ten and covers the whole range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 1234)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(0, 47)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(niceTicks(3, 47)).toEqual([0, 10, 20, 30, 40, 50]);
  });
});

describe('cdfPoints', () => {
  it('rises by 1/n at each sorted value', () => {
    expect(cdfPoints([3, 1])).toEqual([
      [1, 0],
      [1, 0.5],
      [3, 0.5],
      [3, 1],
    ]);
  });
});

describe('renderLineChart', () => {
  it('draws one polyline and legend entry per series, escaping names', () => {
    const svg = renderLineChart({
      title: 'T',
      xLabel: 'x',
      yLabel: 'y',
      logX: true,
      markers: true,
      series: [
        {
          name: 'ours <cpu>',
          points: [
            [1, 10],
            [4, 30],
            [16, 50],
          ],
        },
        {
          name: 'bound',
          dashed: true,
          points: [
            [1, 20],
            [16, 90],
          ],
        },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(5);
    expect(svg).toContain('ours &lt;cpu&gt;');
    expect(svg).toContain('stroke-dasharray');
    // log2 x axis: ticks at 1, 2, 4, 8, 16.
    for (const t of ['>1<', '>2<', '>4<', '>8<', '>16<']) expect(svg).toContain(t);
  });
});
