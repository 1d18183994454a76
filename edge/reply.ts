/**
 * The edge's internal answer: a status, headers and a parsed body (one JSON value, or a stream
 * of SSE items). Upstream responses are parsed into it once; the post-response stages (mask,
 * usage metering, cache store) transform it; it is rendered to bytes once at the end. Keeping the
 * stream as parsed items means each stage edits objects, never re-parses SSE framing.
 */
import { type HttpError, toHttpError } from '../shared/errors.ts';
import { SSE_DONE, SseParser } from '../shared/sse.ts';

/** One SSE event: parsed JSON data, or raw data (e.g. `[DONE]`). */
export type SseItem = { json: Record<string, unknown> } | { data: string };

export type ReplyBody =
  | { type: 'json'; json: unknown }
  /** Items come in batches: those parsed from one upstream read travel and are sent together. */
  | { type: 'sse'; events: AsyncIterable<SseItem[]> }
  | { type: 'text'; text: string };

export class EdgeReply {
  constructor(
    public status: number,
    public headers: Record<string, string>,
    public body: ReplyBody,
    /** Replayed from the response cache: already masked and metered. */
    readonly fromCache = false,
    /** Stops the upstream call (client went away). */
    readonly cancel: () => void = () => {},
  ) {}
}

export const isSse = (contentType: string | null) => !!contentType?.includes('text/event-stream');
export const isJson = (contentType: string | null) => !!contentType?.includes('application/json');

/** Parses an SSE byte stream into items. */
export async function* parseSse(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SseItem[]> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  for await (const chunk of chunks) {
    const batch = parser.push(decoder.decode(chunk, { stream: true })).map((m) => toItem(m.data));
    if (batch.length) yield batch;
  }
  const rest = parser.end().map((m) => toItem(m.data));
  if (rest.length) yield rest;
}

function toItem(data: string): SseItem {
  if (data.startsWith('{')) {
    try {
      return { json: JSON.parse(data) };
    } catch {
      // not JSON after all: pass it on untouched
    }
  }
  return { data };
}

const encoder = new TextEncoder();

function itemText(item: SseItem): string {
  if ('json' in item) return `data: ${JSON.stringify(item.json)}\n\n`;
  if (item.data === '[DONE]') return SSE_DONE;
  return `data: ${item.data.split('\n').join('\ndata: ')}\n\n`;
}

export const encodeItems = (items: SseItem[]): Uint8Array =>
  encoder.encode(items.map(itemText).join(''));

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

/** What happened to a rendered body, reported once it has ended. */
export type BodyOutcome = 'complete' | 'error' | 'cancelled';

/**
 * Renders a reply as a fetch Response. A stream that fails midway ends with an SSE error event
 * (OpenAI's error JSON) and `[DONE]`, since the status line has long been sent.
 */
export function renderReply(
  reply: EdgeReply,
  headers: Record<string, string>,
  onEnd: (outcome: BodyOutcome, error?: HttpError) => void,
): Response {
  const all = { ...reply.headers, ...headers };
  if (reply.body.type === 'json') {
    onEnd('complete');
    return new Response(JSON.stringify(reply.body.json), {
      status: reply.status,
      headers: { 'content-type': 'application/json', ...all },
    });
  }
  if (reply.body.type === 'text') {
    onEnd('complete');
    return new Response(reply.body.text, { status: reply.status, headers: all });
  }
  return new Response(sseStream(reply, reply.body.events, onEnd), {
    status: reply.status,
    headers: { ...SSE_HEADERS, ...all },
  });
}

function sseStream(
  reply: EdgeReply,
  events: AsyncIterable<SseItem[]>,
  onEnd: (outcome: BodyOutcome, error?: HttpError) => void,
): ReadableStream<Uint8Array> {
  const iterator = events[Symbol.asyncIterator]();
  let ended = false;
  const end = (outcome: BodyOutcome, error?: HttpError) => {
    if (ended) return;
    ended = true;
    onEnd(outcome, error);
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) {
            end('complete');
            controller.close();
          } else controller.enqueue(encodeItems(next.value));
        } catch (err) {
          const error = toHttpError(err);
          end('error', error);
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(error.toJSON())}\n\n`));
          controller.enqueue(encoder.encode(SSE_DONE));
          controller.close();
        }
      },
      async cancel() {
        end('cancelled');
        reply.cancel();
        await iterator.return?.(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
