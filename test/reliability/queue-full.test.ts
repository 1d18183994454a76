/**
 * A full engine queue answers 503 with retry-after, streamed or not, before any byte of a body:
 * a 200 whose SSE body carries the error could not be retried elsewhere by the edge, and tells
 * the client nothing about when to come back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackendOptions } from '../../backend/config.ts';
import { type RunningBackend, startBackend } from '../../backend/serve.ts';
import { createLogger } from '../../shared/log.ts';
import { readSse } from '../../shared/sse.ts';
import { fixtureModelCache } from '../fixtures/models.ts';

let backend: RunningBackend;

beforeAll(async () => {
  const argv = ['--model', fixtureModelCache('llama', 11), '--device', 'reference', '--port', '0'];
  const opts = parseBackendOptions(
    [...argv, '--served-model-name', 'm', '--max-num-seqs', '1', '--max-queue-len', '0'],
    {},
  );
  backend = await startBackend(
    opts,
    createLogger('test', 'error', () => {}),
  );
});
afterAll(() => backend?.close());

const post = (path: string, body: Record<string, unknown>, signal?: AbortSignal) =>
  fetch(`${backend.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', max_tokens: 4, ...body }),
    signal,
  });

describe('queue full', () => {
  it('answers 503 + retry-after to streamed and plain requests while the only slot is busy', async () => {
    const abort = new AbortController();
    const busy = await post(
      '/v1/completions',
      { prompt: 'hold the slot', max_tokens: 400, ignore_eos: true, stream: true },
      abort.signal,
    );
    const events = readSse(busy.body!);
    await events.next();
    const refused = [
      await post('/v1/completions', { prompt: 'x', stream: true }),
      await post('/v1/chat/completions', {
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }),
      await post('/v1/completions', { prompt: 'x' }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('overloaded');
    }
    abort.abort();
    await expect.poll(() => backend.context.engine.stats().numRunning, { timeout: 3000 }).toBe(0);
    const ok = await post('/v1/completions', { prompt: 'my turn', stream: true });
    expect(ok.status).toBe(200);
    expect((await ok.text()).trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});
