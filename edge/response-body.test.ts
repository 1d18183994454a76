import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { fakeController } from './fake-controller.ts';
import { ResponseBody } from './response-body.ts';

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

/** A listener that records what it was told, in order. */
function recorder() {
  const log: string[] = [];
  return {
    log,
    listener: {
      data: (chunk: Uint8Array) => log.push(`data ${text(chunk)}`),
      end: () => log.push('end'),
      error: (err: unknown) => log.push(`error ${(err as Error).message}`),
    },
  };
}
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ResponseBody, listened to', () => {
  it('hands over what one read brought as one value, a microtask later, never from inside push', async () => {
    const { body: b } = body();
    const { log, listener } = recorder();
    expect(b.listen(listener)).toBe(true);
    b.push(Buffer.from('a'));
    b.push(Buffer.from('b'));
    expect(log).toEqual([]);
    await Promise.resolve();
    expect(log).toEqual(['data ab']);
    b.push(Buffer.from('c'));
    b.end();
    expect(log).toEqual(['data ab']);
    await tick();
    expect(log).toEqual(['data ab', 'data c', 'end']);
  });

  it('delivers what came before it listened, and an end already seen, in order', async () => {
    const { body: b } = body();
    b.push(Buffer.from('early'));
    b.end();
    const { log, listener } = recorder();
    b.listen(listener);
    await tick();
    expect(log).toEqual(['data early', 'end']);
  });

  it('holds everything back while paused, with undici paused, and goes on at resume', async () => {
    const { body: b, controller } = body();
    const { log, listener } = recorder();
    b.listen({
      ...listener,
      data: (chunk) => {
        listener.data(chunk);
        b.pause(); // the consumer is full after every value
      },
    });
    b.push(Buffer.from('1'));
    await tick();
    expect(controller.paused).toBe(true);
    b.push(Buffer.from('2'));
    b.push(Buffer.from('3'));
    b.end();
    await tick();
    expect(log).toEqual(['data 1']);
    b.resume();
    expect(controller.paused).toBe(false);
    await tick();
    expect(log).toEqual(['data 1', 'data 23']);
    b.resume();
    await tick();
    expect(log).toEqual(['data 1', 'data 23', 'end']);
  });

  it('tells a failure once, with what was unread dropped, and nothing after', async () => {
    const { body: b } = body();
    const { log, listener } = recorder();
    b.listen(listener);
    b.push(Buffer.from('lost'));
    b.fail(new Error('reset'));
    b.end();
    await tick();
    expect(log).toEqual(['error reset']);
  });

  it('tells a listener that gave up (cancel) nothing more, and aborts the request', async () => {
    const { body: b, controller } = body();
    const { log, listener } = recorder();
    b.listen(listener);
    b.push(Buffer.from('x'));
    b.cancel();
    await tick();
    expect(log).toEqual([]);
    expect(controller.aborted).toBe(true);
  });

  it('cannot be listened to while a read is pending, nor twice', async () => {
    const { body: b } = body();
    const read = b.next();
    expect(b.listen(recorder().listener)).toBe(false);
    b.push(Buffer.from('r'));
    expect(text((await read).value)).toBe('r');
    const other = body().body;
    expect(other.listen(recorder().listener)).toBe(true);
    expect(other.listen(recorder().listener)).toBe(false);
  });
});
