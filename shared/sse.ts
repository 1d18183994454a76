/** Server-sent events: encoding for producers, an incremental parser for consumers. */

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
  private buffer = '';
  private data: string[] = [];
  private event: string | undefined;
  private id: string | undefined;

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone trailing '\r' may be the first half of '\r\n': wait for more input.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line, out);
    }
    return out;
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): SseMessage[] {
    const out: SseMessage[] = [];
    // At the end of input a trailing '\r' is a whole line end, not half of a '\r\n'.
    const last = this.buffer.endsWith('\r') ? this.buffer.slice(0, -1) : this.buffer;
    if (this.buffer) this.line(last, out);
    this.buffer = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        const msg: SseMessage = { data: this.data.join('\n') };
        if (this.event !== undefined) msg.event = this.event;
        if (this.id !== undefined) msg.id = this.id;
        out.push(msg);
      }
      this.data = [];
      this.event = undefined;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
  }
}

/** Reads a byte stream of SSE and yields each event's data (stops at `[DONE]`). */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    for (const msg of parser.push(decoder.decode(chunk, { stream: true }))) {
      if (msg.data === '[DONE]') return;
      yield msg.data;
    }
  }
  for (const msg of parser.end()) {
    if (msg.data === '[DONE]') return;
    yield msg.data;
  }
}
