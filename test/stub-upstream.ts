/**
 * A small OpenAI-compatible server for edge tests and benchmarks: chat and text completions as
 * plain JSON or SSE, `/v1/models`, `/health`; with configurable delays and failures, and
 * counters of what reached it. Its answer text is deterministic (from `reply`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type StubFailure = 'none' | '503' | '500' | 'hang' | 'mid-stream' | 'reset';

export interface StubOptions {
  name: string;
  /** The completion text; a function sees the request body. */
  reply: string | ((body: Record<string, unknown>) => string);
  /** Characters per streamed chunk. */
  chunkChars: number;
  firstByteDelayMs: number;
  chunkDelayMs: number;
  healthy: boolean;
  failure: StubFailure;
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** The body as sent. */
  text: string;
}

export interface StubUpstream {
  url: string;
  options: StubOptions;
  /** Completion requests received (not health checks). */
  completions: number;
  healthChecks: number;
  inFlight: number;
  requests: RecordedRequest[];
  /** Resolves when every open connection has closed (after an abort). */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startStubUpstream(
  overrides: Partial<StubOptions> = {},
  port = 0,
): Promise<StubUpstream> {
  const options: StubOptions = {
    name: 'stub',
    reply: 'Hello from the stub upstream.',
    chunkChars: 4,
    firstByteDelayMs: 0,
    chunkDelayMs: 0,
    healthy: true,
    failure: 'none',
    ...overrides,
  };
  const stub: StubUpstream = {
    url: '',
    options,
    completions: 0,
    healthChecks: 0,
    inFlight: 0,
    requests: [],
    close: async () => {},
  };
  const server = createServer((req, res) => void handle(stub, req, res));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return stub;
}

async function handle(stub: StubUpstream, req: IncomingMessage, res: ServerResponse) {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/health') {
    stub.healthChecks++;
    return json(res, stub.options.healthy ? 200 : 503, {
      status: stub.options.healthy ? 'ok' : 'down',
    });
  }
  if (path === '/v1/models')
    return json(res, 200, {
      object: 'list',
      data: [{ id: 'stub-model', object: 'model', created: 0, owned_by: stub.options.name }],
    });
  if (path !== '/v1/chat/completions' && path !== '/v1/completions')
    return json(res, 404, {
      error: { message: 'not found', type: 'not_found_error', param: null, code: null },
    });
  const text = await readAll(req);
  const body = JSON.parse(text || '{}');
  stub.completions++;
  stub.requests.push({ path, headers: req.headers, body, text });
  stub.inFlight++;
  res.on('close', () => stub.inFlight--);
  await complete(stub, path === '/v1/chat/completions', body, res);
}

async function complete(
  stub: StubUpstream,
  chat: boolean,
  body: Record<string, unknown>,
  res: ServerResponse,
) {
  const o = stub.options;
  if (o.failure === 'reset') return res.socket?.destroy();
  if (o.failure === '503')
    return json(
      res,
      503,
      { error: { message: 'overloaded', type: 'service_unavailable', param: null, code: null } },
      { 'retry-after': '1' },
    );
  if (o.failure === '500')
    return json(res, 500, {
      error: { message: 'boom', type: 'server_error', param: null, code: null },
    });
  if (o.failure === 'hang') return; // never answers
  if (o.firstByteDelayMs) await sleep(o.firstByteDelayMs);
  const text = typeof o.reply === 'function' ? o.reply(body) : o.reply;
  const promptTokens = JSON.stringify(body.messages ?? body.prompt ?? '').length >> 2;
  const completionTokens = Math.max(1, Math.ceil(text.length / o.chunkChars));
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  const base = { id: `cmpl-${o.name}`, created: 1700000000, model: String(body.model) };
  if (body.stream !== true) {
    const choice = chat
      ? {
          index: 0,
          message: { role: 'assistant', content: text },
          logprobs: null,
          finish_reason: 'stop',
        }
      : { index: 0, text, logprobs: null, finish_reason: 'stop' };
    return json(res, 200, {
      ...base,
      object: chat ? 'chat.completion' : 'text_completion',
      choices: [choice],
      usage,
    });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const object = chat ? 'chat.completion.chunk' : 'text_completion';
  const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(`data: ${JSON.stringify({ ...base, object, choices, ...extra })}\n\n`);
  const piece = (content: string, finish: string | null) =>
    chat
      ? {
          index: 0,
          delta: content === '' && finish === null ? { role: 'assistant', content } : { content },
          logprobs: null,
          finish_reason: finish,
        }
      : { index: 0, text: content, logprobs: null, finish_reason: finish };
  if (chat) send([piece('', null)]);
  for (let i = 0; i < text.length; i += o.chunkChars) {
    if (o.chunkDelayMs) await sleep(o.chunkDelayMs);
    if (res.destroyed) return;
    if (o.failure === 'mid-stream' && i >= text.length / 2) return res.socket?.destroy();
    send([piece(text.slice(i, i + o.chunkChars), null)]);
  }
  send([chat ? { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' } : piece('', 'stop')]);
  const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
  if (streamOptions?.include_usage) send([], { usage });
  res.end('data: [DONE]\n\n');
}

function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function readAll(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}
