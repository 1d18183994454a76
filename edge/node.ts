/**
 * The Node entry: an HTTP/1.1 (or HTTPS, TLS ≥ 1.2) server in front of the shared app. Each
 * request reaches the app as a light EdgeRequest (Node's raw headers, the body already read);
 * an SSE answer is written from its SseBody straight to the socket with backpressure (no web
 * stream in between), anything else in one write. A client that goes away aborts the request's
 * signal, which aborts the upstream call. Backends may be DNS discovery specs (discovery.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { createEdgeApp, type EdgeApp } from './app.ts';
import { type AbortLike, Cancellation } from './cancel.ts';
import type { EdgeConfig } from './config.ts';
import type { EdgeRequest, HeaderReader, LogRecord } from './context.ts';
import { BackendDiscovery, type DnsResolver, isDiscoverySpec } from './discovery.ts';
import { loadNodeConfig, type NodeConfigSources } from './node-config.ts';
import { createNodeUpstream } from './node-upstream.ts';
import { RenderedReply, type SseBody } from './reply.ts';
import type { BackendPool } from './upstream.ts';

export interface NodeEdgeOptions extends NodeConfigSources {
  /** A finished config; when absent it is built from env, configFile and backendUrls. */
  config?: EdgeConfig;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** PEM files: serve HTTPS when both are given. */
  tlsCert?: string;
  tlsKey?: string;
  log?: (record: LogRecord) => void;
  /** DNS for `dns+`/`srv+` backend specs (tests); the system resolver otherwise. */
  resolver?: DnsResolver;
}

export interface NodeEdge {
  url: string;
  app: EdgeApp;
  close(): Promise<void>;
}

export const SERVER_TIMEOUTS = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 120_000,
  // Longer than common load balancers' 60 s idle, so they close first.
  keepAliveTimeoutMs: 65_000,
};

export async function startNodeEdge(options: NodeEdgeOptions = {}): Promise<NodeEdge> {
  const config = options.config ?? loadNodeConfig(options);
  const log = options.log ?? stdoutLog;
  // Discovery resolves before the app exists; its later changes go to the app's pool.
  const target: { pool?: BackendPool } = {};
  const discovery = await discoverBackends(config, log, options.resolver, (urls) =>
    target.pool?.setUrls(urls),
  );
  const upstream = createNodeUpstream(config.routing);
  const app = createEdgeApp(config, {
    fetchUpstream: upstream.fetchUpstream,
    log,
    sha256Hex: (text) => createHash('sha256').update(text).digest('hex'),
  });
  target.pool = app.services.pool;
  const handler = (req: IncomingMessage, res: ServerResponse) => void serve(app, req, res);
  const tls = options.tlsCert && options.tlsKey;
  const server: Server = tls
    ? createHttpsServer(
        {
          cert: readFileSync(options.tlsCert!),
          key: readFileSync(options.tlsKey!),
          minVersion: 'TLSv1.2',
        },
        handler,
      )
    : createHttpServer(handler);
  const idleSockets = trackIdleSockets(server);
  server.headersTimeout = SERVER_TIMEOUTS.headersTimeoutMs;
  server.requestTimeout = SERVER_TIMEOUTS.requestTimeoutMs;
  server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeoutMs;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, host, () => resolve());
  });
  app.startHealthChecks();
  discovery?.start();
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${tls ? 'https' : 'http'}://${shownHost}:${port}`,
    app,
    async close() {
      discovery?.stop();
      app.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Node leaves sockets that never sent a request open: close those too.
        for (const socket of idleSockets) socket.destroy();
        setTimeout(() => server.closeAllConnections(), 5000).unref();
      });
      await upstream.close();
    },
  };
}

/**
 * One JSON line per record on stdout (not console.log, which formats its arguments first). The
 * lines of one event-loop turn go out in one write after it (setImmediate): a request's line is
 * recorded before its last byte is written, and stdout (a pipe or file: synchronous) would put a
 * write, and the wake-up of whoever reads it, in front of that byte. Pending lines are written
 * on exit too.
 */
let pendingLog = '';
const flushLog = () => {
  const text = pendingLog;
  pendingLog = '';
  if (text) process.stdout.write(text);
};
let flushOnExit = false;
const stdoutLog = (record: LogRecord) => {
  if (!pendingLog) {
    setImmediate(flushLog);
    if (!flushOnExit) process.once('exit', flushLog);
    flushOnExit = true;
  }
  pendingLog += `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`;
};

/**
 * When the backend list holds `dns+`/`srv+` specs: resolves them once (the app starts with the
 * answer, possibly empty: /health says 503 until DNS lists a backend) and returns the discovery
 * that keeps the pool current, re-resolving at the health-check interval.
 */
async function discoverBackends(
  config: EdgeConfig,
  log: (record: LogRecord) => void,
  resolver: DnsResolver | undefined,
  onChange: (urls: string[]) => void,
): Promise<BackendDiscovery | undefined> {
  if (!config.routing.urls.some(isDiscoverySpec)) return undefined;
  const discovery = new BackendDiscovery([...config.routing.urls], {
    intervalMs: config.routing.healthCheckIntervalMs,
    onChange,
    onError: (spec, err) =>
      log({ level: 'warn', msg: 'backend discovery failed', spec, error: String(err) }),
    resolver,
  });
  config.routing.urls = await discovery.refresh();
  return discovery;
}

