/**
 * The backends the edge forwards to, and what it knows about each: health (active checks on
 * `/health`; N consecutive failures → unhealthy; one success → healthy), a circuit breaker fed by
 * request failures (open for a cooldown after N in a row, then one trial request), and the number
 * of requests in flight (the load the router balances on).
 */
import { type AbortLike, toAbortSignal } from './cancel.ts';
import type { RoutingConfig } from './config.ts';

export interface UpstreamInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortLike;
}

/**
 * What the router needs of a backend's response: less than a fetch Response, so the Node entry
 * can use undici's request API (plain Node streams, much cheaper per chunk than web streams).
 */
export interface UpstreamResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: AsyncIterable<Uint8Array> | null;
  text(): Promise<string>;
  /** Discards the rest of the body and frees the connection. */
  cancel(): void;
}

export type FetchUpstream = (url: string, init: UpstreamInit) => Promise<UpstreamResponse>;

/** A fetch Response as an UpstreamResponse (Workers, tests). */
export function fromFetchResponse(res: Response): UpstreamResponse {
  return {
    status: res.status,
    headers: res.headers,
    body: res.body ? readChunks(res.body) : null,
    text: () => res.text(),
    cancel: () => void res.body?.cancel().catch(() => {}),
  };
}

async function* readChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** FetchUpstream over the runtime's fetch. */
export const fetchUpstreamVia =
  (fetchFn: typeof fetch): FetchUpstream =>
  async (url, init) =>
    fromFetchResponse(await fetchFn(url, { ...init, signal: toAbortSignal(init.signal) }));

export interface BackendState {
  url: string;
  healthy: boolean;
  circuit: 'closed' | 'open' | 'half-open';
  outstanding: number;
  lastError: string | null;
}

export class Backend {
  healthy = true;
  outstanding = 0;
  lastError: string | null = null;
  private healthFailures = 0;
  private requestFailures = 0;
  private circuitOpenUntil = 0;

  constructor(
    readonly url: string,
    private readonly config: RoutingConfig,
  ) {}

  circuit(now: number): BackendState['circuit'] {
    if (this.requestFailures < this.config.circuitBreakAfterFailures) return 'closed';
    return now < this.circuitOpenUntil ? 'open' : 'half-open';
  }

  /** May take a request now: healthy, and the circuit is not open. */
  available(now: number): boolean {
    return this.healthy && this.circuit(now) !== 'open';
  }

  healthCheckPassed(): void {
    this.healthFailures = 0;
    if (!this.healthy) this.requestFailures = 0;
    this.healthy = true;
  }

  healthCheckFailed(reason: string): void {
    this.lastError = reason;
    if (++this.healthFailures >= this.config.unhealthyAfterFailures) this.healthy = false;
  }

  requestSucceeded(): void {
    this.requestFailures = 0;
  }

  requestFailed(now: number, reason: string): void {
    this.lastError = reason;
    if (++this.requestFailures >= this.config.circuitBreakAfterFailures)
      this.circuitOpenUntil = now + this.config.circuitOpenMs;
  }

  /** A failure seen mid-stream: stop sending work here until a health check passes. */
  markUnhealthy(reason: string): void {
    this.lastError = reason;
    this.healthy = false;
  }

  state(now: number): BackendState {
    return {
      url: this.url,
      healthy: this.healthy,
      circuit: this.circuit(now),
      outstanding: this.outstanding,
      lastError: this.lastError,
    };
  }
}

export class BackendPool {
  /** Replaced (never edited in place) by `setUrls`, so a loop over it is never disturbed. */
  backends: Backend[];
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastCheckAt = Number.NEGATIVE_INFINITY;
  private checking: Promise<void> | undefined;

  constructor(
    readonly config: RoutingConfig,
    private readonly fetchUpstream: FetchUpstream,
    private readonly now: () => number = Date.now,
  ) {
    this.backends = config.urls.map((url) => new Backend(url, config));
  }

  /**
   * Changes the backend list (DNS discovery): a URL already known keeps its Backend, with its
   * health, circuit and in-flight count; new URLs join healthy and are checked at once when
   * checks are running; dropped ones leave (requests already on them finish).
   */
  setUrls(urls: readonly string[]): void {
    const known = new Map(this.backends.map((b) => [b.url, b]));
    const added: Backend[] = [];
    this.backends = [...new Set(urls)].map((url) => {
      const backend = known.get(url);
      if (backend) return backend;
      const fresh = new Backend(url, this.config);
      added.push(fresh);
      return fresh;
    });
    if (this.timer) for (const backend of added) void this.check(backend);
  }

  states(): BackendState[] {
    const now = this.now();
    return this.backends.map((b) => b.state(now));
  }

  anyHealthy(): boolean {
    return this.backends.some((b) => b.healthy);
  }

  /** One round of health checks over every backend, in parallel. */
  checkAll(): Promise<void> {
    this.checking ??= Promise.all(this.backends.map((b) => this.check(b))).then(() => {
      this.lastCheckAt = this.now();
      this.checking = undefined;
    });
    return this.checking;
  }

  /** For runtimes without background timers (Workers): checks when the last round is stale. */
  checkIfDue(): Promise<void> | undefined {
    if (this.now() - this.lastCheckAt < this.config.healthCheckIntervalMs) return undefined;
    return this.checkAll();
  }

  /** Node: checks now and then every interval until `stop()` (also while the list is empty:
   * discovery may fill it later). */
  start(): void {
    if (this.timer) return;
    void this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.config.healthCheckIntervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(backend: Backend): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.config.healthCheckTimeoutMs);
    try {
      const res = await this.fetchUpstream(`${backend.url}/health`, {
        method: 'GET',
        headers: {},
        signal: controller.signal,
      });
      // Read, not cancelled: a small body, and reading it keeps the connection reusable.
      await res.text();
      if (res.status === 200) backend.healthCheckPassed();
      else backend.healthCheckFailed(`health check answered ${res.status}`);
    } catch (err) {
      backend.healthCheckFailed(
        controller.signal.aborted ? 'health check timed out' : describeNetworkError(err),
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A short reason for logs and /health, without request content. */
export function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
