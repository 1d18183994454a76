/**
 * Token ids → text, one token at a time. Decoding a single byte-level token can yield half of a
 * UTF-8 character, and SentencePiece tokens decode differently alone than after their neighbours,
 * so we decode a small window ending at the new token and emit only what the window added, holding
 * text back while it ends in U+FFFD (an incomplete character). Stop strings are handled by
 * `StopChecker`, which holds back any tail that could still become a stop string.
 */

export interface Decoder {
  decode(ids: ArrayLike<number>, options?: { skipSpecialTokens?: boolean }): string;
}

/** Prompt tokens kept as left context so the first output token decodes as it would mid-text. */
const promptContextTokens = 5;

export class IncrementalDetokenizer {
  private readonly tokens: number[];
  /** Start of the decode window (context for the tokens being read). */
  private prefixOffset = 0;
  /** Tokens before this offset have had their text emitted. */
  private readOffset: number;
  private emitted = '';

  constructor(
    private readonly decoder: Decoder,
    private readonly options: {
      skipSpecialTokens?: boolean;
      promptTokenIds?: ArrayLike<number>;
    } = {},
  ) {
    const prompt = Array.from(options.promptTokenIds ?? []);
    this.tokens = prompt.slice(Math.max(0, prompt.length - promptContextTokens));
    this.readOffset = this.tokens.length;
  }

  /** All text emitted so far. */
  get text(): string {
    return this.emitted;
  }

  /** Adds one token; returns the new text it completes (often '', never a partial character). */
  push(tokenId: number): string {
    this.tokens.push(tokenId);
    const prefixText = this.decodeRange(this.prefixOffset, this.readOffset);
    const fullText = this.decodeRange(this.prefixOffset, this.tokens.length);
    if (fullText.length <= prefixText.length || fullText.endsWith('\uFFFD')) return '';
    const delta = fullText.slice(prefixText.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.tokens.length;
    this.emitted += delta;
    return delta;
  }

  /** At the end of generation: whatever is still held (an incomplete character shows as U+FFFD). */
  flush(): string {
    const prefixText = this.decodeRange(this.prefixOffset, this.readOffset);
    const fullText = this.decodeRange(this.prefixOffset, this.tokens.length);
    const delta = fullText.length > prefixText.length ? fullText.slice(prefixText.length) : '';
    this.prefixOffset = this.readOffset = this.tokens.length;
    this.emitted += delta;
    return delta;
  }

  private decodeRange(start: number, end: number): string {
    if (end <= start) return '';
    return this.decoder.decode(this.tokens.slice(start, end), {
      skipSpecialTokens: this.options.skipSpecialTokens ?? false,
    });
  }
}

export interface StopResult {
  /** Text safe to send now. */
  text: string;
  /** A stop string matched; nothing more will be emitted. */
  stopped: boolean;
  stopString?: string;
}

export class StopChecker {
  private held = '';
  private done = false;

  constructor(
    private readonly stops: readonly string[],
    private readonly options: { includeStopString?: boolean } = {},
  ) {
    if (stops.some((s) => s.length === 0)) throw new Error('stop strings must not be empty');
  }

  get stopped(): boolean {
    return this.done;
  }

  /** Feeds the next text delta; returns what can be emitted without risking a partial stop string. */
  push(delta: string): StopResult {
    if (this.done) return { text: '', stopped: true };
    const buffer = this.held + delta;
    const hit = this.firstMatch(buffer);
    if (hit) {
      this.done = true;
      this.held = '';
      const end = hit.index + (this.options.includeStopString ? hit.stop.length : 0);
      return { text: buffer.slice(0, end), stopped: true, stopString: hit.stop };
    }
    const keep = this.partialStopLength(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** At the end of generation the held tail is ordinary text. */
  flush(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }

  private firstMatch(buffer: string): { index: number; stop: string } | null {
    let best: { index: number; stop: string } | null = null;
    for (const stop of this.stops) {
      const index = buffer.indexOf(stop);
      if (index >= 0 && (!best || index < best.index)) best = { index, stop };
    }
    return best;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private partialStopLength(buffer: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > longest; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
