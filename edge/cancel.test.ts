import { describe, expect, it } from 'vitest';
import { Cancellation, toAbortSignal } from './cancel.ts';

describe('Cancellation', () => {
  it('runs the listeners still attached once, in order, on the first abort only', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    const gone = () => calls.push('gone');
    c.addEventListener('abort', a);
    c.addEventListener('abort', gone);
    c.addEventListener('abort', b);
    c.removeEventListener('abort', gone);
    c.abort('why');
    c.abort('again');
    c.addEventListener('abort', () => calls.push('late'));
    expect(calls).toEqual(['a', 'b']);
    expect(c.aborted).toBe(true);
    expect(c.reason).toBe('why');
  });

  it('gives fetch a real AbortSignal that follows it, reason included', () => {
    const c = new Cancellation();
    const signal = toAbortSignal(c);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal.aborted).toBe(false);
    c.abort('timeout');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('timeout');
    const done = new Cancellation();
    done.abort('early');
    expect(toAbortSignal(done).reason).toBe('early');
    const real = new AbortController().signal;
    expect(toAbortSignal(real)).toBe(real);
  });
});
