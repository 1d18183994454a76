/**
 * When each request is sent. `inf` sends everything at once (concurrency is then bounded only by
 * --max-concurrency); a finite rate draws gaps from a gamma distribution with shape = burstiness
 * and mean 1/rate: burstiness 1 is a Poisson process, below 1 burstier, above 1 more regular.
 */
import type { Rng } from './rng.ts';

/** Offsets in seconds from the start of the run, one per request, non-decreasing. */
export function arrivalTimes(
  numRequests: number,
  requestRate: number,
  burstiness: number,
  rng: Rng,
): number[] {
  if (!(burstiness > 0)) throw new RangeError(`burstiness must be > 0, got ${burstiness}`);
  if (!(requestRate > 0)) throw new RangeError(`request rate must be > 0, got ${requestRate}`);
  const times: number[] = [];
  let t = 0;
  for (let i = 0; i < numRequests; i++) {
    if (Number.isFinite(requestRate)) t += rng.gamma(burstiness, 1 / (requestRate * burstiness));
    times.push(t);
  }
  return times;
}

/** `inf` or a positive number (requests per second). */
export function parseRequestRate(text: string): number {
  if (/^inf(inity)?$/i.test(text.trim())) return Number.POSITIVE_INFINITY;
  const rate = Number(text);
  if (!Number.isFinite(rate) || rate <= 0)
    throw new RangeError(`request rate must be 'inf' or a positive number, got '${text}'`);
  return rate;
}
