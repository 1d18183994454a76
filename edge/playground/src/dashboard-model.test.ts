import { describe, expect, it } from 'vitest';
import { Registry } from '../../../shared/metrics.ts';
import type { DashboardSnapshot } from '../dashboard-route.ts';
import { parsePrometheusText } from '../prometheus-text.ts';
import { summarize } from './dashboard-model.ts';

interface Load {
  apiRequests: number;
  dashboardPolls: number;
  generated: number;
  ttft: number[];
  running: number;
  kv: number;
}

function snapshot(time: number, loads: (Load | null)[]): DashboardSnapshot {
  const edge = new Registry();
  const requests = edge.counter('edge_requests_total', 'x');
  const backends = loads.map((load, i) => {
    const state = {
      url: `http://b${i}`,
      healthy: load !== null,
      circuit: 'closed' as const,
      outstanding: 0,
      lastError: load ? null : 'ECONNREFUSED',
    };
    if (!load) return { ...state, metrics: null, scrapeError: 'ECONNREFUSED' };
    requests.inc({ route: '/v1/chat/completions', status: '200' }, load.apiRequests);
    requests.inc({ route: '/v1/dashboard', status: '200' }, load.dashboardPolls);
    const r = new Registry();
    r.counter('edgeserve:generation_tokens_total', 'x').inc({}, load.generated);
    r.gauge('edgeserve:num_requests_running', 'x').set(load.running);
    r.gauge('edgeserve:kv_cache_usage_perc', 'x').set(load.kv);
    const ttft = r.histogram('edgeserve:time_to_first_token_seconds', 'x', [0.1, 1]);
    for (const t of load.ttft) ttft.observe(t);
    return { ...state, metrics: parsePrometheusText(r.render()), scrapeError: null };
  });
  return { time, healthy: loads.some(Boolean), edge: parsePrometheusText(edge.render()), backends };
}

const idle: Load = { apiRequests: 0, dashboardPolls: 0, generated: 0, ttft: [], running: 0, kv: 0 };

describe('summarize', () => {
  it('rates API requests (not dashboard polls) and generated tokens over the window', () => {
    const busy = {
      ...idle,
      apiRequests: 4,
      dashboardPolls: 2,
      generated: 100,
      running: 2,
      kv: 0.5,
    };
    const s = summarize([snapshot(0, [idle, idle]), snapshot(2000, [busy, { ...busy, kv: 0.1 }])]);
    expect(s.requestsPerSecond).toBe(4); // 8 API requests over 2 s
    expect(s.tokensPerSecond).toBe(100); // 200 tokens over 2 s
    expect(s.running).toBe(4);
    expect(s.kvCacheUsage).toBeCloseTo(0.3);
    expect(s.requestsSeries).toEqual([4]);
  });

  it('takes latency from the last minute, or from all time when the minute saw none', () => {
    const early = { ...idle, ttft: [0.05, 0.05] };
    const later = { ...idle, ttft: [0.05, 0.05, 0.5, 0.5] };
    const first = snapshot(0, [early]);
    const recent = summarize([first, snapshot(30_000, [early]), snapshot(90_000, [later])]);
    expect(recent.ttft.window).toBe('last minute');
    expect(recent.ttft.count).toBe(2);
    expect(recent.ttft.p50).toBeCloseTo(0.55);
    const quiet = summarize([first, snapshot(30_000, [early]), snapshot(90_000, [early])]);
    expect(quiet.ttft.window).toBe('all time');
    expect(quiet.ttft.count).toBe(2);
  });

  it('reports a backend that cannot be scraped as unhealthy and leaves it out of the sums', () => {
    const s = summarize([snapshot(0, [{ ...idle, running: 3 }, null])]);
    expect(s.healthy).toBe(true);
    expect(s.running).toBe(3);
    expect(s.backends.map((b) => [b.healthy, b.scrapeError])).toEqual([
      [true, null],
      [false, 'ECONNREFUSED'],
    ]);
    expect(s.requestsPerSecond).toBeNull();
  });
});
