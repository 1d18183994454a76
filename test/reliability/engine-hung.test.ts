/**
 * A hung engine turns health red: a backend assembled in process over a runner whose execute
 * never resolves (stepTimeoutSeconds 1). Its /health goes from 200 to 503 once a step is stuck,
 * and an edge in front of it reports the backend down and answers 503 instead of queueing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LLMEngine } from '../../backend/engine/engine.ts';
import { ChatTemplate } from '../../backend/model/chat-template.ts';
import { loadSamplingDefaults } from '../../backend/model/generation-config.ts';
import { ModelTokenizer } from '../../backend/model/tokenizer.ts';
import type { Runner, SchedulerOutput } from '../../backend/runner/runner.ts';
import { createBackendListener } from '../../backend/server/app.ts';
import type { ServingContext } from '../../backend/server/context.ts';
import type { NodeEdge } from '../../edge/node.ts';
import { Registry } from '../../shared/metrics.ts';
import { bearer, startEdge, testConfig, waitFor } from '../edge-helpers.ts';
import { fixtureModelCache } from '../fixtures/models.ts';

/** Executes nothing, ever: the model is wedged (a stuck kernel, a dead worker thread). */
class HungRunner implements Runner {
  readonly name = 'hung';
  readonly kvCache = { numBlocks: 64, blockSize: 16, bytes: 0 };
  readonly entered: Promise<void>;
  private enter: () => void = () => {};
  constructor() {
    this.entered = new Promise((resolve) => {
      this.enter = resolve;
    });
  }
  execute(_batch: SchedulerOutput): Promise<never> {
    this.enter();
    return new Promise(() => {});
  }
  async close(): Promise<void> {}
}

let runner: HungRunner;
let engine: LLMEngine;
let server: Server;
let url: string;
let edge: NodeEdge;

beforeAll(async () => {
  const dir = fixtureModelCache('llama', 11);
  const tokenizer = await ModelTokenizer.load(dir);
  runner = new HungRunner();
  engine = new LLMEngine(runner, {
    maxNumSeqs: 4,
    maxNumBatchedTokens: 256,
    maxModelLen: 512,
    maxQueueLen: 8,
    eosTokenIds: [tokenizer.eosTokenId!],
    vocabSize: tokenizer.vocabSize,
    stepTimeoutSeconds: 1,
  });
  const context: ServingContext = {
    modelName: 'm',
    maxModelLen: 512,
    engine,
    tokenizer,
    chatTemplate: new ChatTemplate(tokenizer.chatTemplate!),
    samplingDefaults: await loadSamplingDefaults(dir),
    registry: new Registry(),
    createdAt: 0,
    runnerInfo: { device: 'test', runner: runner.name },
  };
  server = createServer(createBackendListener(context, { version: 'test' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  edge = await startEdge(testConfig([url], { routing: { healthCheckIntervalMs: 100 } }));
});

afterAll(async () => {
  await edge?.close();
  server?.closeAllConnections();
  server?.close();
});

describe('engine hung', () => {
  it('turns /health red on the backend and the edge once a step runs past the timeout', async () => {
    expect((await fetch(`${url}/health`)).status).toBe(200);
    await waitFor(async () => (await fetch(`${edge.url}/health`)).status === 200);
    const abort = new AbortController();
    const stuck = fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', prompt: 'wedge it', max_tokens: 4 }),
      signal: abort.signal,
    }).catch(() => null);
    await runner.entered;
    expect(engine.healthy()).toBe(true);
    await waitFor(() => !engine.healthy(), 3000);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { error: { code: string } }).error.code).toBe(
      'engine_unhealthy',
    );
    await waitFor(async () => (await fetch(`${edge.url}/health`)).status === 503, 3000);
    const viaEdge = await fetch(`${edge.url}/v1/completions`, {
      method: 'POST',
      headers: await bearer(),
      body: JSON.stringify({ model: 'm', prompt: 'anyone there?', max_tokens: 2 }),
    });
    expect(viaEdge.status).toBe(503);
    expect(viaEdge.headers.get('retry-after')).toBeTruthy();
    abort.abort();
    await stuck;
  });
});
