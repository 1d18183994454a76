import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { ResponseBody } from './response-body.ts';

function fakeController() {
  const c = {
    aborted: false,
    paused: false,
    reason: null as Error | null,
    pauses: 0,
    resumes: 0,
    abort(reason: Error) {
      c.aborted = true;
      c.reason = reason;
    },
    pause() {
      c.paused = true;
      c.pauses++;
    },
    resume() {
      c.paused = false;
      c.resumes++;
    },
  };
  return c;
}

const body = () => {
  const controller = fakeController();
  return {
    controller,
    body: new ResponseBody(controller as unknown as Dispatcher.DispatchController),
  };
};
const text = (chunk: Uint8Array | undefined) => Buffer.from(chunk ?? []).toString();

describe('ResponseBody', () => {
  it('hands chunks pushed in one go to a waiting reader as one value', async () => {
    const { body: b } = body();
    const next = b.next();
    b.push(Buffer.from('a'));
    b.push(Buffer.from('b'));
    expect(text((await next).value)).toBe('ab');
  });

  it('joins chunks that arrived before the reader asked, then ends', async () => {
    const { body: b } = body();
    b.push(Buffer.from('x'));
    b.push(Buffer.from('y'));
    b.end();
    expect(text((await b.next()).value)).toBe('xy');
    expect((await b.next()).done).toBe(true);
  });

  it('delivers what came with the end before saying done', async () => {
    const { body: b } = body();
    const next = b.next();
    b.push(Buffer.from('last'));
    b.end();
    expect(text((await next).value)).toBe('last');
    expect((await b.next()).done).toBe(true);
  });

  it('rejects a waiting read when the request fails, and every read after', async () => {
    const { body: b } = body();
    const next = b.next();
    const err = new Error('reset');
    b.fail(err);
    await expect(next).rejects.toBe(err);
    await expect(b.next()).rejects.toBe(err);
  });

  it('pauses undici past the high-water mark and resumes it once read', async () => {
    const { body: b, controller } = body();
    b.push(Buffer.alloc(64 * 1024));
    expect(controller.paused).toBe(true);
    expect((await b.next()).value?.byteLength).toBe(64 * 1024);
    expect(controller.paused).toBe(false);
  });

  it('cancel aborts the request until the body has ended, and is a no-op after', async () => {
    const { body: b, controller } = body();
    b.cancel();
    expect(controller.aborted).toBe(true);
    await expect(b.next()).rejects.toThrow();
    const ended = body();
    ended.body.end();
    ended.body.cancel();
    expect(ended.controller.aborted).toBe(false);
  });

  it('reads the whole text, multi-byte characters split across chunks included', async () => {
    const { body: b } = body();
    const bytes = Buffer.from('héllo wörld');
    const done = b.text();
    b.push(bytes.subarray(0, 2));
    await Promise.resolve();
    b.push(bytes.subarray(2));
    b.end();
    expect(await done).toBe('héllo wörld');
  });
});
