/**
 * Property test of the tokenizer on the fixture byte-level BPE tokenizers: any Unicode text, with
 * or without special-token markers in it, decodes back to itself.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelCache, fixtureSpecialTokens } from '../../test/fixtures/models.ts';
import { ModelTokenizer } from './tokenizer.ts';

const text = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
      { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 24 }) },
      { weight: 1, arbitrary: fc.constantFrom(...fixtureSpecialTokens, ' ', '\n', '\r\n', '\t') },
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));

describe('tokenizer round trip', () => {
  const tokenizers: Record<string, ModelTokenizer> = {};
  beforeAll(async () => {
    tokenizers.llama = await ModelTokenizer.load(fixtureModelCache('llama', 1));
    tokenizers.qwen2 = await ModelTokenizer.load(fixtureModelCache('qwen2', 1));
  });

  for (const family of ['llama', 'qwen2'])
    it(`${family}: decode(encode(s)) === s for arbitrary Unicode`, () => {
      const tok = tokenizers[family]!;
      const bos = tok.encode('', { addSpecialTokens: true }).length > 0 ? tok.bosToken! : '';
      fc.assert(
        fc.property(text, (s) => {
          const ids = tok.encode(s, { addSpecialTokens: false });
          expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)).toBe(
            true,
          );
          expect(tok.decode(ids)).toBe(s);
          expect(tok.decode(tok.encode(s))).toBe(bos + s);
        }),
        { numRuns: 400 },
      );
    });
});
