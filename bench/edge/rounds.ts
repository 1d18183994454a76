/**
 * What `npm run bench:edge` reports from its rounds: each group (target × scenario × concurrency)
 * runs once per round; "added" is a gateway minus the direct call of the same round, and the
 * report gives the median over rounds of that and of every other figure.
 */

export interface Row {
  target: string;
  scenario: string;
  concurrency: number;
  /** Which round of its group (0-based); absent in the medians. */
  round?: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  firstByteP50Ms: number;
  firstByteP99Ms: number;
  totalP50Ms: number;
  totalP99Ms: number;
  /** CPU ms per request: the load generator, the gateway process (none direct), the stub. */
  clientCpuMs: number;
  gatewayCpuMs: number | null;
  /**
   * The gateway's minor page faults per request: high after a quiet spell in which V8 handed
   * memory back (docs/benchmarks.md, "Edge"). Absent in results from before it was recorded.
   */
  gatewayMinorFaults?: number | null;
  upstreamCpuMs: number | null;
  loadAverage1m: number;
}

export const round = (v: number) => Math.round(v * 100) / 100;

export interface Added {
  target: string;
  scenario: string;
  concurrency: number;
  /** Gateway minus direct (same scenario, concurrency and round), median over rounds. */
  addedFirstByteP50Ms: number;
  addedFirstByteP99Ms: number;
  addedTotalP50Ms: number;
  addedTotalP99Ms: number;
  throughputRatio: number;
}

/** Gateway minus the direct call of the same round, then the median over rounds. */
export function addedLatency(rows: Row[]): Added[] {
  const perRound: Added[] = [];
  for (const r of rows) {
    if (r.target === 'direct' || r.scenario.startsWith('json ')) continue;
    const d = rows.find(
      (x) =>
        x.target === 'direct' &&
        x.scenario === r.scenario &&
        x.concurrency === r.concurrency &&
        x.round === r.round,
    );
    if (!d) continue;
    perRound.push({
      target: r.target,
      scenario: r.scenario,
      concurrency: r.concurrency,
      addedFirstByteP50Ms: r.firstByteP50Ms - d.firstByteP50Ms,
      addedFirstByteP99Ms: r.firstByteP99Ms - d.firstByteP99Ms,
      addedTotalP50Ms: r.totalP50Ms - d.totalP50Ms,
      addedTotalP99Ms: r.totalP99Ms - d.totalP99Ms,
      throughputRatio: r.requestsPerSecond / d.requestsPerSecond,
    });
  }
  return groupMedians(perRound, ['target', 'scenario', 'concurrency']);
}

/** The median of every numeric field over the rounds of each (target, scenario, concurrency). */
export function medianRows(rows: Row[]): Row[] {
  return groupMedians(
    rows.map(({ round: _, ...r }) => r),
    ['target', 'scenario', 'concurrency'],
  );
}

function groupMedians<T extends object>(items: T[], keys: (keyof T)[]): T[] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keys.map((k) => String(item[k])).join('\u0000');
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return [...groups.values()].map((group) => {
    const out = { ...group[0]! } as Record<string, unknown>;
    for (const [field, value] of Object.entries(out)) {
      if (typeof value !== 'number' || keys.includes(field as keyof T)) continue;
      const values = group
        .map((g) => (g as Record<string, unknown>)[field])
        .filter((v): v is number => typeof v === 'number');
      out[field] = round(median(values));
    }
    return out as T;
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
