/**
 * Which backend gets a request, and getting it there. Least outstanding requests wins, except
 * that a conversation prefers the backend its prefix hashes to (rendezvous hashing over the
 * available backends, so it stays put while that backend is up and not much busier than the
 * least loaded: its KV blocks are cached there). A connect failure or a 503 before any byte
 * arrived is retried on another backend; timeouts are not (the work may be under way).
 */
import { badGateway, gatewayTimeout, HttpError, serviceUnavailable } from '../shared/errors.ts';
import { type AbortLike, Cancellation } from './cancel.ts';
import type { RoutingConfig } from './config.ts';
import { type Listenable, type Listener, listenTo, setPaused } from './listenable.ts';
import {
  type Backend,
  type BackendPool,
  describeNetworkError,
  type FetchUpstream,
  type UpstreamResponse,
} from './upstream.ts';

export interface UpstreamRequest {
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  affinityKey?: string;
  /** Fires when the client has gone away. */
  signal: AbortLike;
}

/** A backend's response, with its body read under the idle timeout. */
export interface Forwarded {
  backend: Backend;
  response: UpstreamResponse;
  chunks: AsyncIterable<Uint8Array>;
  /** Stops the upstream request. */
  abort(): void;
}

const TIMEOUT = 'timeout';
export const clientClosed = () =>
  new HttpError(499, 'invalid_request_error', 'client_closed_request', 'Client closed request.');

