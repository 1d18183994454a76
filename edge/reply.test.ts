import fc from 'fast-check';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { fakeController } from './fake-controller.ts';
import {
  type BodyOutcome,
  EdgeReply,
  parseSse,
  SseBody,
  type SseItem,
  type SseStage,
  type TextSink,
} from './reply.ts';
import { ResponseBody } from './response-body.ts';

const event = (content: string) =>
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
const ANSWER = `${['Hel', 'lo, ', 'wör', 'ld', '!'].map(event).join('')}data: [DONE]\n\n`;

/** Upper-cases every piece, and says "bye" once the stream has ended. */
const shout = (): SseStage => ({
  batch: (items) =>
    items.map((item) => {
      if (!('json' in item)) return item;
      const choices = item.json.choices as { delta: { content: string } }[];
      for (const c of choices) c.delta.content = c.delta.content.toUpperCase();
      return { json: item.json };
    }),
  end: (): SseItem[] => [{ data: 'bye' }],
});

/** A stream over a Node upstream body (listenable) and what was reported at its end. */
function streamOf(stages: SseStage[] = [shout()]) {
  const controller = fakeController();
  const upstream = new ResponseBody(controller as unknown as Dispatcher.DispatchController);
  const outcomes: BodyOutcome[] = [];
  const reply = new EdgeReply(200, {}, { type: 'text', text: '' }, false, () => upstream.cancel());
  const body = new SseBody(reply, parseSse(upstream), stages, (o) => outcomes.push(o));
  return { controller, upstream, body, outcomes };
}

