/**
 * Assembles a backend from its options: model folder → spec, tokenizer, chat template; runner →
 * engine; engine → HTTP server. `close()` drains: the listener stops taking connections, in-flight
 * requests finish, then the runner is released.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, resolve } from 'node:path';
import pkg from '../package.json' with { type: 'json' };
import { ConfigError } from '../shared/config.ts';
import { toHttpError } from '../shared/errors.ts';
import { createLogger, errorFields, type Logger } from '../shared/log.ts';
import { Registry } from '../shared/metrics.ts';
import type { BackendOptions } from './config.ts';
import { LLMEngine } from './engine/engine.ts';
import { ChatTemplate } from './model/chat-template.ts';
import { loadModelSpec } from './model/config.ts';
import { loadSamplingDefaults } from './model/generation-config.ts';
import { ModelTokenizer } from './model/tokenizer.ts';
import { createRunner } from './runner/select.ts';
import { createBackendListener } from './server/app.ts';
import type { ServingContext } from './server/context.ts';

export interface RunningBackend {
  url: string;
  server: Server;
  context: ServingContext;
  /** Stops accepting, finishes in-flight requests, releases the runner. */
  close(): Promise<void>;
}

const CPU_DEFAULTS = { maxNumSeqs: 16, maxNumBatchedTokens: 512 };
const GPU_DEFAULTS = { maxNumSeqs: 256, maxNumBatchedTokens: 4096 };

export async function startBackend(
  opts: BackendOptions,
  log: Logger = createLogger('backend', opts.logLevel as never),
): Promise<RunningBackend> {
  if (!opts.model) throw new ConfigError('--model DIR is required (a Hugging Face model folder)');
  const dir = resolve(opts.model);
  const spec = await loadModelSpec(dir);
  const tokenizer = await ModelTokenizer.load(dir);
  const chatTemplate = tokenizer.chatTemplate ? new ChatTemplate(tokenizer.chatTemplate) : null;
  const started = performance.now();
  const { device, runner, reason } = await createRunner(dir, spec, opts);
  const defaults = device === 'cuda' ? GPU_DEFAULTS : CPU_DEFAULTS;
  const kvTokens = runner.kvCache.numBlocks * runner.kvCache.blockSize;
  let maxModelLen = opts.maxModelLen ?? spec.maxPositionEmbeddings;
  if (opts.maxModelLen === undefined && maxModelLen > kvTokens) maxModelLen = kvTokens;
  if (maxModelLen > spec.maxPositionEmbeddings)
    throw new ConfigError(
      `--max-model-len ${maxModelLen} exceeds the model's max_position_embeddings (${spec.maxPositionEmbeddings})`,
    );
  const registry = new Registry();
  const engine = new LLMEngine(runner, {
    maxNumSeqs: opts.maxNumSeqs ?? defaults.maxNumSeqs,
    maxNumBatchedTokens: opts.maxNumBatchedTokens ?? defaults.maxNumBatchedTokens,
    maxModelLen,
    maxQueueLen: opts.maxQueueLen,
    eosTokenIds: spec.eosTokenIds,
    enablePrefixCaching: opts.enablePrefixCaching,
    vocabSize: spec.vocabSize,
    metrics: registry,
    onError: (err, where) => log.error('engine error', { where, ...errorFields(err) }),
  });
  const context: ServingContext = {
    modelName: opts.servedModelName ?? basename(dir),
    maxModelLen,
    engine,
    tokenizer,
    chatTemplate,
    samplingDefaults: await loadSamplingDefaults(dir),
    registry,
    createdAt: Math.floor(Date.now() / 1000),
    runnerInfo: {
      device,
      runner: runner.name,
      vocab_size: spec.vocabSize,
      max_model_len: maxModelLen,
      kv_cache_blocks: runner.kvCache.numBlocks,
      block_size: runner.kvCache.blockSize,
    },
  };
  const listener = createBackendListener(context, {
    version: pkg.version,
    apiKey: opts.apiKey,
    onError: (err, rc) => {
      if (toHttpError(err).status >= 500)
        log.error('request failed', { request_id: rc.requestId, ...errorFields(err) });
    },
  });
  const server = createServer(
    { keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 0 },
    listener,
  );
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${host}:${port}`;
  log.info('backend ready', {
    url,
    model: context.modelName,
    device,
    device_reason: reason,
    kv_cache_blocks: runner.kvCache.numBlocks,
    kv_cache_tokens: kvTokens,
    max_model_len: maxModelLen,
    startup_seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  });
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      const stopped = new Promise<void>((ok) => server.close(() => ok()));
      // A keep-alive socket whose response ends during the drain turns idle; close it then
      // rather than wait for the client to (undici keeps one up to the server's 65 s hint).
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      await engine.drain();
      await stopped;
      clearInterval(reaper);
      await engine.close();
    })());
  return { url, server, context, close };
}
