/**
 * Upstream calls on Node: undici's dispatch API over one keep-alive Agent (a connection pool per
 * backend origin), with the connect timeout enforced at the socket. The response body is a small
 * async iterable fed straight from undici's callbacks (response-body.ts) rather than a Readable
 * read through its async iterator: per SSE chunk that machinery cost more than the edge's own
 * work on it. The router enforces first-byte and idle timeouts itself, identically on both
 * runtimes.
 */
import type { Socket } from 'node:net';
import { Agent, buildConnector, type Dispatcher, errors } from 'undici';
import type { AbortLike } from './cancel.ts';
import type { RoutingConfig } from './config.ts';
import { ResponseBody } from './response-body.ts';
import type { FetchUpstream, UpstreamInit, UpstreamResponse } from './upstream.ts';

export interface NodeUpstream {
  fetchUpstream: FetchUpstream;
  close(): Promise<void>;
}

export function createNodeUpstream(routing: RoutingConfig): NodeUpstream {
  const timeout = routing.connectTimeoutMs;
  const plain = buildConnector({ timeout, onread: { buffer: READ_BUFFER, callback: pushCopy } });
  const secure = buildConnector({ timeout });
  const agent = new Agent({
    connections: 1024,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect: (opts, callback) => (opts.protocol === 'https:' ? secure : plain)(opts, callback),
    // Ours are enforced in route.ts; undici's own would race them.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const fetchUpstream: FetchUpstream = (url, init) => send(agent, url, init);
  return { fetchUpstream, close: () => agent.close() };
}

/**
 * Plain-TCP upstream sockets read into this one buffer (Node's `onread`), and each read is copied
 * out into a slice of Node's shared 8 KB buffer pool before the socket hands it on (undici then
 * reads the socket as usual). Left to itself, every socket read allocates a 64 KB backing store and
 * a new ArrayBuffer for its few hundred bytes of SSE: thousands per second at 64 streams, each one
 * for the young-generation collector to sweep, in its pause (docs/benchmarks.md, "Edge"). One
 * buffer serves every socket: a read is copied out before the next one can start. TLS sockets read
 * as Node does by default.
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

function pushCopy(this: Socket, bytes: number, buffer: Uint8Array): boolean {
  return this.push(Buffer.from(buffer.subarray(0, bytes)));
}

/** What the signal's abort hands undici: its reason, as undici's request API does. */
const abortReason = (signal: AbortLike): Error =>
  (signal.reason as Error | undefined) ?? new errors.RequestAbortedError();

/**
 * One request: resolves at the response's headers with its body still arriving, rejects if it
 * fails before them. The signal aborts it at any point (before the headers: the promise rejects;
 * after: the body's next read does).
 */
function send(agent: Agent, url: string, init: UpstreamInit): Promise<UpstreamResponse> {
  const signal = init.signal;
  return new Promise((resolve, reject) => {
    const { origin, pathname, search } = new URL(url);
    let controller: Dispatcher.DispatchController | undefined;
    let body: ResponseBody | undefined;
    const onAbort = () => controller?.abort(abortReason(signal));
    const done = () => signal.removeEventListener('abort', onAbort);
    signal.addEventListener('abort', onAbort);
    agent.dispatch(
      {
        origin,
        path: pathname + search,
        method: init.method as Dispatcher.HttpMethod,
        headers: init.headers,
        body: init.body,
      },
      {
        onRequestStart(c) {
          controller = c;
          if (signal.aborted) c.abort(abortReason(signal));
        },
        onResponseStart(c, statusCode, headers) {
          if (statusCode < 200) return; // informational: the real answer follows
          body = new ResponseBody(c);
          resolve(upstreamResponse(statusCode, headers, body));
        },
        onResponseData: (_c, chunk) => body?.push(chunk),
        onResponseEnd() {
          done();
          body?.end();
        },
        onResponseError(_c, err) {
          done();
          if (body) body.fail(err);
          else reject(err);
        },
      },
    );
  });
}

function upstreamResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: ResponseBody,
): UpstreamResponse {
  return {
    status,
    headers: {
      get(name) {
        const value = headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    body,
    text: () => body.text(),
    cancel: () => body.cancel(),
  };
}
