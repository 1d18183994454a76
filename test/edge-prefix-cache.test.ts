/**
 * The edge in front of a real backend (reference runner, fixture model): each caller gets its own
 * prefix-cache namespace (the edge salts requests with the caller), so nobody can learn from a
 * fast first token that another caller sent the same prompt; `routing.sharedPrefixCache` opts
 * back into one shared cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackendOptions } from '../backend/config.ts';
import { type RunningBackend, startBackend } from '../backend/serve.ts';
import type { NodeEdge } from '../edge/node.ts';
import { createLogger } from '../shared/log.ts';
import { bearer, post, startEdge, testConfig } from './edge-helpers.ts';
import { fixtureModelCache } from './fixtures/models.ts';

let backend: RunningBackend;
let edge: NodeEdge;
let sharedEdge: NodeEdge;

beforeAll(async () => {
  const opts = parseBackendOptions(
    ['--model', fixtureModelCache('llama', 5), '--device', 'reference', '--port', '0'],
    {},
  );
  backend = await startBackend(
    opts,
    createLogger('test', 'error', () => {}),
  );
  const cache = { enabled: false };
  edge = await startEdge(testConfig([backend.url], { cache }));
  sharedEdge = await startEdge(
    testConfig([backend.url], { cache, routing: { sharedPrefixCache: true } }),
  );
});
afterAll(() => Promise.all([edge?.close(), sharedEdge?.close(), backend?.close()]));

let seq = 0;
/** A prompt of several KV blocks that no earlier request sent. */
const freshPrompt = () =>
  `prompt ${++seq} ${Array.from({ length: 60 }, (_, i) => `w${(i * 7 + seq) % 50}`).join(' ')}`;

async function cachedTokens(
  e: NodeEdge,
  sub: string,
  prompt: string,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const model = backend.context.modelName;
  const res = await post(
    `${e.url}/v1/completions`,
    { model, prompt, max_tokens: 1, temperature: 0, ...extra },
    await bearer(sub),
  );
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    usage: { prompt_tokens_details: { cached_tokens: number } };
  };
  return body.usage.prompt_tokens_details.cached_tokens;
}

describe('prefix cache behind the edge', () => {
  it("never serves one caller's cached prefix to another", async () => {
    const prompt = freshPrompt();
    expect(await cachedTokens(edge, 'alice', prompt)).toBe(0);
    expect(await cachedTokens(edge, 'alice', prompt)).toBeGreaterThan(0);
    expect(await cachedTokens(edge, 'bob', prompt)).toBe(0);
    expect(await cachedTokens(edge, 'bob', prompt)).toBeGreaterThan(0);
  });

  it("lets a client's own cache_salt subdivide its namespace, never reach another's", async () => {
    const prompt = freshPrompt();
    expect(await cachedTokens(edge, 'alice', prompt)).toBe(0);
    expect(await cachedTokens(edge, 'alice', prompt, { cache_salt: 'batch-7' })).toBe(0);
    expect(await cachedTokens(edge, 'alice', prompt, { cache_salt: 'batch-7' })).toBeGreaterThan(0);
    // bob naming alice, or alice's salt, still lands in bob's own namespace
    expect(await cachedTokens(edge, 'bob', prompt, { cache_salt: 'alice' })).toBe(0);
    expect(await cachedTokens(edge, 'bob', prompt, { cache_salt: 'batch-7' })).toBe(0);
  });

  it('shares one cache across callers when configured to', async () => {
    const prompt = freshPrompt();
    expect(await cachedTokens(sharedEdge, 'alice', prompt)).toBe(0);
    expect(await cachedTokens(sharedEdge, 'bob', prompt)).toBeGreaterThan(0);
  });
});
