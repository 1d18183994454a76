/** Shared setup for the edge's cross-process tests: configs, tokens, a running edge. */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { defaultConfig, type EdgeConfig } from '../edge/config.ts';
import { mintDevToken } from '../edge/dev-token.ts';
import { type NodeEdge, startNodeEdge } from '../edge/node.ts';

export const SECRET = 'test-secret-that-is-long-enough-0123456789';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };

/** A config for tests: HS256 secret, the given backends, quick health checks. */
export function testConfig(urls: string[], patch: DeepPartial<EdgeConfig> = {}): EdgeConfig {
  const config = defaultConfig();
  config.auth.jwtSecret = SECRET;
  config.routing.urls = urls;
  config.routing.healthCheckIntervalMs = 100;
  config.routing.healthCheckTimeoutMs = 500;
  for (const [section, values] of Object.entries(patch)) {
    const target = (config as unknown as Record<string, unknown>)[section];
    if (target && typeof target === 'object') Object.assign(target, values);
    else (config as unknown as Record<string, unknown>)[section] = values;
  }
  return config;
}

export const token = (sub = 'alice', ttlSeconds = 600) => mintDevToken(SECRET, { sub, ttlSeconds });

export async function bearer(sub = 'alice'): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await token(sub)}`, 'content-type': 'application/json' };
}

export const startEdge = (config: EdgeConfig): Promise<NodeEdge> =>
  startNodeEdge({ config, port: 0, log: () => {} });

export const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'stub-model',
  messages: [{ role: 'user', content }],
  temperature: 0,
  ...extra,
});

export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Response> {
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

/** The content streamed in an SSE chat or completions response, and its raw events. */
export async function readStream(res: Response): Promise<{ text: string; events: string[] }> {
  const raw = await res.text();
  const events = raw
    .split('\n\n')
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ''));
  let text = '';
  for (const e of events) {
    if (e === '[DONE]' || !e.startsWith('{')) continue;
    const json = JSON.parse(e);
    for (const c of json.choices ?? []) text += c.delta?.content ?? c.text ?? '';
  }
  return { text, events };
}

export const waitFor = async (check: () => boolean | Promise<boolean>, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

const root = join(import.meta.dirname, '..');
export const hasMiniflare = existsSync(join(root, 'node_modules', 'miniflare'));

/** The worker as one ES module, resolved the way wrangler resolves it. */
export async function bundleWorker(): Promise<string> {
  const result = await build({
    entryPoints: [join(root, 'edge', 'worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** The bundled worker running in workerd with these bindings (only when Miniflare is installed). */
// biome-ignore lint/suspicious/noExplicitAny: Miniflare is imported only when installed
export async function startWorkerd(bindings: Record<string, string>): Promise<any> {
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    modules: true,
    script: await bundleWorker(),
    compatibilityDate: '2025-01-01',
    bindings,
  });
  await mf.ready;
  return mf;
}