/** FNV-1a, 32-bit: cheap, synchronous, stable across runtimes. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class BackendRouter {
  private rotation = 0;

  constructor(
    private readonly pool: BackendPool,
    private readonly config: RoutingConfig,
    private readonly fetchUpstream: FetchUpstream,
    private readonly now: () => number,
    private readonly onUpstreamError: (reason: string) => void = () => {},
  ) {}

  /** The backend for a request, or why there is none. */
  pick(affinityKey: string | undefined, exclude: ReadonlySet<Backend>): Backend | 'down' | 'busy' {
    const now = this.now();
    const up = this.pool.backends.filter((b) => !exclude.has(b) && b.available(now));
    if (up.length === 0) return 'down';
    const open = up.filter((b) => b.outstanding < this.config.maxOutstandingPerBackend);
    if (open.length === 0) return 'busy';
    const least = Math.min(...open.map((b) => b.outstanding));
    if (affinityKey !== undefined) {
      const preferred = rank(open, affinityKey);
      if (preferred.outstanding <= least + this.config.affinitySlack) return preferred;
    }
    const idle = open.filter((b) => b.outstanding === least);
    return idle[this.rotation++ % idle.length]!;
  }

  /** Sends a request, retrying on another backend where that is safe. */
  async send(req: UpstreamRequest): Promise<Forwarded> {
    const tried = new Set<Backend>();
    let lastError: HttpError | undefined;
    for (let attempt = 0; attempt < this.config.maxAttempts; attempt++) {
      const backend = this.pick(req.affinityKey, tried);
      if (typeof backend === 'string') {
        if (lastError) throw lastError;
        throw backend === 'down'
          ? serviceUnavailable(
              'No healthy backend is available.',
              this.config.healthCheckIntervalMs / 1000,
              'no_healthy_backend',
            )
          : serviceUnavailable('Every backend is at capacity.', 1, 'overloaded');
      }
      tried.add(backend);
      const outcome = await this.attempt(backend, req);
      if (outcome instanceof HttpError) {
        lastError = outcome;
        continue;
      }
      const retry503 =
        outcome.response.status === 503 &&
        attempt + 1 < this.config.maxAttempts &&
        typeof this.pick(req.affinityKey, tried) !== 'string';
      if (!retry503) return outcome;
      outcome.abort();
      lastError = serviceUnavailable('Backend overloaded.', 1);
    }
    throw lastError ?? serviceUnavailable('No healthy backend is available.');
  }

  /** One try: a Forwarded, or a retryable HttpError; throws what must not be retried. */
  private async attempt(backend: Backend, req: UpstreamRequest): Promise<Forwarded | HttpError> {
    const controller = new Cancellation();
    const onClientGone = () => controller.abort();
    req.signal.addEventListener('abort', onClientGone);
    backend.outstanding++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      backend.outstanding--;
      req.signal.removeEventListener('abort', onClientGone);
    };
    const timer = setTimeout(() => controller.abort(TIMEOUT), this.config.firstByteTimeoutMs);
    try {
      const response = await this.fetchUpstream(backend.url + req.path, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: controller,
      });
      if (response.status >= 500 && response.status !== 503)
        backend.requestFailed(this.now(), `answered ${response.status}`);
      else backend.requestSucceeded();
      const abort = () => {
        response.cancel();
        controller.abort();
        release();
      };
      const chunks = new WatchedBody(
        this.config,
        this.onUpstreamError,
        backend,
        response,
        controller,
        release,
      );
      return { backend, response, chunks, abort };
    } catch (err) {
      release();
      return this.failure(backend, err, controller, req.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  private failure(
    backend: Backend,
    err: unknown,
    controller: Cancellation,
    client: AbortLike,
  ): HttpError {
    if (client.aborted) throw clientClosed();
    const reason = controller.reason === TIMEOUT ? 'first-byte timeout' : describeNetworkError(err);
    backend.requestFailed(this.now(), reason);
    this.onUpstreamError(reason);
    if (controller.reason === TIMEOUT) throw gatewayTimeout('Backend did not answer in time.');
    if (/TIMEOUT/i.test(reason)) return gatewayTimeout('Backend connection timed out.');
    return badGateway(`Backend request failed (${reason}).`);
  }
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * A backend's response body, read or listened to under the idle timeout; a stall or a failure
 * midway marks the backend unhealthy. Once it has ended, failed or been given up (`return`), the
 * timer is cleared, the backend released and the response cancelled. A plain iterator rather
 * than an async generator: it sits on every chunk's path.
 */
class WatchedBody implements AsyncIterableIterator<Uint8Array>, Listenable<Uint8Array> {
  readonly #chunks: AsyncIterator<Uint8Array> | null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Since when the consumer has been waiting for the next chunk (null while it is not: between a
   * read and the next, or while a listener has paused): only time spent waiting counts.
   */
  #waitingSince: number | null = null;
  #idle = false;
  #over = false;

  constructor(
    private readonly config: RoutingConfig,
    private readonly onUpstreamError: (reason: string) => void,
    private readonly backend: Backend,
    private readonly response: UpstreamResponse,
    private readonly controller: Cancellation,
    private readonly release: () => void,
  ) {
    this.#chunks = response.body ? response.body[Symbol.asyncIterator]() : null;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#over) return DONE;
    if (this.#chunks === null) {
      this.#finish();
      return DONE;
    }
    this.#startWaiting();
    try {
      const next = await this.#chunks.next();
      this.#waitingSince = null;
      if (next.done) this.#finish();
      return next;
    } catch (err) {
      this.#finish();
      throw this.#failure(err);
    }
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.#finish();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  listen(listener: Listener<Uint8Array>): boolean {
    if (this.#over || this.#chunks === null) return false;
    const watched: Listener<Uint8Array> = {
      data: (bytes) => {
        this.#waitingSince = Date.now(); // before the listener, which may pause
        listener.data(bytes);
      },
      end: () => {
        this.#finish();
        listener.end();
      },
      error: (err) => {
        this.#finish();
        listener.error(this.#failure(err));
      },
    };
    if (!listenTo(this.#chunks, watched)) return false;
    this.#startWaiting();
    return true;
  }

  pause(): void {
    this.#waitingSince = null;
    if (this.#chunks) setPaused(this.#chunks, true);
  }

  resume(): void {
    if (this.#over || !this.#chunks) return;
    this.#waitingSince = Date.now();
    setPaused(this.#chunks, false);
  }

  #startWaiting(): void {
    // One timer per response, armed at the first read and re-armed when it fires early: cheaper
    // than one per chunk.
    if (this.#timer === undefined) this.#arm(this.config.idleTimeoutMs);
    this.#waitingSince = Date.now();
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      const idleMs = this.config.idleTimeoutMs;
      const quietMs = this.#waitingSince === null ? 0 : Date.now() - this.#waitingSince;
      if (quietMs < idleMs) return this.#arm(idleMs - quietMs);
      this.#idle = true;
      this.controller.abort();
    }, ms);
  }

  #failure(err: unknown): HttpError {
    if (this.controller.aborted && !this.#idle) return clientClosed();
    const reason = this.#idle
      ? 'idle timeout mid-response'
      : `failed mid-response (${describeNetworkError(err)})`;
    this.backend.markUnhealthy(reason);
    this.onUpstreamError(reason);
    return this.#idle
      ? gatewayTimeout('Backend stalled mid-response.')
      : badGateway('Backend failed mid-response.');
  }

  #finish(): void {
    if (this.#over) return;
    this.#over = true;
    clearTimeout(this.#timer);
    this.release();
    this.response.cancel();
  }
}

/** The highest rendezvous score for `key` among `backends`. */
function rank(backends: Backend[], key: string): Backend {
  let best = backends[0]!;
  let bestScore = -1;
  for (const b of backends) {
    const score = hash32(`${b.url}|${key}`);
    if (score > bestScore) {
      best = b;
      bestScore = score;
    }
  }
  return best;
}

/**
 * The conversation prefix a request hashes on: its first `chars` characters, under its model and
 * the `cache_salt` it is sent with.
 */
export function affinityKey(
  body: Record<string, unknown>,
  salt: string,
  chars: number,
): string | undefined {
  if (chars <= 0) return undefined;
  let text = '';
  if (Array.isArray(body.messages)) {
    for (const m of body.messages as { role?: unknown; content?: unknown }[]) {
      text += `${String(m.role)}:${typeof m.content === 'string' ? m.content : JSON.stringify(m.content)}\n`;
      if (text.length >= chars) break;
    }
  } else if (body.prompt !== undefined) {
    text = typeof body.prompt === 'string' ? body.prompt : JSON.stringify(body.prompt);
  }
  if (!text) return undefined;
  // Requests share KV only within one cache_salt (the edge sets it per caller), so the salt is
  // part of what keeps a conversation on one backend.
  return `${String(body.model)}\n${salt}\n${text.slice(0, chars)}`;
}
