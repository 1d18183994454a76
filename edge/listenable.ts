/**
 * A stream that pushes, for the path every streamed piece takes on Node. Read as an async
 * iterator, each piece of an answer costs a promise and a continuation at every layer it crosses
 * (upstream body, idle watch, SSE parsing, rendering, the socket writer); listened to, a piece
 * goes through all of them in plain calls, one microtask after the upstream read that brought it.
 * Sources that cannot push (fetch bodies, cache replays) are still read as iterators.
 */

export interface Listener<T> {
  /** What one upstream read brought (never empty). */
  data(value: T): void;
  end(): void;
  error(err: unknown): void;
}

export interface Listenable<T> {
  /**
   * Hands everything from now on to `listener` as it arrives, and returns true; returns false,
   * changing nothing, when this stream can only be read as an iterator. Never both.
   */
  listen(listener: Listener<T>): boolean;
  /** Holds values back (the consumer is full) until `resume`. */
  pause(): void;
  resume(): void;
}

/** Listens to `source` if it can push; false when it has to be read as an iterator. */
export function listenTo<T>(source: object, listener: Listener<T>): boolean {
  const listen = (source as Partial<Listenable<T>>).listen;
  return typeof listen === 'function' && listen.call(source, listener);
}

/** Pauses or resumes `source` if it is a listened-to stream. */
export function setPaused(source: object, paused: boolean): void {
  const s = source as Partial<Listenable<unknown>>;
  if (paused) s.pause?.();
  else s.resume?.();
}
