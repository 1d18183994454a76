/**
 * One streamed request against an OpenAI-compatible server, timed from the client's side: send
 * time, the first chunk that carries output (TTFT), every later one (ITL), the end of the stream
 * (E2E). Token counts come from the server's `usage` (stream_options.include_usage) when it sends
 * one, else from the number of output-carrying chunks.
 */
import type { Dispatcher } from 'undici';
import { SseParser } from '../shared/sse.ts';
import { type BenchRequest, promptTokenIds } from './dataset.ts';
import type { RequestTimeline } from './metrics.ts';
import { wordsFor } from './words.ts';

export type Endpoint = '/v1/completions' | '/v1/chat/completions';

export interface Target {
  baseUrl: string;
  endpoint: Endpoint;
  model: string;
  apiKey: string | null;
  /** tokens: `prompt` as an array of token ids (completions only); text: random words. */
  promptFormat: 'tokens' | 'text';
  ignoreEos: boolean;
  temperature: number;
}

export function requestBody(target: Target, req: BenchRequest): Record<string, unknown> {
  const common = {
    model: target.model,
    max_tokens: req.outputLen,
    temperature: target.temperature,
    stream: true,
    stream_options: { include_usage: true },
    ...(target.ignoreEos ? { ignore_eos: true } : {}),
  };
  if (target.endpoint === '/v1/completions') {
    const prompt =
      target.promptFormat === 'tokens' ? promptTokenIds(req) : wordsFor(promptTokenIds(req));
    return { ...common, prompt };
  }
  const messages = req.prefixTokenIds.length
    ? [{ role: 'system', content: wordsFor(req.prefixTokenIds) }]
    : [];
  messages.push({ role: 'user', content: wordsFor(req.tokenIds) });
  return { ...common, messages };
}

/** The path of an endpoint under a base URL that may carry its own path prefix. */
export function endpointPath(baseUrl: string, endpoint: string): string {
  return new URL(baseUrl).pathname.replace(/\/+$/, '') + endpoint;
}

export function headers(target: Target): Record<string, string> {
  const out: Record<string, string> = { 'content-type': 'application/json' };
  if (target.apiKey) out.authorization = `Bearer ${target.apiKey}`;
  return out;
}

interface Choice {
  text?: unknown;
  delta?: { role?: unknown; content?: unknown };
  finish_reason?: unknown;
}
interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

/**
 * Whether a chunk's choice carries generated output. A chat stream's role-only preamble and a
 * closing chunk that only says finish_reason do not; an empty-text chunk mid-stream does (the
 * detokenizer may hold back a partial character, but a token was produced).
 */
export function carriesOutput(choice: Choice, chat: boolean): boolean {
  const text = chat ? choice.delta?.content : choice.text;
  if (typeof text === 'string' && text.length > 0) return true;
  if (chat && choice.delta?.role !== undefined) return false;
  return typeof text === 'string' && (choice.finish_reason ?? null) === null;
}

class StreamTimer {
  private firstMs: number | null = null;
  private lastMs = 0;
  readonly itlMs: number[] = [];
  chunks = 0;
  usage: Usage | null = null;

  constructor(private readonly sentMs: number) {}

  onChunk(json: { choices?: Choice[]; usage?: Usage | null }, chat: boolean, nowMs: number) {
    if (json.usage) this.usage = json.usage;
    const choice = json.choices?.[0];
    if (!choice || !carriesOutput(choice, chat)) return;
    if (this.firstMs === null) this.firstMs = nowMs;
    else this.itlMs.push(nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.chunks++;
  }

  timeline(req: BenchRequest, startMs: number, endMs: number): RequestTimeline {
    const cached = this.usage?.prompt_tokens_details?.cached_tokens;
    return {
      ok: this.firstMs !== null,
      ...(this.firstMs === null ? { error: 'stream ended without output' } : {}),
      startMs,
      ttftMs: (this.firstMs ?? endMs) - this.sentMs,
      e2eMs: endMs - this.sentMs,
      itlMs: this.itlMs,
      promptTokens: this.usage?.prompt_tokens ?? req.promptLen,
      outputTokens: this.usage?.completion_tokens ?? this.chunks,
      cachedTokens: typeof cached === 'number' ? cached : null,
    };
  }
}

const failure = (startMs: number, error: string): RequestTimeline => ({
  ok: false,
  error,
  startMs,
  ttftMs: 0,
  e2eMs: 0,
  itlMs: [],
  promptTokens: 0,
  outputTokens: 0,
  cachedTokens: null,
});

/** Sends one request and times its stream; `runStartMs` is the run's origin on the same clock. */
export async function timeRequest(
  dispatcher: Dispatcher,
  target: Target,
  req: BenchRequest,
  runStartMs: number,
): Promise<RequestTimeline> {
  const chat = target.endpoint === '/v1/chat/completions';
  const sentMs = performance.now();
  const startMs = sentMs - runStartMs;
  try {
    const res = await dispatcher.request({
      method: 'POST',
      path: endpointPath(target.baseUrl, target.endpoint),
      headers: headers(target),
      body: JSON.stringify(requestBody(target, req)),
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      return failure(startMs, `HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    }
    const timer = new StreamTimer(sentMs);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const onMessages = (messages: { data: string }[]) => {
      const now = performance.now();
      for (const msg of messages)
        if (msg.data !== '[DONE]') timer.onChunk(JSON.parse(msg.data), chat, now);
    };
    for await (const chunk of res.body)
      onMessages(parser.push(decoder.decode(chunk, { stream: true })));
    onMessages(parser.end());
    return timer.timeline(req, startMs, performance.now());
  } catch (err) {
    return failure(startMs, (err as Error).message);
  }
}
