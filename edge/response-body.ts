/**
 * An upstream response body on Node, fed by undici's dispatch callbacks, read as an async
 * iterable or listened to (listenable.ts). Chunks that arrive before the reader asks again come
 * out as one (undici hands over the chunks of one socket read one by one, in one go), so
 * downstream they become one write; a listener gets them together too, a microtask after the
 * read, never from inside undici's callbacks. Backpressure: undici is paused while more than
 * `HIGH_WATER_BYTES` wait unread, as its own Readable does at its default high-water mark, and
 * while a listener has paused.
 */
import type { Dispatcher } from 'undici';
import { errors } from 'undici';
import { readUtf8 } from '../shared/utf8.ts';
import type { Listenable, Listener } from './listenable.ts';

const HIGH_WATER_BYTES = 64 * 1024;

type Waiter = {
  resolve: (result: IteratorResult<Uint8Array>) => void;
  reject: (err: unknown) => void;
};

export class ResponseBody implements AsyncIterableIterator<Uint8Array>, Listenable<Uint8Array> {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #ended = false;
  #error: unknown;
  #waiter: Waiter | undefined;
  #listener: Listener<Uint8Array> | undefined;
  #listenerPaused = false;
  #wakeQueued = false;

  constructor(private readonly controller: Dispatcher.DispatchController) {}

  push(chunk: Buffer): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= HIGH_WATER_BYTES) this.controller.pause();
    // After the rest of this read's chunks have been pushed: one value for all of them.
    if (this.#waiter || this.#listener) this.#wakeSoon();
  }

  end(): void {
    if (this.#error !== undefined) return;
    this.#ended = true;
    this.#wakeSoon();
  }

  /** The request failed or was aborted: what is still unread is dropped, the next read throws. */
  fail(err: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = err;
    this.#chunks = [];
    this.#bytes = 0;
    this.#wakeSoon();
  }

  /** Discards the rest of the body and frees the connection (a no-op once it has ended). */
  cancel(): void {
    if (this.#ended || this.#error !== undefined) return;
    const reason = new errors.RequestAbortedError();
    this.#listener = undefined; // the consumer gave up: it is told nothing more
    this.fail(reason);
    this.controller.abort(reason);
  }

  listen(listener: Listener<Uint8Array>): boolean {
    if (this.#waiter || this.#listener) return false;
    this.#listener = listener;
    this.#wakeSoon(); // what came before, and an end or failure already seen
    return true;
  }

  pause(): void {
    this.#listenerPaused = true;
    if (!this.controller.paused) this.controller.pause();
  }

  resume(): void {
    this.#listenerPaused = false;
    if (this.controller.paused) this.controller.resume();
    this.#wakeSoon();
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
    if (this.controller.paused && !this.#listenerPaused) this.controller.resume();
    return value;
  }

  #wakeSoon(): void {
    if (this.#wakeQueued) return;
    this.#wakeQueued = true;
    queueMicrotask(this.#wake);
  }

  readonly #wake = (): void => {
    this.#wakeQueued = false;
    if (this.#listener) {
      this.#deliver(this.#listener);
      return;
    }
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

  /** Hands the listener what has come, then the end or the failure (once, and then nothing). */
  #deliver(listener: Listener<Uint8Array>): void {
    if (this.#listenerPaused) return;
    if (this.#chunks.length > 0) {
      listener.data(this.#take());
      // The listener may have paused, given up or been handed more meanwhile.
      if (this.#listenerPaused || this.#listener !== listener || this.#chunks.length > 0) return;
    }
    if (this.#error !== undefined) {
      this.#listener = undefined;
      listener.error(this.#error);
    } else if (this.#ended) {
      this.#listener = undefined;
      listener.end();
    }
  }
}
