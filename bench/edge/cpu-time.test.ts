import { describe, expect, it } from 'vitest';
import { processUsage } from './cpu-time.ts';

describe('processUsage', () => {
  it("counts a process's CPU time and the pages it touches for the first time", () => {
    const before = processUsage(process.pid)!;
    // 32 MB of fresh pages: 8,192 faults at 4 KB, 16 where huge pages back them.
    Buffer.allocUnsafeSlow(32 * 1024 * 1024).fill(1);
    const spinUntil = performance.now() + 60;
    while (performance.now() < spinUntil);
    const after = processUsage(process.pid)!;
    expect(after.minorFaults - before.minorFaults).toBeGreaterThanOrEqual(16);
    expect(after.cpuMs - before.cpuMs).toBeGreaterThanOrEqual(20);
  });

  it('is undefined for a process that is not there', () => {
    expect(processUsage(undefined)).toBeUndefined();
    expect(processUsage(2 ** 22 + 7)).toBeUndefined();
  });
});
