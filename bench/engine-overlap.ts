/**
 * How much of the consumers' per-token work (detokenizing, writing SSE) the engine hides behind
 * the runner's step: LLMEngine over a runner whose step takes a fixed time off the main thread (a
 * timer, as the GPU or the CPU runner's worker would), with consumers that spend a fixed busy time
 * on the main thread per token. Fully serial, a step costs step + streams × consumer time; fully
 * overlapped, max(step, streams × consumer time).
 *
 *   npx tsx bench/engine-overlap.ts [--streams 128] [--tokens 64] [--step-ms 4] [--consumer-us 20]
 */
import { parseArgs } from 'node:util';
import { LLMEngine } from '../backend/engine/engine.ts';
import { defaultSamplingParams } from '../backend/engine/sampling-params.ts';
import type { Runner, RunnerOutput, SchedulerOutput } from '../backend/runner/runner.ts';

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '128' },
    tokens: { type: 'string', default: '64' },
    'step-ms': { type: 'string', default: '4' },
    'consumer-us': { type: 'string', default: '20' },
  },
});
const streams = Number(args.streams);
const tokens = Number(args.tokens);
const stepMs = Number(args['step-ms']);
const consumerUs = Number(args['consumer-us']);

const runner: Runner = {
  name: 'timer',
  kvCache: { numBlocks: streams * Math.ceil((tokens + 8) / 16), blockSize: 16, bytes: 0 },
  execute: (batch: SchedulerOutput) =>
    new Promise<RunnerOutput>((resolve) =>
      setTimeout(
        () =>
          resolve({
            sampled: batch.sequences.map((s) => (s.sample ? { tokenId: 5, logprob: -1 } : null)),
            promptLogprobs: batch.sequences.map(() => null),
          }),
        stepMs,
      ),
    ),
  async close() {},
};
const engine = new LLMEngine(runner, {
  maxNumSeqs: streams,
  maxNumBatchedTokens: 16 * streams,
  maxModelLen: tokens + 8,
  maxQueueLen: streams,
  eosTokenIds: [],
  enablePrefixCaching: false,
});
const busy = () => {
  const until = performance.now() + consumerUs / 1000;
  while (performance.now() < until);
};

const started = performance.now();
await Promise.all(
  Array.from({ length: streams }, async (_, i) => {
    const params = defaultSamplingParams({ temperature: 0, ignoreEos: true, maxTokens: tokens });
    const req = { requestId: `r${i}`, promptTokenIds: [1, 2, 3, i], params };
    for await (const out of engine.generate(req)) for (const _ of out.newTokenIds) busy();
  }),
);
const ms = performance.now() - started;
await engine.close();
const serial = (tokens + 1) * (stepMs + (streams * consumerUs) / 1000);
const overlapped = (tokens + 1) * Math.max(stepMs, (streams * consumerUs) / 1000);
console.log(
  `${streams} streams × ${tokens} tokens, step ${stepMs} ms, consumer ${consumerUs} µs/token: ` +
    `${ms.toFixed(0)} ms, ${((streams * tokens) / ms).toFixed(1)} k tok/s ` +
    `(fully serial ≈ ${serial.toFixed(0)} ms, fully overlapped ≈ ${overlapped.toFixed(0)} ms)`,
);
