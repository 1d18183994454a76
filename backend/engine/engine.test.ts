import { describe, expect, it } from 'vitest';
import { HttpError } from '../../shared/errors.ts';
import { Registry } from '../../shared/metrics.ts';
import type { SchedulerOutput } from '../runner/runner.ts';
import { LLMEngine } from './engine.ts';
import { FakeRunner } from './testing/fake-runner.ts';
import {
  type Collected,
  collect,
  EOS,
  makeEngine,
  promptOf,
  referenceTokens,
  request,
  seqIdOf,
} from './testing/harness.ts';

async function rejection(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError;
  }
  throw new Error('expected a rejection');
}

describe('LLMEngine', () => {
  it('serves 32 concurrent requests of different lengths exactly as each runs alone', async () => {
    const { engine } = makeEngine({ numBlocks: 96, maxNumSeqs: 8, maxNumBatchedTokens: 64 });
    const shared = promptOf(999, 40);
    const cases = Array.from({ length: 32 }, (_, i) => {
      const own = promptOf(i, 1 + ((i * 37) % 120));
      return { prompt: i % 3 === 0 ? [...shared, ...own] : own, maxTokens: 4 + ((i * 7) % 30) };
    });
    const results = await Promise.all(
      cases.map((c) => collect(engine, request(c.prompt, { maxTokens: c.maxTokens }))),
    );
    const alone: number[][] = [];
    for (const c of cases) {
      const solo = makeEngine({ numBlocks: 96 });
      alone.push(
        (await collect(solo.engine, request(c.prompt, { maxTokens: c.maxTokens }))).tokens,
      );
      await solo.engine.close();
    }
    results.forEach((r, i) => {
      expect(r.tokens).toEqual(alone[i]);
      expect(r.tokens).toEqual(
        referenceTokens(cases[i]!.prompt, { maxTokens: cases[i]!.maxTokens }),
      );
      expect(r.last.finished).toBe(true);
      expect(r.last.numOutputTokens).toBe(r.tokens.length);
    });
    expect(results.some((r) => r.last.finishReason === 'stop')).toBe(true);
    expect(results.some((r) => r.last.finishReason === 'length')).toBe(true);
    expect(engine.stats().numFreeBlocks).toBe(96);
    await engine.close();
  });

  it('lets a request that arrives mid-flight join the running batch at the next step', async () => {
    const a = promptOf(1, 10);
    const b = promptOf(2, 5);
    let late: Promise<unknown> | null = null;
    const { engine, runner } = makeEngine({
      onExecute: (batch) => {
        if (batch.step === 4) late = collect(engine, request(b, { maxTokens: 3, ignoreEos: true }));
      },
    });
    await collect(engine, request(a, { maxTokens: 12, ignoreEos: true }));
    await late;
    const idA = seqIdOf(runner, a);
    const idB = seqIdOf(runner, b);
    const stepsWith = (id: number | undefined) =>
      runner.batches.filter((x) => x.sequences.some((s) => s.seqId === id)).map((x) => x.step);
    expect(stepsWith(idB)[0]).toBe(5);
    expect(stepsWith(idA)).toContain(5);
    const step5 = runner.batches.find((x) => x.step === 5)!;
    expect(step5.sequences.map((s) => [s.seqId, s.tokenIds.length, s.sample])).toEqual([
      [idA, 1, true],
      [idB, 5, true],
    ]);
  });

  it('splits a long prompt over steps within the token budget (chunked prefill)', async () => {
    const { engine, runner } = makeEngine({ maxNumBatchedTokens: 32 });
    const prompt = promptOf(3, 100);
    const r = await collect(engine, request(prompt, { maxTokens: 3, ignoreEos: true }));
    expect(r.tokens).toEqual(referenceTokens(prompt, { maxTokens: 3, ignoreEos: true }));
    const chunks = runner.batches.map((b) =>
      b.sequences.map((s) => [s.startPosition, s.tokenIds.length, s.sample]),
    );
    expect(chunks).toEqual([
      [[0, 32, false]],
      [[32, 32, false]],
      [[64, 32, false]],
      [[96, 4, true]],
      [[100, 1, true]],
      [[101, 1, true]],
    ]);
  });

  it('schedules decodes first and fills the rest of the budget with a prefill chunk', async () => {
    const a = promptOf(4, 8);
    const b = promptOf(5, 70);
    let late: Promise<Collected> | null = null;
    const { engine, runner } = makeEngine({
      maxNumBatchedTokens: 32,
      onExecute: (batch) => {
        if (batch.step === 2) late = collect(engine, request(b, { maxTokens: 2, ignoreEos: true }));
      },
    });
    const ra = await collect(engine, request(a, { maxTokens: 8, ignoreEos: true }));
    const rb = await late!;
    expect(ra.tokens).toEqual(referenceTokens(a, { maxTokens: 8, ignoreEos: true }));
    expect(rb.tokens).toEqual(referenceTokens(b, { maxTokens: 2, ignoreEos: true }));
    const [idA, idB] = [seqIdOf(runner, a), seqIdOf(runner, b)];
    const shape = (step: number) =>
      runner.batches
        .find((x) => x.step === step)!
        .sequences.map((s) => [s.seqId, s.startPosition, s.tokenIds.length, s.sample]);
    expect([3, 4, 5].map(shape)).toEqual([
      [
        [idA, 9, 1, true],
        [idB, 0, 31, false],
      ],
      [
        [idA, 10, 1, true],
        [idB, 31, 31, false],
      ],
      [
        [idA, 11, 1, true],
        [idB, 62, 8, true],
      ],
    ]);
  });

  it('admits waiting requests by priority, then arrival', async () => {
    const { engine, runner } = makeEngine({ maxNumSeqs: 1 });
    const prompts = [promptOf(10, 4), promptOf(11, 4), promptOf(12, 4), promptOf(13, 4)];
    const priorities = [5, 0, 1, 0];
    await Promise.all(
      prompts.map((p, i) =>
        collect(engine, request(p, { maxTokens: 2, ignoreEos: true, priority: priorities[i] })),
      ),
    );
    const firstStep = prompts.map((p) => {
      const id = seqIdOf(runner, p);
      return runner.batches.findIndex((b) => b.sequences.some((s) => s.seqId === id));
    });
    const order = [0, 1, 2, 3].sort((x, y) => firstStep[x]! - firstStep[y]!);
    expect(order).toEqual([1, 3, 2, 0]);
  });

  it('preempts under a tiny block pool and still produces identical outputs', async () => {
    const metrics = new Registry();
    const { engine } = makeEngine({ numBlocks: 10, blockSize: 4, maxModelLen: 40, metrics });
    const cases = Array.from({ length: 6 }, (_, i) => ({
      prompt: promptOf(20 + i, 6 + i),
      maxTokens: 14 + i,
    }));
    const results = await Promise.all(
      cases.map((c) =>
        collect(engine, request(c.prompt, { maxTokens: c.maxTokens, ignoreEos: true })),
      ),
    );
    results.forEach((r, i) => {
      const c = cases[i]!;
      expect(r.tokens).toEqual(
        referenceTokens(c.prompt, { maxTokens: c.maxTokens, ignoreEos: true }),
      );
    });
    const { numPreemptions, numFreeBlocks } = engine.stats();
    expect(numPreemptions).toBeGreaterThan(0);
    expect(numFreeBlocks).toBe(10);
    expect(metrics.render()).toContain(`edgeserve:num_preemptions_total ${numPreemptions}`);
  });

  it('answers 503 with retry-after when the waiting queue is full', async () => {
    const { engine } = makeEngine({ maxNumSeqs: 1, maxQueueLen: 2 });
    const accepted = [1, 2, 3].map((i) =>
      collect(engine, request(promptOf(i, 4), { maxTokens: 2 })),
    );
    const err = await rejection(collect(engine, request(promptOf(4, 4))));
    expect([err.status, err.type, err.code, err.headers['retry-after']]).toEqual([
      503,
      'service_unavailable',
      'overloaded',
      '1',
    ]);
    for (const r of await Promise.all(accepted)) expect(r.last.finished).toBe(true);
    expect((await collect(engine, request(promptOf(5, 4), { maxTokens: 2 }))).last.finished).toBe(
      true,
    );
  });

  it('frees every block of an aborted request within one step', async () => {
    let abortAt: number | null = null;
    const { engine, runner } = makeEngine({
      numBlocks: 16,
      onExecute: (batch) => {
        if (batch.step === 5) {
          abortAt = batch.step;
          engine.abort('target');
        }
      },
    });
    const r = await collect(
      engine,
      request(promptOf(30, 40), { maxTokens: 100, ignoreEos: true }, { requestId: 'target' }),
    );
    expect(abortAt).toBe(5);
    expect(r.last.finishReason).toBe('abort');
    expect(r.tokens.length).toBe(4);
    expect(runner.batches.length).toBe(5);
    expect(engine.stats().numFreeBlocks).toBe(16);
    expect(engine.stats().numRunning).toBe(0);
  });

  it("starts the next step before handing a step's tokens to the consumer (overlap)", async () => {
    const { engine, runner } = makeEngine();
    const events: string[] = [];
    const execute = runner.execute.bind(runner);
    runner.execute = (batch) => {
      events.push(`execute ${batch.step}`);
      return execute(batch);
    };
    const req = request(promptOf(41, 5), { maxTokens: 4, ignoreEos: true });
    let received = 0;
    for await (const out of engine.generate(req))
      for (const _ of out.newTokenIds) events.push(`token ${++received}`);
    // token k comes from step k; it reaches the consumer once step k + 1 is running, except the
    // last, which is handed over at once since nothing is left to run.
    expect(events).toEqual([
      'execute 1',
      'execute 2',
      'token 1',
      'execute 3',
      'token 2',
      'execute 4',
      'token 3',
      'token 4',
    ]);
  });

  it('ends a request on abort(id, "stop") with finish reason stop', async () => {
    const { engine } = makeEngine({
      onExecute: (batch) => {
        if (batch.step === 3) engine.abort('stopper', 'stop');
      },
    });
    const r = await collect(
      engine,
      request(promptOf(31, 5), { maxTokens: 50, ignoreEos: true }, { requestId: 'stopper' }),
    );
    expect([r.last.finishReason, r.tokens.length]).toEqual(['stop', 2]);
  });

  it('aborts on the AbortSignal and when the consumer stops reading', async () => {
    const { engine } = makeEngine({ numBlocks: 16 });
    const controller = new AbortController();
    const gen = engine.generate(
      request(promptOf(32, 20), { maxTokens: 100, ignoreEos: true }, { signal: controller.signal }),
    );
    expect((await gen.next()).done).toBe(false);
    controller.abort();
    const rest = [];
    for await (const out of gen) rest.push(out);
    expect(rest[rest.length - 1]?.finishReason).toBe('abort');
    for await (const out of engine.generate(
      request(promptOf(33, 20), { maxTokens: 100, ignoreEos: true }),
    )) {
      expect(out.newTokenIds.length).toBeGreaterThan(0);
      break;
    }
    await collect(engine, request(promptOf(34, 3), { maxTokens: 1 }));
    expect(engine.stats()).toMatchObject({ numFreeBlocks: 16, numRunning: 0, numWaiting: 0 });
  });

  it('reports prefix-cache hits for a repeated prompt in tokens', async () => {
    const metrics = new Registry();
    const { engine } = makeEngine({ metrics });
    const prompt = promptOf(40, 50);
    const first = await collect(engine, request(prompt, { maxTokens: 5, ignoreEos: true }));
    const second = await collect(engine, request(prompt, { maxTokens: 5, ignoreEos: true }));
    expect(first.last.numCachedTokens).toBe(0);
    expect(second.last.numCachedTokens).toBe(Math.floor((50 - 1) / 16) * 16);
    expect(second.tokens).toEqual(first.tokens);
    const exact = promptOf(41, 48);
    await collect(engine, request(exact, { maxTokens: 1 }));
    const again = await collect(engine, request(exact, { maxTokens: 1 }));
    expect(again.last.numCachedTokens).toBe(32);
    expect(engine.stats()).toMatchObject({
      prefixCacheQueries: 50 + 50 + 48 + 48,
      prefixCacheHits: 48 + 32,
    });
    expect(metrics.render()).toContain('edgeserve:prefix_cache_hits_total 80');
    expect(metrics.render()).toContain('edgeserve:prefix_cache_queries_total 196');
  });

  it('drains: refuses new work with 503 draining and resolves once in-flight requests end', async () => {
    const { engine } = makeEngine();
    const inFlight = [1, 2, 3].map((i) =>
      collect(engine, request(promptOf(50 + i, 6), { maxTokens: 6, ignoreEos: true })),
    );
    let drained = false;
    const drain = engine.drain().then(() => {
      drained = true;
    });
    const err = await rejection(collect(engine, request(promptOf(60, 4))));
    expect([err.status, err.code]).toEqual([503, 'draining']);
    expect(drained).toBe(false);
    const results = await Promise.all(inFlight);
    await drain;
    expect(drained).toBe(true);
    for (const r of results) expect(r.tokens.length).toBe(6);
  });

  it('fails only the requests of a step the runner failed, and keeps serving', async () => {
    const poison = promptOf(70, 7);
    const { engine, errors } = makeEngine({
      onExecute: (batch: SchedulerOutput) => {
        if (
          batch.sequences.some(
            (s) => s.promptTokenIds[0] === poison[0] && s.promptTokenIds.length === 7,
          )
        )
          throw new Error('device lost');
      },
    });
    const err = await rejection(collect(engine, request(poison)));
    expect([err.status, err.type]).toEqual([500, 'server_error']);
    expect(err.message).not.toContain('device lost');
    expect(errors).toHaveLength(1);
    const ok = promptOf(71, 9);
    expect((await collect(engine, request(ok, { maxTokens: 4, ignoreEos: true }))).tokens).toEqual(
      referenceTokens(ok, { maxTokens: 4, ignoreEos: true }),
    );
    expect(engine.healthy()).toBe(true);
    expect(engine.stats().numFreeBlocks).toBe(64);
  });

  it('fails a batch whose runner answer breaks the contract, and keeps serving', async () => {
    const runner = new FakeRunner({ numBlocks: 16, blockSize: 16 });
    let breakNext = true;
    const honest = runner.execute.bind(runner);
    runner.execute = async (batch) => {
      const out = await honest(batch);
      if (!breakNext) return out;
      breakNext = false;
      return { sampled: out.sampled.map(() => null), promptLogprobs: out.promptLogprobs };
    };
    const engine = new LLMEngine(runner, {
      maxNumSeqs: 4,
      maxNumBatchedTokens: 64,
      maxModelLen: 64,
      maxQueueLen: 4,
      eosTokenIds: [EOS],
      onError: () => {},
    });
    expect((await rejection(collect(engine, request(promptOf(72, 5))))).status).toBe(500);
    const ok = promptOf(73, 5);
    expect((await collect(engine, request(ok, { maxTokens: 3, ignoreEos: true }))).tokens).toEqual(
      referenceTokens(ok, { maxTokens: 3, ignoreEos: true }),
    );
    expect(engine.stats().numFreeBlocks).toBe(16);
    expect(engine.healthy()).toBe(true);
  });

  it('reports unhealthy while a step is stuck past the timeout', async () => {
    let now = 0;
    let release: () => void = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => {};
    const inStep = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const { engine } = makeEngine({
      now: () => now,
      stepTimeoutSeconds: 10,
      onExecute: async () => {
        entered();
        await stuck;
      },
    });
    const run = collect(engine, request(promptOf(80, 3), { maxTokens: 1 }));
    await inStep;
    now = 5;
    expect(engine.healthy()).toBe(true);
    now = 11;
    expect(engine.healthy()).toBe(false);
    release();
    await run;
    expect(engine.healthy()).toBe(true);
    await engine.close();
    expect(engine.healthy()).toBe(false);
  });

  it('rejects an empty prompt and prompt + max_tokens over the context with 400s', async () => {
    const { engine } = makeEngine({ maxModelLen: 32 });
    const empty = await rejection(collect(engine, request([])));
    expect([empty.status, empty.param]).toEqual([400, 'prompt']);
    const long = await rejection(collect(engine, request(promptOf(90, 20), { maxTokens: 13 })));
    expect([long.status, long.param]).toEqual([400, 'max_tokens']);
    expect(long.message).toContain('max_tokens');
    const full = await rejection(collect(engine, request(promptOf(91, 32), { maxTokens: null })));
    expect(full.status).toBe(400);
    const badToken = await rejection(collect(engine, request([1, 64])));
    expect(badToken.param).toBe('prompt');
  });

  it('fills the context when max_tokens is null', async () => {
    const { engine } = makeEngine({ maxModelLen: 32 });
    const r = await collect(
      engine,
      request(promptOf(92, 10), { maxTokens: null, ignoreEos: true }),
    );
    expect([r.tokens.length, r.last.finishReason]).toEqual([22, 'length']);
  });

  it('holds back EOS and stop ids until min_tokens, then stops on them', async () => {
    const { engine } = makeEngine();
    const prompt = promptOf(93, 6);
    const free = referenceTokens(prompt, { maxTokens: 10, ignoreEos: true });
    const stopId = free[1]!;
    const early = await collect(
      engine,
      request(prompt, { maxTokens: 10, ignoreEos: true, stopTokenIds: [stopId] }),
    );
    expect(early.tokens).toEqual(free.slice(0, free.indexOf(stopId) + 1));
    expect(early.last.finishReason).toBe('stop');
    const held = await collect(
      engine,
      request(prompt, { maxTokens: 10, minTokens: 5, stopTokenIds: [stopId] }),
    );
    expect(held.tokens).toEqual(
      referenceTokens(prompt, { maxTokens: 10, minTokens: 5, stopTokenIds: [stopId] }),
    );
    expect(held.tokens.slice(0, 5)).not.toContain(stopId);
    expect(held.tokens.slice(0, 5)).not.toContain(EOS);
  });

  it('returns prompt logprobs once (first null) without prefix-cache reuse, across chunks', async () => {
    const { engine } = makeEngine({ maxNumBatchedTokens: 16 });
    const prompt = promptOf(94, 40);
    await collect(engine, request(prompt, { maxTokens: 2 }));
    const r = await collect(
      engine,
      request(prompt, { maxTokens: 3, logprobs: 2, ignoreEos: true }, { wantPromptLogprobs: true }),
    );
    const withPrompt = r.outputs.filter((o) => o.promptLogprobs);
    expect(withPrompt).toHaveLength(1);
    const lp = withPrompt[0]!.promptLogprobs!;
    expect(lp).toHaveLength(40);
    expect(lp[0]).toBeNull();
    expect(lp.slice(1).map((x) => x!.tokenId)).toEqual(prompt.slice(1));
    expect(r.last.numCachedTokens).toBe(0);
    const logprobs = r.outputs.flatMap((o) => o.newLogprobs);
    expect(logprobs.map((x) => x.tokenId)).toEqual(r.tokens);
    expect(logprobs.every((x) => x.topLogprobs?.length === 2)).toBe(true);
  });

  it('records vLLM-named metrics', async () => {
    const metrics = new Registry();
    const { engine } = makeEngine({ metrics });
    await Promise.all([
      collect(engine, request(promptOf(95, 5), { maxTokens: 4, ignoreEos: true })),
      collect(engine, request(promptOf(96, 7), { maxTokens: 3, ignoreEos: true })),
    ]);
    const text = metrics.render();
    for (const line of [
      'edgeserve:generation_tokens_total 7',
      'edgeserve:prompt_tokens_total 12',
      'edgeserve:request_success_total{finished_reason="length"} 2',
      'edgeserve:time_to_first_token_seconds_count 2',
      'edgeserve:inter_token_latency_seconds_count 5',
      'edgeserve:e2e_request_latency_seconds_count 2',
      'edgeserve:request_queue_time_seconds_count 2',
      'edgeserve:num_requests_running 0',
      'edgeserve:num_requests_waiting 0',
      'edgeserve:kv_cache_usage_perc 0',
    ])
      expect(text).toContain(line);
  });

  it('close() aborts what is in flight', async () => {
    let closing: Promise<void> | null = null;
    const { engine, runner } = makeEngine({
      onExecute: (batch) => {
        if (batch.step === 2) closing = engine.close();
      },
    });
    const r = await collect(engine, request(promptOf(97, 5), { maxTokens: 50, ignoreEos: true }));
    expect(r.last.finishReason).toBe('abort');
    expect((await rejection(collect(engine, request(promptOf(98, 5))))).status).toBe(503);
    await closing;
    expect(runner.closed).toBe(true);
  });
});
