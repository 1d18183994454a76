/**
 * Property tests of the SSE parser: an event stream cut into any chunks, with any of the three
 * line endings, comments and multi-line data, parses to the events that were written.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SseMessage, SseParser, sseEvent } from './sse.ts';

/** A field value: any text without line breaks (they end a line in SSE). */
const lineText = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, ''));
const event = fc.record(
  {
    data: fc.array(lineText, { minLength: 1, maxLength: 3 }),
    event: lineText.filter((s) => s.length > 0),
    id: lineText.map((s) => s.replace(/\0/g, '')),
    comment: lineText,
  },
  { requiredKeys: ['data'] },
);
type Written = typeof event extends fc.Arbitrary<infer T> ? T : never;

function serialize(events: Written[], eol: string, finalBlankLine: boolean): string {
  const blocks = events.map((e) => {
    const lines: string[] = [];
    if (e.comment !== undefined) lines.push(`:${e.comment}`);
    if (e.event !== undefined) lines.push(`event: ${e.event}`);
    if (e.id !== undefined) lines.push(`id: ${e.id}`);
    for (const d of e.data) lines.push(`data: ${d}`);
    return lines.join(eol) + eol;
  });
  const text = blocks.join(eol);
  return finalBlankLine ? text + eol : text;
}

function expected(events: Written[]): SseMessage[] {
  return events.map((e) => {
    const msg: SseMessage = { data: e.data.join('\n') };
    if (e.event !== undefined) msg.event = e.event;
    if (e.id !== undefined) msg.id = e.id;
    return msg;
  });
}

/** Cuts a string at the given fractions of its length (code units: surrogate pairs may split). */
function cut(text: string, fractions: number[]): string[] {
  const points = [...new Set(fractions.map((f) => Math.floor(f * text.length)))].sort(
    (a, b) => a - b,
  );
  const chunks: string[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(text.slice(start, p));
    start = p;
  }
  chunks.push(text.slice(start));
  return chunks;
}

function parseChunks(chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  const out = chunks.flatMap((c) => parser.push(c));
  return [...out, ...parser.end()];
}

// The id field carries over between events per the spec; our parser resets nothing but event.
// Each generated event sets its own id or none, so compare ids only where one was written.
const normalise = (msgs: SseMessage[], written: Written[]) =>
  msgs.map((m, i) => (written[i]?.id === undefined ? { ...m, id: undefined } : m));

describe('SseParser under any chunking', () => {
  it('parses any chunking of a valid stream to the events written', () => {
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 6 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        (events, eol, finalBlankLine, fractions) => {
          const text = serialize(events, eol, finalBlankLine);
          const got = parseChunks(cut(text, fractions));
          expect(normalise(got, events)).toEqual(normalise(expected(events), events));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('round-trips what sseEvent writes, fed one character at a time', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 20 }), { maxLength: 5 }),
        (datas) => {
          // sseEvent splits on '\n' only; a lone '\r' inside data would end the line early.
          const clean = datas.map((d) => d.replace(/\r/g, ''));
          const text = clean.map((d) => sseEvent(d)).join('');
          const got = parseChunks([...text]);
          expect(got.map((m) => m.data)).toEqual(clean);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('SseParser field rules', () => {
  it('reads fields with and without a colon or a space, and ignores unknown ones', () => {
    const parser = new SseParser();
    const text = 'data\ndata:a:b\ndatax: no\nretry: 5\nevent:e\nid\n\ndata: [DONE]\r\n\r\n';
    expect(parser.push(text)).toEqual([
      { data: '\na:b', event: 'e', id: '' },
      { data: '[DONE]', id: '' },
    ]);
    expect(parser.end()).toEqual([]);
  });
});
