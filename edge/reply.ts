/**
 * The edge's internal answer: a status, headers and a parsed body (one JSON value, or a stream
 * of SSE items). Upstream responses are parsed into it once; the post-response stages (mask,
 * usage metering, cache store) transform it; it is rendered to bytes once at the end. Keeping the
 * stream as parsed items means each stage edits objects, never re-parses SSE framing.
 */
import { type HttpError, toHttpError } from '../shared/errors.ts';
import { SSE_DONE, SseByteParser } from '../shared/sse.ts';
import { type Listenable, type Listener, listenTo, setPaused } from './listenable.ts';

/**
 * One SSE event: parsed JSON data, or raw data (e.g. `[DONE]`). `raw` is the text the JSON was
 * parsed from, sent as is while it still says the same: a stage that changes `json` updates `raw`
 * or deletes it (then the item is encoded again).
 */
export type SseItem = { json: Record<string, unknown>; raw?: string } | { data: string };

/**
 * A synchronous step over a stream, applied by `SseBody` to each batch in the order the stages
 * were added: no promise or generator per stage per chunk.
 */
export interface SseStage {
  /** Transforms one batch (may edit, drop or add items). */
  batch(items: SseItem[]): SseItem[];
  /** Items to send once the upstream stream has ended; they pass through the later stages. */
  end?(): SseItem[];
}

export type ReplyBody =
  | { type: 'json'; json: unknown }
  /** Items come in batches: those parsed from one upstream read travel and are sent together. */
  | { type: 'sse'; events: AsyncIterable<SseItem[]>; stages: SseStage[] }
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

/** Parses an SSE byte stream into items: one batch per read that completed any events. */
export const parseSse = (chunks: AsyncIterable<Uint8Array>): AsyncIterableIterator<SseItem[]> =>
  new SseItems(chunks[Symbol.asyncIterator]());

/**
 * `parseSse`'s iterator: a plain one rather than an async generator (it is on every chunk's
 * path). It can be listened to when its bytes can.
 */
class SseItems implements AsyncIterableIterator<SseItem[]>, Listenable<SseItem[]> {
  readonly #parser = new SseByteParser();
  #over = false;

  constructor(private readonly chunks: AsyncIterator<Uint8Array>) {}

  async next(): Promise<IteratorResult<SseItem[]>> {
    while (!this.#over) {
      const next = await this.chunks.next();
      if (next.done) {
        const rest = this.#end();
        if (rest.length) return { value: rest, done: false };
        break;
      }
      const batch = this.#parse(next.value);
      if (batch.length) return { value: batch, done: false };
    }
    return { value: undefined, done: true };
  }

  listen(listener: Listener<SseItem[]>): boolean {
    return listenTo<Uint8Array>(this.chunks, {
      data: (bytes) => {
        const batch = this.#parse(bytes);
        if (batch.length) listener.data(batch);
      },
      end: () => {
        const rest = this.#end();
        if (rest.length) listener.data(rest);
        listener.end();
      },
      error: (err) => {
        this.#over = true;
        listener.error(err);
      },
    });
  }

  pause(): void {
    setPaused(this.chunks, true);
  }

  resume(): void {
    setPaused(this.chunks, false);
  }

