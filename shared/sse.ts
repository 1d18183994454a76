/** Server-sent events: encoding for producers, an incremental parser for consumers. */
import { Utf8Stream } from './utf8.ts';

const encoder = new TextEncoder();

/** One `data:` event. Objects are JSON-encoded; strings are sent as they are (e.g. `[DONE]`). */
export function sseEvent(data: unknown): string {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return `data: ${text.split('\n').join('\ndata: ')}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

export const encodeSse = (data: unknown): Uint8Array => encoder.encode(sseEvent(data));

export interface SseMessage {
  event?: string;
  data: string;
  id?: string;
}

/**
 * Incremental SSE parser (WHATWG rules: `\n`, `\r\n` or `\r` line ends, `:` comments, multi-line
 * data joined with `\n`). Feed it text in arbitrary chunks; it returns the events completed so far.
 */
export class SseParser {
  /** An incomplete last line, waiting for its line end. */
  private buffer = '';
  /** The current event's data lines so far. */
  private data: string[] = [];
  private event: string | undefined;
  private id: string | undefined;

  push(chunk: string): SseMessage[] {
    const text = this.buffer + chunk;
    const out: SseMessage[] = [];
    // Lines are read in place, by index (no regex, no slice of the rest per line); a '\r' is
    // looked for only where one is left (most streams have none).
    let pos = 0;
    let cr = text.indexOf('\r');
    for (;;) {
      const lf = text.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos);
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A lone trailing '\r' may be the first half of '\r\n': wait for more input.
        if (cr === text.length - 1) break;
        end = cr;
        next = text.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else break;
      this.line(text, pos, end, out);
      pos = next;
    }
    this.buffer = pos === 0 ? text : text.slice(pos);
    return out;
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): SseMessage[] {
    const out: SseMessage[] = [];
    // At the end of input a trailing '\r' is a whole line end, not half of a '\r\n'.
    const last = this.buffer;
    if (last) this.line(last, 0, last.endsWith('\r') ? last.length - 1 : last.length, out);
    this.buffer = '';
    this.line('', 0, 0, out);
    return out;
  }

  /** The line `text[start, end)`. */
  private line(text: string, start: number, end: number, out: SseMessage[]): void {
    if (start === end) {
      if (this.data.length > 0) {
        const data = this.data;
        const msg: SseMessage = { data: data.length === 1 ? data[0]! : data.join('\n') };
        if (this.event !== undefined) msg.event = this.event;
        if (this.id !== undefined) msg.id = this.id;
        out.push(msg);
        this.data = [];
      }
      this.event = undefined;
      return;
    }
    if (text.charCodeAt(start) === 0x3a) return; // ':' starts a comment
    let colon = text.indexOf(':', start);
    if (colon >= end) colon = -1;
    const fieldEnd = colon === -1 ? end : colon;
    let valueStart = colon === -1 ? end : colon + 1;
    if (valueStart < end && text.charCodeAt(valueStart) === 0x20) valueStart++;
    const field = fieldEnd - start;
    if (field === 4 && text.startsWith('data', start)) this.data.push(text.slice(valueStart, end));
    else if (field === 5 && text.startsWith('event', start))
      this.event = text.slice(valueStart, end);
    else if (field === 2 && text.startsWith('id', start)) this.id = text.slice(valueStart, end);
  }
}

/** The parser fed UTF-8 bytes as they arrive (a character split across reads waits for its rest). */
export class SseByteParser {
  readonly #parser = new SseParser();
  readonly #utf8 = new Utf8Stream();

  push(bytes: Uint8Array): SseMessage[] {
    return this.#parser.push(this.#utf8.decode(bytes));
  }

  end(): SseMessage[] {
    return this.#parser.push(this.#utf8.end()).concat(this.#parser.end());
  }
}

/** Reads a byte stream of SSE and yields each event's data (stops at `[DONE]`). */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const parser = new SseByteParser();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    for (const msg of parser.push(chunk)) {
      if (msg.data === '[DONE]') return;
      yield msg.data;
    }
  }
  for (const msg of parser.end()) {
    if (msg.data === '[DONE]') return;
    yield msg.data;
  }
}
