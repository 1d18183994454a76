import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldCodePoint, normalizeForMatching, normalizeWithOffsets } from './normalize.ts';

const digitsFrom = (zero: number) =>
  Array.from({ length: 10 }, (_, k) => String.fromCodePoint(zero + k));

describe('foldCodePoint', () => {
  it.each([
    ['Arabic-Indic', 0x660],
    ['Extended Arabic-Indic', 0x6f0],
    ['Devanagari', 0x966],
    ['Bengali', 0x9e6],
    ['Thai', 0xe50],
    ['Myanmar Shan', 0x1090],
    ['full-width', 0xff10],
    ['Osmanya (astral)', 0x104a0],
    ['mathematical bold', 0x1d7ce],
    ['mathematical monospace (last of five adjoining blocks)', 0x1d7f6],
  ])('reads %s digits as ASCII 0-9', (_, zero) => {
    expect(digitsFrom(zero).map(foldCodePoint).join('')).toBe('0123456789');
  });

  it('reads every Unicode dash and the minus sign as a hyphen', () => {
    const dashes = '\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2e3a\u301c';
    expect([...dashes].map(foldCodePoint).join('')).toBe('-'.repeat(dashes.length));
  });

  it('reads ideographic, halfwidth, small and Arabic full stops as a dot, and the small at', () => {
    const stops = '\u3002\uff61\ufe12\ufe52\uff0e\u06d4\u066b';
    expect([...stops].map(foldCodePoint).join('')).toBe('.'.repeat(stops.length));
    expect(foldCodePoint('\ufe6b')).toBe('@');
  });

  it('reads Cyrillic and Greek look-alikes as Latin, keeping their case', () => {
    expect([...'АКІА ѕk ехаmрlе Ορ'].map(foldCodePoint).join('')).toBe('AKIA sk example Op');
  });

  it('leaves letters without a Latin look-alike, and the Arabic thousands separator, alone', () => {
    for (const c of ['д', 'ж', 'ب', 'क', '中', '\u066c']) expect(foldCodePoint(c)).toBe(c);
  });
});

describe('normalizeWithOffsets', () => {
  it('maps each folded character back to its original code point', () => {
    const text = 'a٤\u200b😀ｂ—𝟒';
    const folded = normalizeWithOffsets(text);
    expect(folded.text).toBe('a4😀b-4');
    expect(folded.starts).toEqual([0, 1, 3, 3, 5, 6, 7]);
    expect(folded.ends).toEqual([1, 2, 5, 5, 6, 7, 9]);
  });
});

describe('normalizeForMatching', () => {
  it('folds look-alikes of either case to lower-case Latin (same table as the maskers)', () => {
    expect(normalizeForMatching('ΙGNОRЕ prеvіоus')).toBe('ignore previous');
  });

  it('reads ASCII text as the Unicode passes would (it skips them)', () => {
    // The passes spelled out: what a text with one non-ASCII character goes through.
    const unicodePasses = (text: string) =>
      normalizeForMatching(`${text}\u00e9`).slice(0, -1).trimEnd();
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), (text) => {
        expect(normalizeForMatching(text)).toBe(unicodePasses(text));
      }),
      { numRuns: 2000 },
    );
  });
});
