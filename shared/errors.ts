/**
 * One error type at every HTTP boundary. Handlers throw `HttpError`; one `onError` renders it as
 * OpenAI's error JSON: `{"error":{"message","type","param","code"}}`.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_exceeded'
  | 'server_error'
  | 'service_unavailable'
  | 'timeout_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
    /** Extra response headers, e.g. `retry-after`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toJSON(): ErrorBody {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

export const badRequest = (message: string, param: string | null = null, code = 'invalid_value') =>
  new HttpError(400, 'invalid_request_error', code, message, param);

export const unauthorized = (message: string, code = 'invalid_token') =>
  new HttpError(401, 'authentication_error', code, message, null, {
    'www-authenticate': 'Bearer',
  });

export const forbidden = (message: string, code = 'forbidden') =>
  new HttpError(403, 'permission_error', code, message);

export const notFound = (message: string, param: string | null = null, code = 'not_found') =>
  new HttpError(404, 'not_found_error', code, message, param);

export const payloadTooLarge = (limitBytes: number) =>
  new HttpError(
    413,
    'invalid_request_error',
    'payload_too_large',
    `Request body exceeds the limit of ${limitBytes} bytes.`,
  );

export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new HttpError(429, 'rate_limit_exceeded', 'rate_limit_exceeded', message, null, {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });

export const serviceUnavailable = (message: string, retryAfterSeconds = 1, code = 'overloaded') =>
  new HttpError(503, 'service_unavailable', code, message, null, {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });

export const badGateway = (message: string, code = 'upstream_error') =>
  new HttpError(502, 'server_error', code, message);

export const gatewayTimeout = (message: string, code = 'upstream_timeout') =>
  new HttpError(504, 'timeout_error', code, message);

/**
 * Turns anything thrown into an HttpError. Unknown errors become a 500 whose message never
 * carries the original text (it may hold secrets or stack details); callers log the original.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  return new HttpError(500, 'server_error', 'internal_error', 'Internal server error.');
}

/** Renders an error as a fetch `Response` with OpenAI's JSON shape. */
export function errorResponse(err: unknown, extraHeaders: Record<string, string> = {}): Response {
  const e = toHttpError(err);
  return new Response(JSON.stringify(e.toJSON()), {
    status: e.status,
    // Object.assign: spreading into an object that has keys already is V8's slow path.
    headers: Object.assign({ 'content-type': 'application/json' }, e.headers, extraHeaders),
  });
}
