import { describe, expect, it } from 'vitest';
import { markdown } from './markdown.ts';

const row = (target: string, extra: Record<string, unknown> = {}) => ({
  target,
  scenario: 'paced stream',
  concurrency: 64,
  requests: 640,
  errors: 0,
  requestsPerSecond: 98,
  firstByteP50Ms: target === 'direct' ? 0.6 : 1.5,
  firstByteP99Ms: 3,
  totalP50Ms: 652,
  totalP99Ms: 660,
  clientCpuMs: 1.2,
  ...extra,
});

describe('markdown', () => {
  it("shows each target's CPU per request and the stub's beside it, blank where a file lacks them", () => {
    const text = markdown({
      date: '2026-11-27T00:00:00Z',
      commit: 'abcdef0',
      device: { cpu: 'AMD EPYC', cores: 2 },
      workload: { loadAverageAtStart: [0.5], loadAverageAtEnd: [0.6] },
      notes: [],
      rows: [
        row('direct', { gatewayCpuMs: null, upstreamCpuMs: 1.32 }),
        row('edgeserve edge', { gatewayCpuMs: 2.16, upstreamCpuMs: 1.35, loadAverage1m: 0.4 }),
        row('bare proxy (floor)'),
      ],
      addedLatency: [],
    });
    const lines = text.split('\n');
    expect(lines.find((l) => l.startsWith('| scenario'))).toContain(
      '| gateway CPU ms/req | stub CPU ms/req | load 1m |',
    );
    expect(lines.find((l) => l.includes('| edgeserve edge |'))).toMatch(
      /\| 2\.16 \| 1\.35 \| 0\.4 \|$/,
    );
    expect(lines.find((l) => l.includes('| direct |'))).toMatch(/\| {2}\| 1\.32 \| {2}\|$/);
    expect(lines.find((l) => l.includes('| bare proxy (floor) |'))).toMatch(
      /\| {2}\| {2}\| {2}\|$/,
    );
  });
});
