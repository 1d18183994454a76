/** Stage 2: reads the JSON body under the size limit (413 beyond, before buffering it all). */
import { badRequest, payloadTooLarge } from '../../shared/errors.ts';
import type { EdgeRequest, EdgeServices, RequestState } from '../context.ts';

const decoder = new TextDecoder();

export const readBody =
  ({ config, metrics }: EdgeServices) =>
  async (request: EdgeRequest, state: RequestState): Promise<undefined> => {
    const limit = config.input.maxBodyBytes;
    const declared = Number(request.headers.get('content-length') ?? Number.NaN);
    const read = request.bodyBytes;
    if (declared > limit || (!request.body && !read)) {
      if (declared > limit) metrics.filtered.inc({ kind: 'body_too_large' });
      if (declared > limit) throw payloadTooLarge(limit);
      throw badRequest('Request body is required.');
    }
    const bytes = read
      ? read.byteLength > limit
        ? null
        : read
      : await readLimited(request.body!, limit);
    if (!bytes) {
      metrics.filtered.inc({ kind: 'body_too_large' });
      throw payloadTooLarge(limit);
    }
    try {
      state.rawBody = JSON.parse(decoder.decode(bytes));
    } catch {
      throw badRequest('Request body is not valid JSON.', null, 'invalid_json');
    }
    return undefined;
  };

/** The whole body, or null as soon as it passes `limit` bytes. */
async function readLimited(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | null> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}
