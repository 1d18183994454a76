/**
 * The backend's HTTP plumbing on node:http: routing, bounded body reading, JSON and SSE responses,
 * and one place where errors become OpenAI's JSON. Handlers never touch engine state directly.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  badRequest,
  HttpError,
  notFound,
  payloadTooLarge,
  toHttpError,
} from '../../shared/errors.ts';
import { SSE_DONE, sseEvent } from '../../shared/sse.ts';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** Aborted when the client goes away before the response has ended. */
  signal: AbortSignal;
  url: URL;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handler: Handler;
  /** Routes under /v1 need the API key when one is configured. */
  auth?: boolean;
}

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the whole body, failing fast (413) once it passes the limit. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw payloadTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw payloadTooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const bytes = await readBody(req, limit);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest('Request body is not valid UTF-8.', null, 'invalid_encoding');
  }
  if (!text.trim()) throw badRequest('Request body is empty; expected JSON.', null, 'invalid_json');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(
      `Request body is not valid JSON: ${(err as Error).message}`,
      null,
      'invalid_json',
    );
  }
}

export function sendJson(
  ctx: RequestContext,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': ctx.requestId,
    ...headers,
  });
  ctx.res.end(text);
}

export function sendText(
  ctx: RequestContext,
  status: number,
  text: string,
  contentType: string,
): void {
  ctx.res.writeHead(status, { 'content-type': contentType, 'x-request-id': ctx.requestId });
  ctx.res.end(text);
}

export function sendError(ctx: RequestContext, err: unknown): void {
  const e = toHttpError(err);
  if (ctx.res.headersSent) {
    // Mid-stream: the status line is gone, so say it in the stream and close it.
    if (!ctx.res.writableEnded) ctx.res.end(sseEvent(e.toJSON()) + SSE_DONE);
    return;
  }
  sendJson(ctx, e.status, e.toJSON(), e.headers);
}

/** An SSE writer that respects backpressure and stops writing once the client is gone. */
export class SseWriter {
  constructor(private readonly ctx: RequestContext) {
    ctx.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': ctx.requestId,
    });
    ctx.res.flushHeaders();
  }

  async send(data: unknown): Promise<void> {
    if (this.ctx.signal.aborted) return;
    if (!this.ctx.res.write(sseEvent(data)))
      await new Promise<void>((resolve) => {
        const done = () => {
          this.ctx.res.off('drain', done);
          this.ctx.res.off('close', done);
          resolve();
        };
        this.ctx.res.on('drain', done);
        this.ctx.res.on('close', done);
      });
  }

  end(): void {
    if (!this.ctx.res.writableEnded) this.ctx.res.end(SSE_DONE);
  }
}

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;
let counter = 0;

function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && SAFE_REQUEST_ID.test(given)) return given;
  return `req-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}

export interface RouterOptions {
  routes: Route[];
  /** Checked on `auth` routes; throws an HttpError to refuse. */
  authorize?: (req: IncomingMessage) => void;
  onError?: (err: unknown, ctx: RequestContext) => void;
}

export function createRequestListener(options: RouterOptions) {
  const byKey = new Map(options.routes.map((r) => [`${r.method} ${r.path}`, r]));
  const paths = new Set(options.routes.map((r) => r.path));
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ctx: RequestContext = {
      req,
      res,
      requestId: requestIdFor(req),
      signal: abort.signal,
      url,
    };
    try {
      const route = byKey.get(`${req.method} ${url.pathname}`);
      if (!route) {
        if (paths.has(url.pathname))
          throw new HttpError(
            405,
            'invalid_request_error',
            'method_not_allowed',
            `Method ${req.method} is not allowed on ${url.pathname}.`,
          );
        throw notFound(`No route for ${req.method} ${url.pathname}.`);
      }
      if (route.auth) options.authorize?.(req);
      await route.handler(ctx);
    } catch (err) {
      options.onError?.(err, ctx);
      sendError(ctx, err);
      // A request whose body we did not read to the end cannot leave the socket reusable.
      if (!req.complete) res.once('finish', () => req.socket.destroy());
    }
  };
}
