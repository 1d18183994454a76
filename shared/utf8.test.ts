import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readUtf8, Utf8Stream } from './utf8.ts';

const encode = (text: string) => new TextEncoder().encode(text);
const reference = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** `bytes` cut at `cuts` (sorted, deduplicated offsets), decoded piece by piece. */
function decodeInPieces(bytes: Uint8Array, cuts: number[]): string {
  const utf8 = new Utf8Stream();
  let text = '';
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    text += utf8.decode(bytes.subarray(from, cut));
    from = cut;
  }
  return text + utf8.end();
}

const splits = (bytes: Uint8Array) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 })
    .map((cuts) => cuts.sort((a, b) => a - b));

/** Text with 1- to 4-byte characters, a byte-order mark now and then, and stray bytes. */
const utf8Bytes = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 6 }).map(encode),
      fc.constantFrom('\uFEFF', 'é', '€', '😀').map(encode),
      fc.uint8Array({ minLength: 1, maxLength: 3 }),
    ),
    { maxLength: 10 },
  )
  .map((parts) => new Uint8Array(Buffer.concat(parts)));

describe('Utf8Stream', () => {
  it('decodes any bytes, cut anywhere, exactly as TextDecoder decodes them whole', () => {
    fc.assert(
      fc.property(
        utf8Bytes.chain((bytes) => fc.tuple(fc.constant(bytes), splits(bytes))),
        ([bytes, cuts]) => {
          expect(decodeInPieces(bytes, cuts)).toBe(reference(bytes));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('holds a character split across pieces until its last byte arrives', () => {
    const bytes = encode('a😀b');
    for (let cut = 1; cut < bytes.length; cut++) {
      const utf8 = new Utf8Stream();
      const first = utf8.decode(bytes.subarray(0, cut));
      expect(first).toBe(cut < 5 ? 'a' : 'a😀');
      expect(first + utf8.decode(bytes.subarray(cut)) + utf8.end()).toBe('a😀b');
    }
  });

  it('removes a byte-order mark only at the start of the stream', () => {
    const utf8 = new Utf8Stream();
    expect(utf8.decode(encode('\uFEFF').subarray(0, 2))).toBe('');
    expect(utf8.decode(encode('\uFEFFx').subarray(2))).toBe('x');
    expect(utf8.decode(encode('\uFEFFy'))).toBe('\uFEFFy');
  });

  it('ends a stream cut short inside a character with a replacement character', () => {
    const utf8 = new Utf8Stream();
    expect(utf8.decode(encode('ok€').subarray(0, 4))).toBe('ok');
    expect(utf8.end()).toBe('\uFFFD');
    expect(utf8.end()).toBe('');
  });

  it('reads a whole body of pieces', async () => {
    const bytes = encode('{"text":"naïve 😀"}');
    async function* pieces() {
      for (let i = 0; i < bytes.length; i += 3) yield bytes.subarray(i, i + 3);
    }
    expect(await readUtf8(pieces())).toBe('{"text":"naïve 😀"}');
  });
});
