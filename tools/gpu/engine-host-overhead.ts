/**
 * The host side of the nano-vllm workload (bench.ts `throughput`), no GPU needed: LLMEngine's
 * scheduler, sequence objects and the CUDA runner's batch packing over the same requests and
 * steps, with a runner that returns at once. What it prints per step is work the GPU waits for,
 * since steps are serial. Usage: npx tsx tools/gpu/engine-host-overhead.ts
 */
import { packBatch } from '../../backend/runner/cuda/batch-pack.ts';
import type { Runner, SchedulerOutput } from '../../backend/runner/runner.ts';
import { makeEngine, nanoVllmRequests, runAll } from './engine-run.ts';

const limits = { maxNumSeqs: 256, maxNumBatchedTokens: 16384, maxModelLen: 2048 };
const kv = { numBlocks: 40083, blockSize: 16, bytes: 0 };
let steps = 0;
let packMs = 0;
const runner: Runner = {
  name: 'null',
  kvCache: kv,
  async execute(batch: SchedulerOutput) {
    steps++;
    const t = performance.now();
    packBatch(
      batch,
      {
        vocabSize: 151936,
        numBlocks: kv.numBlocks,
        blockSize: 16,
        maxModelLen: 2048,
        maxNumBatchedTokens: 16384,
      },
      () => 0.5,
      false,
    );
    packMs += performance.now() - t;
    return {
      sampled: batch.sequences.map((s) => (s.sample ? { tokenId: 5, logprob: -1 } : null)),
      promptLogprobs: batch.sequences.map(() => null),
    };
  },
  async close() {},
};
const engine = makeEngine(runner, limits);
const requests = nanoVllmRequests();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const outs = await runAll(engine, requests, 'b');
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
await engine.close();
// CPU time (user + system, every thread incl. GC) reads better than wall time on a busy box.
console.log(
  `steps ${steps} total ${ms.toFixed(0)} ms → ${(ms / steps).toFixed(3)} ms/step host (pack ${(packMs / steps).toFixed(3)}; CPU ${(cpuMs / steps).toFixed(3)} ms/step), tokens ${outs.reduce((n, o) => n + o.length, 0)}`,
);
