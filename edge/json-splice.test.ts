import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendFields, replaceStringValue } from './json-splice.ts';

describe('replaceStringValue', () => {
  it('changes the one value and keeps the rest of the text byte for byte', () => {
    const raw = '{"id":"x","choices":[{"index":0,"delta":{"content":"ab\\n"},"logprobs":null}]}';
    expect(replaceStringValue(raw, 'content', 'ab\n', 'a[REDACTED]')).toBe(
      '{"id":"x","choices":[{"index":0,"delta":{"content":"a[REDACTED]"},"logprobs":null}]}',
    );
    expect(replaceStringValue('{"content": "ab"}', 'content', 'ab', '')).toBe('{"content": ""}');
  });

  it('refuses when the pair is ambiguous, only inside a string, or encoded differently', () => {
    expect(replaceStringValue('{"content":"\\u00e9"}', 'content', 'é', 'e')).toBeUndefined();
    expect(
      replaceStringValue('{"a":{"content":"x"},"b":{"content":"x"}}', 'content', 'x', 'y'),
    ).toBeUndefined();
    expect(
      replaceStringValue('{"k\\"content":"x","content":"z"}', 'content', 'x', 'y'),
    ).toBeUndefined();
    expect(
      replaceStringValue('{"note":"\\"content\\":\\"x\\""}', 'content', 'x', 'y'),
    ).toBeUndefined();
  });

  it('whenever it answers, the answer parses to the value with only that field changed', () => {
    const value = fc.record({
      id: fc.string(),
      choices: fc.array(
        fc.record({ index: fc.nat(3), delta: fc.record({ content: fc.string({ maxLength: 6 }) }) }),
        { minLength: 1, maxLength: 3 },
      ),
      note: fc.string(),
    });
    fc.assert(
      fc.property(value, fc.nat(2), fc.string(), (v, pick, to) => {
        const i = pick % v.choices.length;
        const from = v.choices[i]!.delta.content;
        const out = replaceStringValue(JSON.stringify(v), 'content', from, to);
        if (out === undefined) return;
        const expected = structuredClone(v);
        expected.choices[i]!.delta.content = to;
        expect(JSON.parse(out)).toEqual(expected);
      }),
    );
  });
});

describe('appendFields', () => {
  it('is the encoding of the object with the fields added last, in order', () => {
    const added = fc.dictionary(
      fc.string().map((k) => `+${k}`),
      fc.oneof(fc.jsonValue(), fc.constant(undefined)),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), added, (object, fields) => {
        // Keys of `object` never start with '+' here, so none is added twice.
        fc.pre(Object.keys(object).every((k) => !k.startsWith('+')));
        expect(appendFields(JSON.stringify(object), fields)).toBe(
          JSON.stringify({ ...object, ...fields }),
        );
      }),
      { numRuns: 500 },
    );
    expect(appendFields('{}', { a: 1 })).toBe('{"a":1}');
    expect(appendFields('{"a":1}', {})).toBe('{"a":1}');
  });
});
