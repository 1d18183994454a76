import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixtureModelCache } from '../../test/fixtures/models.ts';
import { IncrementalDetokenizer, StopChecker } from './detokenizer.ts';
import { ModelTokenizer } from './tokenizer.ts';

const tokenizer = await ModelTokenizer.load(fixtureModelCache('qwen3', 1));

function streamDeltas(ids: number[], options = {}) {
  const detok = new IncrementalDetokenizer(tokenizer, options);
  const deltas = ids.map((id) => detok.push(id));
  deltas.push(detok.flush());
  return deltas;
}

describe('IncrementalDetokenizer', () => {
  it('never emits half a character when emoji and CJK bytes are split across tokens', () => {
    const text = 'a😀b 日本 👍🏽!';
    const ids = tokenizer.encode(text);
    expect(ids.length).toBeGreaterThan([...text].length); // multi-byte chars span several tokens
    const deltas = streamDeltas(ids);
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
    expect(deltas.join('')).toBe(text);
    // The emoji's 4 byte tokens produce nothing until the last one completes it.
    const emojiStart = ids.indexOf(tokenizer.encode('😀')[0]);
    expect(deltas.slice(emojiStart, emojiStart + 3)).toEqual(['', '', '']);
    expect(deltas[emojiStart + 3]).toBe('😀');
  });

  it('streams exactly the full decode for any text, with prompt context and skipped specials', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.string({ maxLength: 8 }),
        (text, prompt) => {
          const ids = tokenizer.encode(`${text}<|im_end|>`);
          const deltas = streamDeltas(ids, {
            skipSpecialTokens: true,
            promptTokenIds: tokenizer.encode(prompt),
          });
          expect(deltas.join('')).toBe(text);
          for (const d of deltas) expect(d).not.toContain('\uFFFD');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('flushes an incomplete trailing character as U+FFFD at the end', () => {
    const bytes = tokenizer.encode('😀').slice(0, 2);
    const detok = new IncrementalDetokenizer(tokenizer);
    expect(bytes.map((id) => detok.push(id)).join('')).toBe('');
    expect(detok.flush()).toContain('\uFFFD');
  });
});

describe('StopChecker', () => {
  it('holds back possible stop prefixes, truncates at the stop and reports it, at every split', () => {
    const text = 'say STOP now, STOP';
    for (let cut = 0; cut <= text.length; cut++) {
      const checker = new StopChecker(['STOP', 'xyz']);
      const a = checker.push(text.slice(0, cut));
      const b = checker.push(text.slice(cut));
      expect(a.text + b.text).toBe('say ');
      expect(a.stopped || b.stopped).toBe(true);
      expect((a.stopped ? a : b).stopString).toBe('STOP');
      expect(a.text).not.toMatch(/S$|ST$|STO$/);
    }
  });

  it('releases held text once it cannot be a stop, and at the end', () => {
    const checker = new StopChecker(['</end>']);
    expect(checker.push('a </e')).toEqual({ text: 'a ', stopped: false });
    expect(checker.push('nd')).toEqual({ text: '', stopped: false });
    expect(checker.push('x')).toEqual({ text: '</endx', stopped: false });
    expect(checker.push(' </')).toEqual({ text: ' ', stopped: false });
    expect(checker.flush()).toBe('</');
  });

  it('picks the earliest stop and can include it', () => {
    const checker = new StopChecker(['bb', 'ab'], { includeStopString: true });
    expect(checker.push('xxabb')).toEqual({ text: 'xxab', stopped: true, stopString: 'ab' });
    expect(checker.push('more')).toEqual({ text: '', stopped: true });
    expect(() => new StopChecker([''])).toThrow();
  });
});
