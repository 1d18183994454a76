/**
 * A tiny OpenAI-compatible streaming server on loopback, for testing the benchmark client end to
 * end: it streams one chunk per output token (max_tokens of them), then a usage chunk, then
 * [DONE]. It records every request body it received.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSE_DONE, sseEvent } from '../shared/sse.ts';

export interface StubOptions {
  /** Answer 400 to prompts given as token-id arrays (like a text-only peer). */
  rejectTokenPrompts?: boolean;
  /** Leave the usage chunk out even when include_usage is asked for. */
  omitUsage?: boolean;
  /** Fail every request whose index (arrival order) is in this set with a 500. */
  failIndices?: Set<number>;
  version?: Record<string, unknown>;
}

export interface StubServer {
  url: string;
  bodies: Record<string, unknown>[];
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text);
}

const promptLength = (body: Record<string, unknown>): number => {
  if (Array.isArray(body.prompt)) return body.prompt.length;
  if (typeof body.prompt === 'string') return body.prompt.split(' ').length;
  const messages = body.messages as { content: string }[];
  return messages.reduce((n, m) => n + m.content.split(' ').length, 0);
};

async function stream(
  res: ServerResponse,
  body: Record<string, unknown>,
  chat: boolean,
  o: StubOptions,
) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const maxTokens = Number(body.max_tokens);
  const choice = (i: number, text: string, finish: string | null) =>
    chat
      ? {
          index: 0,
          delta: i === -1 ? { role: 'assistant', content: '' } : { content: text },
          finish_reason: finish,
        }
      : { index: 0, text, finish_reason: finish };
  if (chat) res.write(sseEvent({ choices: [choice(-1, '', null)] }));
  for (let i = 0; i < maxTokens; i++) {
    await new Promise((r) => setTimeout(r, 1));
    res.write(sseEvent({ choices: [choice(i, ` t${i}`, null)] }));
  }
  res.write(sseEvent({ choices: [choice(maxTokens, '', 'length')] }));
  const wantsUsage = (body.stream_options as { include_usage?: boolean })?.include_usage;
  if (wantsUsage && !o.omitUsage) {
    const promptTokens = promptLength(body);
    res.write(
      sseEvent({
        choices: [],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: maxTokens,
          total_tokens: promptTokens + maxTokens,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      }),
    );
  }
  res.end(SSE_DONE);
}

export async function startStubServer(o: StubOptions = {}): Promise<StubServer> {
  const bodies: Record<string, unknown>[] = [];
  let completions = 0;
  const server: Server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'stub-model', object: 'model' }] }));
      return;
    }
    if (req.method === 'GET' && req.url === '/version' && o.version) {
      res.end(JSON.stringify(o.version));
      return;
    }
    const chat = req.url === '/v1/chat/completions';
    if (req.method !== 'POST' || !(chat || req.url === '/v1/completions')) {
      res.writeHead(404).end();
      return;
    }
    const body = await readJson(req);
    if (o.rejectTokenPrompts && Array.isArray(body.prompt)) {
      res.writeHead(400).end(JSON.stringify({ error: { message: 'prompt must be a string' } }));
      return;
    }
    if (!body.stream) {
      res.end(JSON.stringify({ choices: [{ index: 0, text: 'x', finish_reason: 'length' }] }));
      return;
    }
    const index = completions++;
    bodies.push(body);
    if (o.failIndices?.has(index)) {
      res.writeHead(500).end(JSON.stringify({ error: { message: 'planted failure' } }));
      return;
    }
    await stream(res, body, chat, o);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
