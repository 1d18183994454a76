/**
 * An upstream response body on Node, fed by undici's dispatch callbacks and read as an async
 * iterable. Chunks that arrive before the reader asks again come out as one (undici hands over
 * the chunks of one socket read one by one, in one go), so downstream they become one write.
 * Backpressure: undici is paused while more than `HIGH_WATER_BYTES` wait unread, as its own
 * Readable does at its default high-water mark.
 */
import type { Dispatcher } from 'undici';
import { errors } from 'undici';
import { readUtf8 } from '../shared/utf8.ts';

const HIGH_WATER_BYTES = 64 * 1024;

type Waiter = {
  resolve: (result: IteratorResult<Uint8Array>) => void;
  reject: (err: unknown) => void;
};

export class ResponseBody implements AsyncIterableIterator<Uint8Array> {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #ended = false;
  #error: unknown;
  #waiter: Waiter | undefined;
  #wakeQueued = false;

  constructor(private readonly controller: Dispatcher.DispatchController) {}

  push(chunk: Buffer): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= HIGH_WATER_BYTES) this.controller.pause();
    // After the rest of this read's chunks have been pushed: one value for all of them.
    if (this.#waiter && !this.#wakeQueued) {
      this.#wakeQueued = true;
      queueMicrotask(this.#wake);
    }
  }

  end(): void {
    if (this.#error !== undefined) return;
    this.#ended = true;
    this.#wake();
  }

  /** The request failed or was aborted: what is still unread is dropped, the next read throws. */
  fail(err: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = err;
    this.#chunks = [];
    this.#bytes = 0;
    this.#wake();
  }

  /** Discards the rest of the body and frees the connection (a no-op once it has ended). */
  cancel(): void {
    if (this.#ended || this.#error !== undefined) return;
    const reason = new errors.RequestAbortedError();
    this.fail(reason);
    this.controller.abort(reason);
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#chunks.length > 0) return Promise.resolve({ value: this.#take(), done: false });
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** A reader that stops early (`break` in for-await) gives the rest up. */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  text(): Promise<string> {
    return readUtf8(this);
  }

  #take(): Buffer {
    const chunks = this.#chunks;
    const value = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#bytes);
    this.#chunks = [];
    this.#bytes = 0;
    if (this.controller.paused) this.controller.resume();
    return value;
  }

  readonly #wake = (): void => {
    this.#wakeQueued = false;
    const waiter = this.#waiter;
    if (!waiter) return;
    if (this.#chunks.length > 0) {
      this.#waiter = undefined;
      waiter.resolve({ value: this.#take(), done: false });
    } else if (this.#error !== undefined) {
      this.#waiter = undefined;
      waiter.reject(this.#error);
    } else if (this.#ended) {
      this.#waiter = undefined;
      waiter.resolve({ value: undefined, done: true });
    }
  };
}
