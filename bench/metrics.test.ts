import { describe, expect, it } from 'vitest';
import {
  distribution,
  meetsSlo,
  parseGoodputSlo,
  percentile,
  type RequestTimeline,
  summarize,
  tpotMs,
} from './metrics.ts';

/** A request whose tokens arrive at the given offsets (ms) after it was sent. */
function timeline(tokenTimesMs: number[], extra: Partial<RequestTimeline> = {}): RequestTimeline {
  return {
    ok: true,
    startMs: 0,
    ttftMs: tokenTimesMs[0]!,
    e2eMs: tokenTimesMs[tokenTimesMs.length - 1]!,
    itlMs: tokenTimesMs.slice(1).map((t, i) => t - tokenTimesMs[i]!),
    promptTokens: 10,
    outputTokens: tokenTimesMs.length,
    cachedTokens: null,
    ...extra,
  };
}

describe('percentile', () => {
  it('interpolates linearly between closest ranks', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5.5);
    expect(percentile(xs, 90)).toBeCloseTo(9.1);
    expect(percentile(xs, 99)).toBeCloseTo(9.91);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('distribution sorts its input and reports mean, median, p90, p99, min, max', () => {
    const d = distribution([10, 0, 5, 20, 15]);
    expect(d).toEqual({ mean: 10, median: 10, p90: 18, p99: 19.8, min: 0, max: 20 });
  });
});

describe('per-request metrics', () => {
  it('TPOT is the decode time over the tokens after the first', () => {
    // First token at 100 ms, then 4 more by 300 ms: (300 - 100) / 4 = 50 ms.
    expect(tpotMs(timeline([100, 150, 200, 250, 300]))).toBe(50);
    expect(tpotMs(timeline([100]))).toBeNull();
  });

  it('uses the usage token count when chunks carried several tokens each', () => {
    // Two chunks, but the server said 11 tokens: TPOT spreads decode time over 10.
    expect(tpotMs(timeline([100, 300], { outputTokens: 11 }))).toBe(20);
  });

  it('meets an SLO only when within every threshold given', () => {
    const r = timeline([100, 150, 200]); // ttft 100, tpot 50, e2el 200
    expect(meetsSlo(r, { ttft: 100, tpot: 50 })).toBe(true);
    expect(meetsSlo(r, { ttft: 99 })).toBe(false);
    expect(meetsSlo(r, { tpot: 49 })).toBe(false);
    expect(meetsSlo(r, { e2el: 199 })).toBe(false);
    expect(meetsSlo(r, {})).toBe(true);
  });

  it('parses goodput SLO flags and rejects unknown keys', () => {
    expect(parseGoodputSlo(['ttft:500', 'tpot:50', 'e2el:2000.5'])).toEqual({
      ttft: 500,
      tpot: 50,
      e2el: 2000.5,
    });
    expect(() => parseGoodputSlo(['itl:5'])).toThrow(RangeError);
    expect(() => parseGoodputSlo(['ttft=5'])).toThrow(RangeError);
  });
});

describe('summarize', () => {
  const fast = timeline([100, 120, 140, 160]); // tpot 20, itl 20,20,20
  const slow = timeline([400, 500, 600], { promptTokens: 30 }); // tpot 100, itl 100,100
  const failed: RequestTimeline = { ...timeline([1]), ok: false, error: 'HTTP 500' };

  it('counts throughput over the run duration and leaves failed requests out', () => {
    const m = summarize([fast, slow, failed], 2, null);
    expect(m.completed).toBe(2);
    expect(m.failed).toBe(1);
    expect(m.totalInputTokens).toBe(40);
    expect(m.totalOutputTokens).toBe(7);
    expect(m.requestThroughput).toBe(1);
    expect(m.outputThroughput).toBe(3.5);
    expect(m.totalTokenThroughput).toBe(23.5);
    expect(m.ttftMs.mean).toBe(250);
    expect(m.tpotMs.mean).toBe(60);
    expect(m.itlMs.median).toBe(20);
    expect(m.itlMs.max).toBe(100);
    expect(m.e2eMs.max).toBe(600);
    expect(m.totalCachedTokens).toBeNull();
    expect(m.goodput).toBeNull();
  });

  it('counts goodput as requests per second within the SLO', () => {
    const m = summarize([fast, slow, failed], 2, { ttft: 200, tpot: 50 });
    expect(m.goodput).toEqual({
      slo: { ttft: 200, tpot: 50 },
      goodRequests: 1,
      requestThroughput: 0.5,
    });
  });

  it('sums cached tokens when the server reported them', () => {
    const m = summarize(
      [
        { ...fast, cachedTokens: 16 },
        { ...slow, cachedTokens: 0 },
      ],
      1,
      null,
    );
    expect(m.totalCachedTokens).toBe(16);
  });
});
