/**
 * sampleToken micro-benchmark on one vocabulary-sized row of logits (Qwen's 151,936 by default):
 * greedy, and temperature 0.8 with top-p 0.95, top-k 50 or min-p 0.05. Two logit shapes: "llm"
 * (a broad normal bulk with a few dozen boosted tokens, as a language model's next-token row
 * looks) and "flat" (a narrow normal, the worst case for top-p, which then keeps most of the
 * vocabulary). Prints µs per call; --json writes the same rows.
 *
 *   npx tsx bench/cpu/sampling-bench.ts [--vocab 151936] [--calls 200] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { greedy } from '../../backend/runner/contract-driver.ts';
import type { SamplingSpec } from '../../backend/runner/runner.ts';
import { sampleToken } from '../../backend/runner/sampling.ts';
import { createRng } from '../rng.ts';

const { values: args } = parseArgs({
  options: {
    vocab: { type: 'string', default: '151936' },
    calls: { type: 'string', default: '200' },
    json: { type: 'string' },
  },
});
const vocab = Number(args.vocab);
const calls = Number(args.calls);

function makeLogits(shape: 'llm' | 'flat', seed: number): Float32Array {
  const rng = createRng(seed);
  const logits = new Float32Array(vocab);
  const spread = shape === 'llm' ? 2.5 : 1;
  for (let i = 0; i < vocab; i++) logits[i] = spread * rng.normal();
  if (shape === 'llm') for (let j = 0; j < 30; j++) logits[rng.int(0, vocab - 1)] += rng.int(8, 14);
  return logits;
}

const cases: { name: string; sampling: Partial<SamplingSpec> }[] = [
  { name: 'greedy', sampling: {} },
  { name: 'T0.8 top_p 0.95', sampling: { temperature: 0.8, topP: 0.95 } },
  { name: 'T0.8 top_k 50', sampling: { temperature: 0.8, topK: 50 } },
  { name: 'T0.8 min_p 0.05', sampling: { temperature: 0.8, minP: 0.05 } },
  { name: 'T0.8 plain', sampling: { temperature: 0.8 } },
];

function microsPerCall(logits: Float32Array, sampling: Partial<SamplingSpec>): number {
  const input = (step: number) => ({
    sampling: { ...greedy, seed: 1234, ...sampling },
    promptTokenIds: new Int32Array(0),
    outputTokenIds: new Int32Array(step),
    bannedTokenIds: null,
  });
  for (let i = 0; i < Math.min(20, calls); i++) sampleToken(logits, input(i));
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sampleToken(logits, input(i));
  return Number(process.hrtime.bigint() - start) / 1e3 / calls;
}

const rows: { logits: string; case: string; usPerCall: number }[] = [];
for (const shape of ['llm', 'flat'] as const) {
  const logits = makeLogits(shape, 7);
  for (const c of cases) {
    rows.push({ logits: shape, case: c.name, usPerCall: microsPerCall(logits, c.sampling) });
  }
}
console.log(`sampleToken, vocab ${vocab}, ${calls} calls each, node ${process.version}`);
console.log('logits  case               µs/call');
for (const r of rows) {
  console.log(`${r.logits.padEnd(7)} ${r.case.padEnd(18)} ${r.usPerCall.toFixed(0).padStart(8)}`);
}
if (args.json) {
  const meta = { vocab, calls, node: process.version, date: new Date().toISOString() };
  writeFileSync(args.json, `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
}