/** A sink that records writes and ends; `full` says what write answers. */
function sinkOf(full = () => false) {
  const writes: string[] = [];
  let ends = 0;
  const sink: TextSink = {
    write: (text) => {
      writes.push(text);
      return !full();
    },
    end: () => void ends++,
  };
  return { sink, writes, ends: () => ends };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Feeds `bytes` to `upstream` in pieces of the given sizes, one upstream read per tick. */
async function feed(upstream: ResponseBody, bytes: Buffer, sizes: number[]): Promise<void> {
  let at = 0;
  for (const size of sizes) {
    if (at >= bytes.length) break;
    upstream.push(bytes.subarray(at, at + size));
    at += size;
    await tick();
  }
  if (at < bytes.length) upstream.push(bytes.subarray(at));
  upstream.end();
  await tick();
}

async function readAll(body: SseBody): Promise<string> {
  let out = '';
  for (let text = await body.next(); text !== null; text = await body.next()) out += text;
  return out;
}

describe('SseBody', () => {
  it('sends what reading it would, however the upstream bytes are cut', async () => {
    const bytes = Buffer.from(ANSWER);
    const whole = streamOf();
    const expected = readAll(whole.body);
    whole.upstream.push(bytes);
    whole.upstream.end();
    const text = await expected;
    expect(text).toContain(
      'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"WÖR"}}]}',
    );
    expect(text.endsWith('data: [DONE]\n\ndata: bye\n\n')).toBe(true);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }),
        async (sizes) => {
          const piped = streamOf();
          const { sink, writes, ends } = sinkOf();
          piped.body.pipe(sink);
          await feed(piped.upstream, bytes, sizes);
          expect(writes.join('')).toBe(text);
          expect(writes.every((w) => w.length > 0)).toBe(true);
          expect(ends()).toBe(1);
          expect(piped.outcomes).toEqual(['complete']);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('writes the events of one upstream read in one go, in the same microtask turn as they came', async () => {
    const { upstream, body } = streamOf([]);
    const { sink, writes } = sinkOf();
    body.pipe(sink);
    upstream.push(Buffer.from(event('a')));
    upstream.push(Buffer.from(event('b')));
    await Promise.resolve();
    await Promise.resolve();
    expect(writes).toEqual([event('a') + event('b')]);
  });

  it('ends a stream that fails midway with an error event and [DONE], once', async () => {
    const { upstream, body, outcomes } = streamOf();
    const { sink, writes, ends } = sinkOf();
    body.pipe(sink);
    upstream.push(Buffer.from(event('one')));
    await tick();
    upstream.fail(new Error('connection reset'));
    upstream.end();
    await tick();
    expect(writes).toHaveLength(2);
    expect(writes[0]).toContain('"ONE"');
    expect(writes[1]).toMatch(/^data: \{"error":\{.*\}\}\n\ndata: \[DONE\]\n\n$/);
    expect(ends()).toBe(1);
    expect(outcomes).toEqual(['error']);
  });

  it('ends the stream with an error event and stops the upstream when a stage throws', async () => {
    let batches = 0;
    const failing: SseStage = {
      batch: (items) => {
        if (++batches === 2) throw new Error('stage bug');
        return items;
      },
    };
    const { controller, upstream, body, outcomes } = streamOf([failing]);
    const { sink, writes, ends } = sinkOf();
    body.pipe(sink);
    upstream.push(Buffer.from(event('fine')));
    await tick();
    upstream.push(Buffer.from(event('boom')));
    await tick();
    expect(writes).toHaveLength(2);
    expect(writes[1]).toMatch(/^data: \{"error":\{.*\}\}\n\ndata: \[DONE\]\n\n$/);
    expect(ends()).toBe(1);
    expect(outcomes).toEqual(['error']);
    expect(controller.aborted).toBe(true);
  });

  it('stops the upstream when a stage throws on a stream read as an iterator too', async () => {
    const failing: SseStage = {
      batch: () => {
        throw new Error('stage bug');
      },
    };
    const { controller, upstream, body, outcomes } = streamOf([failing]);
    const read = body.next();
    upstream.push(Buffer.from(event('boom')));
    expect(await read).toMatch(/^data: \{"error":/);
    expect(await body.next()).toBeNull();
    expect(outcomes).toEqual(['error']);
    expect(controller.aborted).toBe(true);
  });

  it('pauses the upstream while the sink is full and goes on at resume, nothing lost', async () => {
    let full = true;
    const { controller, upstream, body } = streamOf([]);
    const { sink, writes, ends } = sinkOf(() => full);
    body.pipe(sink);
    upstream.push(Buffer.from(event('1')));
    await tick();
    expect(writes).toEqual([event('1')]);
    expect(controller.paused).toBe(true);
    upstream.push(Buffer.from(event('2')));
    upstream.push(Buffer.from('data: [DONE]\n\n'));
    upstream.end();
    await tick();
    expect(writes).toHaveLength(1);
    full = false;
    body.resume();
    await tick();
    expect(controller.paused).toBe(false);
    expect(writes.join('')).toBe(`${event('1')}${event('2')}data: [DONE]\n\n`);
    expect(ends()).toBe(1);
  });

  it('stops the upstream and tells the sink nothing more when the client goes away', async () => {
    const { controller, upstream, body, outcomes } = streamOf();
    const { sink, writes, ends } = sinkOf();
    body.pipe(sink);
    upstream.push(Buffer.from(event('x')));
    await tick();
    body.cancel();
    upstream.push(Buffer.from(event('y')));
    await tick();
    expect(writes).toHaveLength(1);
    expect(ends()).toBe(0);
    expect(controller.aborted).toBe(true);
    expect(outcomes).toEqual(['cancelled']);
  });

  it('reads events that cannot be listened to (a cache replay), waiting for resume when full', async () => {
    async function* replay(): AsyncGenerator<SseItem[]> {
      yield [{ data: 'a' }];
      yield [{ data: 'b' }];
    }
    const outcomes: BodyOutcome[] = [];
    const reply = new EdgeReply(200, {}, { type: 'text', text: '' });
    const body = new SseBody(reply, replay(), [], (o) => outcomes.push(o));
    const { sink, writes, ends } = sinkOf(() => true);
    body.pipe(sink);
    await tick();
    expect(writes).toEqual(['data: a\n\n']);
    body.resume();
    await tick();
    expect(writes).toEqual(['data: a\n\n', 'data: b\n\n']);
    body.resume();
    await tick();
    expect(ends()).toBe(1);
    expect(outcomes).toEqual(['complete']);
  });
});