  #parse(bytes: Uint8Array): SseItem[] {
    return this.#parser.push(bytes).map((m) => toItem(m.data));
  }

  /** What the parser still held when the bytes ended. */
  #end(): SseItem[] {
    this.#over = true;
    return this.#parser.end().map((m) => toItem(m.data));
  }

  /** Gives the rest up: the byte stream is closed too. */
  async return(): Promise<IteratorResult<SseItem[]>> {
    if (!this.#over) {
      this.#over = true;
      await this.chunks.return?.();
    }
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function toItem(data: string): SseItem {
  if (data.startsWith('{')) {
    try {
      const json = JSON.parse(data);
      // Multi-line data would need re-framing: encode it again instead.
      return data.includes('\n') ? { json } : { json, raw: data };
    } catch {
      // not JSON after all: pass it on untouched
    }
  }
  return { data };
}

/** An item's data as sent. */
export const itemData = (item: SseItem): string =>
  'json' in item ? (item.raw ?? JSON.stringify(item.json)) : item.data;

function itemsText(items: SseItem[]): string {
  let text = '';
  for (const item of items) {
    if ('json' in item) text += `data: ${item.raw ?? JSON.stringify(item.json)}\n\n`;
    else if (item.data === '[DONE]') text += SSE_DONE;
    else text += `data: ${item.data.split('\n').join('\ndata: ')}\n\n`;
  }
  return text;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};
const JSON_HEADERS = { 'content-type': 'application/json' };
/** What a fetch Response gives a string body that names no type. */
const TEXT_HEADERS = { 'content-type': 'text/plain;charset=UTF-8' };

/** What happened to a rendered body, reported once it has ended. */
export type BodyOutcome = 'complete' | 'error' | 'cancelled';

/**
 * A reply rendered but not yet bytes: the Node entry writes it to the socket itself (a stream
 * from its `SseBody`, anything else in one write), with no fetch Response, Headers or web stream
 * built per request; other runtimes turn it into a Response (`toResponse`).
 */
export class RenderedReply {
  constructor(
    readonly status: number,
    /** Lower-case names. */
    readonly headers: Record<string, string>,
    readonly body: string | SseBody,
  ) {}
}

/** Renders a reply; `onEnd` is told when its body has ended (at once for a whole body). */
export function renderReply(
  reply: EdgeReply,
  headers: Record<string, string>,
  onEnd: (outcome: BodyOutcome, error?: HttpError) => void,
): RenderedReply {
  // Later sources win. Object.assign rather than `{ ...a, ...b }`: V8 spreads a second object
  // into one that already has keys on a slow path, ~5 µs for a reply's dozen headers.
  const head = (defaults: Record<string, string>) =>
    Object.assign({}, defaults, reply.headers, headers);
  if (reply.body.type === 'json' || reply.body.type === 'text') {
    onEnd('complete');
    const body = reply.body;
    if (body.type === 'json')
      return new RenderedReply(reply.status, head(JSON_HEADERS), JSON.stringify(body.json));
    return new RenderedReply(reply.status, head(TEXT_HEADERS), body.text);
  }
  const body = new SseBody(reply, reply.body.events, reply.body.stages, onEnd);
  return new RenderedReply(reply.status, head(SSE_HEADERS), body);
}

/** A rendered reply as a fetch Response (Workers, tests): a stream becomes a web stream. */
export function toResponse(rendered: RenderedReply): Response {
  const { status, headers, body } = rendered;
  return new Response(typeof body === 'string' ? body : webStream(body), { status, headers });
}

/** Where a piped stream's text goes. */
export interface TextSink {
  /** Takes the next text (never empty); false when the consumer is full: wait for `resume`. */
  write(text: string): boolean;
  /** The stream is over (complete, or ended with an error event); not called after `cancel`. */
  end(): void;
}

/**
 * A stream's events, through its stages, as SSE text: read with `next`, or piped to a sink,
 * which goes through every stage in plain calls when the events can be listened to (an upstream
 * stream on Node). A stream that fails midway ends with an SSE error event (OpenAI's error JSON)
 * and `[DONE]`, since the status line has long been sent.
 */
export class SseBody {
  readonly #iterator: AsyncIterator<SseItem[]>;
  #over = false;
  #outcome: BodyOutcome | undefined;
  /** While a pipe is reading as an iterator and its sink is full: resumes it. */
  #resumePump: (() => void) | undefined;

  constructor(
    private readonly reply: EdgeReply,
    events: AsyncIterable<SseItem[]>,
    private readonly stages: SseStage[],
    private readonly onEnd: (outcome: BodyOutcome, error?: HttpError) => void,
  ) {
    this.#iterator = events[Symbol.asyncIterator]();
  }

  /** The next text to send (never empty); null once the stream is over. */
  async next(): Promise<string | null> {
    if (this.#over) return null;
    try {
      for (;;) {
        const next = await this.#iterator.next();
        if (this.#over) return null;
        if (next.done) return this.#complete() || null;
        const text = this.#text(next.value);
        if (text) return text;
      }
    } catch (err) {
      if (this.#over) return null;
      return this.#fail(err);
    }
  }

  /** Sends the stream to `sink` as it arrives, pausing while the sink is full. */
  pipe(sink: TextSink): void {
    const listening = listenTo<SseItem[]>(this.#iterator, {
      data: (items) => {
        if (this.#over) return;
        let text: string;
        try {
          text = this.#text(items);
        } catch (err) {
          return this.#failTo(sink, err);
        }
        if (text && !sink.write(text)) setPaused(this.#iterator, true);
      },
      end: () => {
        if (this.#over) return;
        let text: string;
        try {
          text = this.#complete();
        } catch (err) {
          return this.#failTo(sink, err);
        }
        if (text) sink.write(text);
        sink.end();
      },
      error: (err) => {
        if (!this.#over) this.#failTo(sink, err);
      },
    });
    if (!listening) void this.#pump(sink);
  }

  /**
   * Ends a piped stream with an error event: the upstream failed, or a stage did (a listened-to
   * stream has no reader to throw to).
   */
  #failTo(sink: TextSink, err: unknown): void {
    sink.write(this.#fail(err));
    sink.end();
  }

  /** The sink of `pipe` can take more. */
  resume(): void {
    const resumePump = this.#resumePump;
    this.#resumePump = undefined;
    if (resumePump) resumePump();
    else if (!this.#over) setPaused(this.#iterator, false);
  }

  /** The client went away: stops the upstream call. */
  cancel(): void {
    if (this.#over) return;
    this.#finish('cancelled', '');
    this.resume(); // a pump waiting for its sink sees that it is over
    this.#stopUpstream();
  }

  #stopUpstream(): void {
    this.reply.cancel();
    void this.#iterator.return?.(undefined)?.catch(() => {});
  }

  /** `pipe` for events that can only be read as an iterator. */
  async #pump(sink: TextSink): Promise<void> {
    for (let text = await this.next(); text !== null; text = await this.next()) {
      if (!sink.write(text)) await new Promise<void>((resolve) => (this.#resumePump = resolve));
    }
    // Over: complete or failed (the last text said so), or cancelled (the sink is not told).
    if (this.#outcome !== 'cancelled') sink.end();
  }

  #text(items: SseItem[]): string {
    return itemsText(this.#apply(items, 0));
  }

  #apply(items: SseItem[], from: number): SseItem[] {
    for (let i = from; i < this.stages.length && items.length > 0; i++)
      items = this.stages[i]!.batch(items);
    return items;
  }

  /** What the stages still hold once the upstream stream has ended. */
  #complete(): string {
    let text = '';
    for (let i = 0; i < this.stages.length; i++) {
      const extra = this.stages[i]!.end?.();
      if (extra?.length) text += itemsText(this.#apply(extra, i + 1));
    }
    return this.#finish('complete', text);
  }

  /**
   * The SSE error event and `[DONE]` that end a stream that failed midway. The upstream call is
   * stopped, in case it is what still runs (a stage failed, not the upstream).
   */
  #fail(err: unknown): string {
    const error = toHttpError(err);
    this.#stopUpstream();
    return this.#finish('error', `data: ${JSON.stringify(error.toJSON())}\n\n${SSE_DONE}`, error);
  }

  #finish(outcome: BodyOutcome, text: string, error?: HttpError): string {
    this.#over = true;
    this.#outcome = outcome;
    this.onEnd(outcome, error);
    return text;
  }
}

const encoder = new TextEncoder();

function webStream(body: SseBody): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const text = await body.next();
        if (text === null) controller.close();
        else controller.enqueue(encoder.encode(text));
      },
      cancel: () => body.cancel(),
    },
    { highWaterMark: 0 },
  );
}
