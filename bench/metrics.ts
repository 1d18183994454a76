/**
 * Benchmark arithmetic on per-request timelines: TTFT, TPOT, ITL, E2E, throughputs and goodput.
 * Definitions follow vLLM's `bench serve` so the numbers can be read side by side:
 * TPOT = (E2E - TTFT) / (output tokens - 1), ITL = gaps between streamed chunks that carry
 * tokens, goodput = requests per second that met every SLO given.
 */

export interface RequestTimeline {
  ok: boolean;
  error?: string;
  /** Milliseconds from the start of the run to when the request was sent. */
  startMs: number;
  /** From send to the first chunk that carries output. */
  ttftMs: number;
  /** From send to the end of the stream. */
  e2eMs: number;
  /** Gaps between successive output-carrying chunks. */
  itlMs: number[];
  promptTokens: number;
  outputTokens: number;
  /** usage.prompt_tokens_details.cached_tokens when the server reports it. */
  cachedTokens: number | null;
}

export interface Distribution {
  mean: number;
  median: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

/** SLO thresholds in milliseconds; a request meets the SLO when it is within every one given. */
export interface GoodputSlo {
  ttft?: number;
  tpot?: number;
  e2el?: number;
}

export interface ServeMetrics {
  completed: number;
  failed: number;
  durationS: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  /** null when the server reported no cached-token counts. */
  totalCachedTokens: number | null;
  requestThroughput: number;
  outputThroughput: number;
  totalTokenThroughput: number;
  ttftMs: Distribution;
  tpotMs: Distribution;
  itlMs: Distribution;
  e2eMs: Distribution;
  goodput: { slo: GoodputSlo; goodRequests: number; requestThroughput: number } | null;
}

/** Linear interpolation between closest ranks (numpy's default), p in [0, 100]. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    min: sorted.length ? sorted[0]! : Number.NaN,
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** Time per output token after the first; null for a request with a single output token. */
export const tpotMs = (r: RequestTimeline): number | null =>
  r.outputTokens > 1 ? (r.e2eMs - r.ttftMs) / (r.outputTokens - 1) : null;

export function meetsSlo(r: RequestTimeline, slo: GoodputSlo): boolean {
  if (slo.ttft !== undefined && r.ttftMs > slo.ttft) return false;
  if (slo.e2el !== undefined && r.e2eMs > slo.e2el) return false;
  const tpot = tpotMs(r);
  if (slo.tpot !== undefined && tpot !== null && tpot > slo.tpot) return false;
  return true;
}

/** `['ttft:500', 'tpot:50']` → `{ ttft: 500, tpot: 50 }`; unknown keys and bad values throw. */
export function parseGoodputSlo(items: readonly string[]): GoodputSlo {
  const slo: GoodputSlo = {};
  for (const item of items) {
    const m = /^(ttft|tpot|e2el):(\d+(?:\.\d+)?)$/.exec(item.trim());
    if (!m) throw new RangeError(`goodput SLO '${item}' is not ttft|tpot|e2el:<ms>`);
    slo[m[1] as keyof GoodputSlo] = Number(m[2]);
  }
  return slo;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export function summarize(
  timelines: readonly RequestTimeline[],
  durationS: number,
  slo: GoodputSlo | null,
): ServeMetrics {
  const ok = timelines.filter((r) => r.ok);
  const totalInputTokens = sum(ok.map((r) => r.promptTokens));
  const totalOutputTokens = sum(ok.map((r) => r.outputTokens));
  const cached = ok.map((r) => r.cachedTokens).filter((c): c is number => c !== null);
  const goodRequests = slo ? ok.filter((r) => meetsSlo(r, slo)).length : 0;
  return {
    completed: ok.length,
    failed: timelines.length - ok.length,
    durationS,
    totalInputTokens,
    totalOutputTokens,
    totalCachedTokens: cached.length ? sum(cached) : null,
    requestThroughput: ok.length / durationS,
    outputThroughput: totalOutputTokens / durationS,
    totalTokenThroughput: (totalInputTokens + totalOutputTokens) / durationS,
    ttftMs: distribution(ok.map((r) => r.ttftMs)),
    tpotMs: distribution(ok.map(tpotMs).filter((t): t is number => t !== null)),
    itlMs: distribution(ok.flatMap((r) => r.itlMs)),
    e2eMs: distribution(ok.map((r) => r.e2eMs)),
    goodput: slo ? { slo, goodRequests, requestThroughput: goodRequests / durationS } : null,
  };
}
