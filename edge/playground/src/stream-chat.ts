/**
 * One streamed chat completion through the edge: SSE read from fetch's body, with the timings
 * the page shows (time to first token, tokens per second) and the edge's x-cache verdict.
 */
import { SseParser } from '../../../shared/sse.ts';
import { ApiError, authHeaders, errorFrom } from './api.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature: number;
  top_p: number;
  max_tokens: number;
  seed?: number;
}

export interface StreamProgress {
  text: string;
  /** Content chunks so far (about one per token), until usage gives the real count. */
  numTokens: number;
  ttftMs: number | null;
  tokensPerSecond: number | null;
  cache: string | null;
  finishReason: string | null;
}

interface Chunk {
  choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
  usage?: { completion_tokens?: number } | null;
  error?: { message?: string; code?: string | null };
}

export async function streamChat(
  request: ChatRequest,
  signal: AbortSignal,
  onProgress: (progress: StreamProgress) => void,
): Promise<StreamProgress> {
  const startedAt = performance.now();
  const res = await send(request, signal);
  const progress: StreamProgress = {
    text: '',
    numTokens: 0,
    ttftMs: null,
    tokensPerSecond: null,
    cache: res.headers.get('x-cache'),
    finishReason: null,
  };
  let firstAt = 0;
  const onChunk = (chunk: Chunk) => {
    if (chunk.error) throw new ApiError(res.status, chunk.error.message ?? 'stream failed');
    const choice = chunk.choices?.[0];
    const delta = choice?.delta?.content ?? '';
    const now = performance.now();
    if (delta) {
      if (progress.ttftMs === null) {
        firstAt = now;
        progress.ttftMs = now - startedAt;
      }
      progress.text += delta;
      progress.numTokens++;
    }
    if (choice?.finish_reason) progress.finishReason = choice.finish_reason;
    if (typeof chunk.usage?.completion_tokens === 'number')
      progress.numTokens = chunk.usage.completion_tokens;
    // Decode speed: tokens after the first over the time since the first.
    if (progress.numTokens > 1 && now > firstAt)
      progress.tokensPerSecond = ((progress.numTokens - 1) * 1000) / (now - firstAt);
  };
  await readEvents(res.body!, (data) => {
    onChunk(JSON.parse(data) as Chunk);
    onProgress(progress);
  });
  return progress;
}

async function send(request: ChatRequest, signal: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: authHeaders({ 'content-type': 'application/json' }),
      body: JSON.stringify({ ...request, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new ApiError(0, 'The edge cannot be reached.');
  }
  if (!res.ok) throw await errorFrom(res);
  if (!res.body) throw new ApiError(res.status, 'The response had no body.');
  return res;
}

/** Calls `onData` for each event's data until `[DONE]` or the end of the body. */
async function readEvents(body: ReadableStream<Uint8Array>, onData: (data: string) => void) {
  const reader = body.getReader();
  const parser = new SseParser();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    const messages = done ? parser.end() : parser.push(decoder.decode(value, { stream: true }));
    for (const message of messages) {
      if (message.data === '[DONE]') {
        await reader.cancel().catch(() => {});
        return;
      }
      onData(message.data);
    }
    if (done) return;
  }
}
