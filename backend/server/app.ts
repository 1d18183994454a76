/** The backend's routes: the OpenAI API plus vLLM's /tokenize, /detokenize, /version, and ops. */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { badRequest, serviceUnavailable, unauthorized } from '../../shared/errors.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../../shared/metrics.ts';
import { handleChat } from './chat.ts';
import { handleCompletions } from './completions.ts';
import { checkModel, type ServingContext } from './context.ts';
import {
  createRequestListener,
  type Route,
  type RouterOptions,
  readJson,
  sendJson,
  sendText,
} from './http.ts';

type Json = Record<string, unknown>;

function objectBody(body: unknown): Json {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('Request body must be a JSON object.', null, 'invalid_type');
  return body as Json;
}

function routes(ctx: ServingContext, version: string): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/chat/completions',
      auth: true,
      handler: (rc) => handleChat(ctx, rc),
    },
    {
      method: 'POST',
      path: '/v1/completions',
      auth: true,
      handler: (rc) => handleCompletions(ctx, rc),
    },
    {
      method: 'GET',
      path: '/v1/models',
      auth: true,
      handler: async (rc) =>
        sendJson(rc, 200, {
          object: 'list',
          data: [
            {
              id: ctx.modelName,
              object: 'model',
              created: ctx.createdAt,
              owned_by: 'edgeserve',
              max_model_len: ctx.maxModelLen,
            },
          ],
        }),
    },
    {
      method: 'POST',
      path: '/tokenize',
      auth: true,
      handler: async (rc) => {
        const body = objectBody(await readJson(rc.req));
        if (body.model !== undefined) checkModel(ctx, String(body.model));
        let text: string;
        if (typeof body.prompt === 'string') text = body.prompt;
        else if (Array.isArray(body.messages) && ctx.chatTemplate)
          text = ctx.chatTemplate.render(body.messages as never, {
            addGenerationPrompt: body.add_generation_prompt !== false,
            bosToken: ctx.tokenizer.bosToken,
            eosToken: ctx.tokenizer.eosToken,
          });
        else throw badRequest("'prompt' (a string) or 'messages' is required.", 'prompt');
        const addSpecial =
          typeof body.add_special_tokens === 'boolean'
            ? body.add_special_tokens
            : typeof body.prompt === 'string';
        const tokens = ctx.tokenizer.encode(text, { addSpecialTokens: addSpecial });
        sendJson(rc, 200, { tokens, count: tokens.length, max_model_len: ctx.maxModelLen });
      },
    },
    {
      method: 'POST',
      path: '/detokenize',
      auth: true,
      handler: async (rc) => {
        const body = objectBody(await readJson(rc.req));
        if (body.model !== undefined) checkModel(ctx, String(body.model));
        const tokens = body.tokens;
        if (
          !Array.isArray(tokens) ||
          !tokens.every((t) => Number.isSafeInteger(t) && t >= 0 && t < ctx.tokenizer.vocabSize)
        )
          throw badRequest(
            `'tokens' must be an array of token ids in [0, ${ctx.tokenizer.vocabSize}).`,
            'tokens',
          );
        sendJson(rc, 200, { prompt: ctx.tokenizer.decode(tokens as number[]) });
      },
    },
    {
      method: 'GET',
      path: '/health',
      handler: async (rc) => {
        const stats = ctx.engine.stats();
        if (!ctx.engine.healthy())
          throw serviceUnavailable('The engine is not serving.', 5, 'engine_unhealthy');
        if (stats.draining) throw serviceUnavailable('The server is shutting down.', 5, 'draining');
        sendJson(rc, 200, {
          status: 'ok',
          running: stats.numRunning,
          waiting: stats.numWaiting,
          kv_cache_usage: stats.kvCacheUsage,
        });
      },
    },
    {
      method: 'GET',
      path: '/version',
      handler: async (rc) =>
        sendJson(rc, 200, { version, model: ctx.modelName, ...ctx.runnerInfo }),
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async (rc) => sendText(rc, 200, ctx.registry.render(), PROMETHEUS_CONTENT_TYPE),
    },
  ];
}

/** Bearer check in constant time; no key configured means open (loopback use). */
function bearerAuthorizer(apiKey: string | undefined): RouterOptions['authorize'] {
  if (!apiKey) return undefined;
  const expected = Buffer.from(apiKey);
  return (req: IncomingMessage) => {
    const header = req.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw unauthorized('Missing or invalid API key.', 'invalid_api_key');
  };
}

export function createBackendListener(
  ctx: ServingContext,
  options: { version: string; apiKey?: string; onError?: RouterOptions['onError'] },
) {
  return createRequestListener({
    routes: routes(ctx, options.version),
    authorize: bearerAuthorizer(options.apiKey),
    onError: options.onError,
  });
}
