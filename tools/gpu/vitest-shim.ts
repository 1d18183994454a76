/**
 * Just enough of vitest's API (describe/it/hooks/expect) to run the runner contract suite on the
 * GPU host, where there is Node but no node_modules. esbuild aliases 'vitest' to this file when
 * bundling tools/gpu/contract.ts. `runRegistered()` runs what was declared and counts results.
 */
import { isDeepStrictEqual } from 'node:util';

type Fn = () => unknown | Promise<unknown>;
interface Suite {
  name: string;
  tests: { name: string; fn: Fn }[];
  beforeAll: Fn[];
  afterAll: Fn[];
}
const suites: Suite[] = [];
let current: Suite | null = null;

export function describe(name: string, body: () => void): void {
  const suite: Suite = { name, tests: [], beforeAll: [], afterAll: [] };
  const outer = current;
  current = suite;
  body();
  current = outer;
  suites.push(suite);
}
export const it = (name: string, fn: Fn) => current!.tests.push({ name, fn });
export const test = it;
export const beforeAll = (fn: Fn) => current!.beforeAll.push(fn);
export const afterAll = (fn: Fn) => current!.afterAll.push(fn);

function fail(message: string): never {
  throw new Error(message);
}
const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s && s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

function matchers(actual: unknown, negate: boolean) {
  const check = (ok: boolean, what: string) => {
    if (ok === negate) fail(`expected ${show(actual)} ${negate ? 'not ' : ''}${what}`);
  };
  return {
    toBe: (e: unknown) => check(Object.is(actual, e), `to be ${show(e)}`),
    toEqual: (e: unknown) => check(isDeepStrictEqual(actual, e), `to equal ${show(e)}`),
    toHaveLength: (n: number) =>
      check((actual as { length: number })?.length === n, `to have length ${n}`),
    toBeLessThanOrEqual: (n: number) => check((actual as number) <= n, `to be <= ${n}`),
    toBeGreaterThan: (n: number) => check((actual as number) > n, `to be > ${n}`),
    toBeGreaterThanOrEqual: (n: number) => check((actual as number) >= n, `to be >= ${n}`),
    toBeLessThan: (n: number) => check((actual as number) < n, `to be < ${n}`),
    toBeCloseTo: (e: number, digits = 2) =>
      check(
        Math.abs((actual as number) - e) < 10 ** -digits / 2,
        `to be close to ${e} (${digits} digits)`,
      ),
  };
}
export function expect(actual: unknown) {
  return { ...matchers(actual, false), not: matchers(actual, true) };
}

/** Runs every declared suite in order; returns the counts and prints vitest-like lines. */
export async function runRegistered(): Promise<{ passed: number; failed: number }> {
  let passed = 0;
  let failed = 0;
  for (const s of suites) {
    try {
      for (const h of s.beforeAll) await h();
    } catch (err) {
      console.log(`✗ ${s.name} (beforeAll): ${(err as Error).stack}`);
      failed += s.tests.length;
      continue;
    }
    for (const t of s.tests) {
      const t0 = performance.now();
      try {
        await t.fn();
        passed++;
        console.log(`✓ ${s.name} > ${t.name} (${(performance.now() - t0).toFixed(0)} ms)`);
      } catch (err) {
        failed++;
        console.log(`✗ ${s.name} > ${t.name}: ${(err as Error).message}`);
      }
    }
    for (const h of s.afterAll) await h();
  }
  return { passed, failed };
}
