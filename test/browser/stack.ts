/**
 * What the browser tests and the screenshot script share: a real backend and edge on free ports,
 * a token for them, and Debian's chromium driven by playwright-core.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { parseBackendOptions } from '../../backend/config.ts';
import { type RunningBackend, startBackend } from '../../backend/serve.ts';
import type { EdgeConfig } from '../../edge/config.ts';
import type { NodeEdge } from '../../edge/node.ts';
import { createLogger } from '../../shared/log.ts';
import { startEdge, testConfig, token } from '../edge-helpers.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

export interface Stack {
  backend: RunningBackend;
  edge: NodeEdge;
  model: string;
  token: string;
  close(): Promise<void>;
}

export interface StackOptions {
  modelDir: string;
  device: 'reference' | 'cpu';
  /** Changes to the edge's test config (see edge-helpers.ts). */
  edge?: (config: EdgeConfig) => void;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const args = ['--model', options.modelDir, '--device', options.device, '--port', '0'];
  const quiet = createLogger('test', 'error', () => {});
  const backend = await startBackend(
    parseBackendOptions([...args, '--kv-cache-memory', '64MiB'], {}),
    quiet,
  );
  const config = testConfig([backend.url]);
  options.edge?.(config);
  const edge = await startEdge(config);
  let closed = false;
  return {
    backend,
    edge,
    model: backend.context.modelName,
    token: await token('playground', 3600),
    async close() {
      if (closed) return;
      closed = true;
      await edge.close();
      await backend.close().catch(() => {});
    },
  };
}
