import { describe, expect, it } from 'vitest';
import { segments } from './redacted.ts';

describe('segments', () => {
  it('splits masked spans out of the text, keeping everything else as it was', () => {
    const text = 'Mail [REDACTED:email] or call [REDACTED:phone].';
    const parts = segments(text);
    expect(parts).toEqual([
      { type: 'text', text: 'Mail ' },
      { type: 'redacted', kind: 'email', text: '[REDACTED:email]' },
      { type: 'text', text: ' or call ' },
      { type: 'redacted', kind: 'phone', text: '[REDACTED:phone]' },
      { type: 'text', text: '.' },
    ]);
    expect(parts.map((p) => p.text).join('')).toBe(text);
  });

  it('leaves an unfinished marker (mid-stream) as plain text', () => {
    expect(segments('a [REDACTED:em')).toEqual([{ type: 'text', text: 'a [REDACTED:em' }]);
    expect(segments('')).toEqual([]);
  });
});