/** Sockets with no request in progress (including ones that never sent one). */
function trackIdleSockets(server: Server): Set<Socket> {
  const idle = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    idle.add(socket);
    socket.on('close', () => idle.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    idle.delete(req.socket);
    res.on('finish', () => {
      if (!req.socket.destroyed) idle.add(req.socket);
    });
  });
  return idle;
}

async function serve(app: EdgeApp, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const clientGone = new Cancellation();
  res.on('close', () => {
    if (!res.writableFinished) clientGone.abort();
  });
  try {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const body = hasBody ? await readBody(req, app.services.config.input.maxBodyBytes) : undefined;
    const reply = await app.handle(new NodeRequest(req, body, clientGone));
    await (reply instanceof RenderedReply ? writeRendered(reply, res) : writeResponse(reply, res));
  } catch {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end();
  }
}

/**
 * The request body, buffered (cheaper than a web stream for small JSON bodies). Reading stops one
 * byte past the limit, so the app answers 413 without the edge holding an oversized body.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limit) return;
      req.off('data', onData);
      req.resume(); // drain and drop the rest
      resolve(Buffer.concat(chunks).subarray(0, limit + 1));
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The request as the app reads it, straight from Node's parsed message: no fetch Request, Headers
 * or body stream to build per request. Headers are looked up in the raw list, joined with ", "
 * as fetch's Headers joins repeats.
 */
class NodeRequest implements EdgeRequest {
  readonly method: string;
  readonly url: string;
  readonly body = null;
  readonly headers: HeaderReader;

  constructor(
    req: IncomingMessage,
    readonly bodyBytes: Uint8Array | undefined,
    readonly signal: AbortLike,
  ) {
    this.method = req.method ?? 'GET';
    this.url = `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`;
    this.headers = rawHeaderReader(req.rawHeaders);
  }
}

function rawHeaderReader(raw: string[]): HeaderReader {
  let byName: Map<string, string> | undefined;
  return {
    get(name) {
      if (!byName) {
        byName = new Map();
        for (let i = 0; i < raw.length; i += 2) {
          const key = raw[i]!.toLowerCase();
          const value = raw[i + 1]!.trim();
          const seen = byName.get(key);
          byName.set(key, seen === undefined ? value : `${seen}, ${value}`);
        }
      }
      return byName.get(name.toLowerCase()) ?? null;
    },
  };
}

/**
 * A pipeline reply: a stream from its SseBody, anything else (already whole in memory) in one
 * write with its length, rather than a web stream read and a chunked body.
 */
function writeRendered(reply: RenderedReply, res: ServerResponse): Promise<void> | undefined {
  res.statusCode = reply.status;
  for (const name in reply.headers) res.setHeader(name, reply.headers[name]!);
  if (typeof reply.body !== 'string') return writeSse(reply.body, res);
  res.setHeader('content-length', Buffer.byteLength(reply.body));
  res.end(reply.body);
}

/** Responses built outside the pipeline (errors, health, metrics, playground assets). */
async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  const bytes = response.body ? new Uint8Array(await response.arrayBuffer()) : undefined;
  if (!bytes) {
    res.end();
    return;
  }
  if (!res.hasHeader('content-length')) res.setHeader('content-length', bytes.byteLength);
  res.end(bytes);
}

/**
 * A stream, straight from the pipeline to the socket: one write per upstream read (the events it
 * carried, already joined), with no web stream in between, and for an upstream stream no promise
 * either (SseBody.pipe). The headers travel with the first events when those are ready at once,
 * and alone otherwise (a backend still prefilling).
 */
function writeSse(body: SseBody, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const flushHeaders = setImmediate(() => res.flushHeaders());
    const done = () => {
      clearImmediate(flushHeaders);
      res.off('close', onClose);
      res.end();
      resolve();
    };
    const onClose = () => {
      body.cancel();
      done();
    };
    res.on('close', onClose);
    body.pipe({
      write(text) {
        if (res.destroyed) return true; // 'close' is on its way
        clearImmediate(flushHeaders);
        const blocked = writeChunk(res, text);
        if (!blocked) return true;
        whenDrained(blocked, () => body.resume());
        return false;
      },
      end: done,
    });
  });
}

/**
 * Writes one piece of a chunked body; returns what to wait on for 'drain' when it has to be
 * waited for. Once the headers are out and the response owns its socket, the piece goes to the
 * socket framed, in one write: `res.write` would make four socket writes of it (size, CRLF, data,
 * CRLF), corked until the next tick and sent as a writev, which for a stream of small events
 * costs more than the edge's own work on each. `res.end()` still writes the last chunk, after
 * these on the same socket. Anything else (headers not sent yet, no chunked framing: an HTTP/1.0
 * client) goes through `res.write`.
 */
function writeChunk(res: ServerResponse, text: string): Writable | undefined {
  const socket = res.socket;
  if (!res.headersSent || !res.chunkedEncoding || !socket) {
    const ok = res.write(text);
    // `res.write` corks the socket until the next tick; the head and first events go out now,
    // not after whatever else this tick still runs.
    socket?.uncork();
    return ok ? undefined : res;
  }
  const framed = `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
  return socket.write(framed) ? undefined : socket;
}

/** Calls `then` once the stream can take more, or is gone. */
function whenDrained(stream: Writable, then: () => void): void {
  const done = () => {
    stream.off('drain', done);
    stream.off('close', done);
    then();
  };
  stream.on('drain', done);
  stream.on('close', done);
}
