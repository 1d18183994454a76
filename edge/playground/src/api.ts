/** Calls to the edge with the tab's token; failures become ApiError with OpenAI's message. */
import { getToken } from './token.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

/** The error a failed response carries, in OpenAI's shape when it has one. */
export async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { message?: string; code?: string | null } };
    if (error?.message) return new ApiError(res.status, error.message, error.code ?? null);
  } catch {
    // not JSON: fall back to the status line
  }
  return new ApiError(res.status, `${res.status} ${res.statusText || 'error'}`.trim());
}

export async function getJson<T>(path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'The edge cannot be reached.');
  }
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

/** How an error reads in the banner. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.status ? `${err.status}: ${err.message}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
