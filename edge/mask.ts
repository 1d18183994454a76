/**
 * Output masking: every masked span becomes `[REDACTED:<kind>]`, in whole responses (`maskText`)
 * and streamed ones (`StreamMasker`) alike. Maskers match folded text (normalize.ts), so
 * full-width or other scripts' digits, Unicode dashes and full stops, Cyrillic look-alikes or
 * zero-width characters inside an address do not hide it; the output is cut from the original
 * text, so everything unmasked reaches the client untouched.
 *
 * Among overlapping candidates the earliest start wins, then the longest, then the masker listed
 * first. The stream reaches the same choice as the one-shot pass whatever the chunk boundaries: it
 * emits text as soon as no candidate that more text could change starts before it.
 */
import { MASK_CONTEXT_CHARS, type Masker, type Span } from './masker.ts';
import {
  appendFolded,
  midCodePoint,
  normalizeWithOffsets,
  type OffsetText,
  originalEnd,
  originalStart,
} from './normalize.ts';

export { BUILTIN_MASKER_KINDS, builtinMaskers } from './builtin-maskers.ts';
export type { Masker, Span } from './masker.ts';
export { type RegexMaskerSpec, regexMasker } from './regex-masker.ts';

export interface MaskResult {
  text: string;
  /** Masked spans per kind. */
  counts: Record<string, number>;
}

interface Candidate extends Span {
  /** Index of the masker that found it: breaks ties between equal spans. */
  order: number;
}

const byPriority = (a: Candidate, b: Candidate) =>
  a.start - b.start || b.end - a.end || a.order - b.order;

/** First folded index at or after `i` that begins an original code point. */
function boundaryUp(folded: OffsetText, i: number): number {
  while (i > 0 && i < folded.text.length && midCodePoint(folded, i)) i++;
  return i;
}

function boundaryDown(folded: OffsetText, i: number): number {
  while (i > 0 && i < folded.text.length && midCodePoint(folded, i)) i--;
  return i;
}

/** Greedy choice over sorted candidates starting in [from, limit); returns where it stopped. */
function choose(sorted: Candidate[], from: number, limit: number, folded: OffsetText) {
  const chosen: Candidate[] = [];
  let cursor = from;
  for (const c of sorted) {
    if (c.start >= limit) break;
    if (c.start < cursor) continue;
    chosen.push(c);
    cursor = boundaryUp(folded, c.end);
  }
  return { chosen, cursor };
}

function collect(masker: Masker, order: number, text: string) {
  return masker
    .findAll(text)
    .filter((s) => s.end > s.start)
    .map((s) => ({ start: s.start, end: s.end, order }));
}

/** The original text of [from, to) with the chosen spans replaced; counts them. */
function render(
  original: string,
  folded: OffsetText,
  chosen: Candidate[],
  maskers: Masker[],
  from: number,
  to: number,
  counts: Record<string, number>,
): string {
  let out = '';
  let pos = from;
  for (const c of chosen) {
    const kind = maskers[c.order]!.kind;
    out += `${original.slice(pos, originalStart(folded, c.start))}[REDACTED:${kind}]`;
    pos = originalEnd(folded, c.end - 1);
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return out + original.slice(pos, to);
}

/** Masks a whole text at once. */
export function maskText(text: string, maskers: Masker[]): MaskResult {
  const folded = normalizeWithOffsets(text);
  const candidates = maskers.flatMap((m, order) => collect(m, order, folded.text));
  const { chosen } = choose(candidates.sort(byPriority), 0, folded.text.length, folded);
  const counts: Record<string, number> = {};
  return {
    text: render(text, folded, chosen, maskers, 0, text.length, counts),
    counts,
  };
}

/**
 * Emitted text is trimmed once this much more than MASK_CONTEXT_CHARS of it is kept: the retained
 * text is copied whole when a chunk is appended and read, so it is kept short.
 */
const TRIM_STEP = 256;

/**
 * Per ASCII character, a bit for each of the first 32 maskers that declare `starts` and may begin
 * a match with it. Built once per masker list (the services' list is shared by every stream).
 */
const startBitsCache = new WeakMap<Masker[], { bits: Uint32Array; masks: Uint32Array }>();
function startBits(maskers: Masker[]) {
  let cached = startBitsCache.get(maskers);
  if (!cached) {
    const bits = new Uint32Array(128);
    // Per masker: its bit, or 0 for one that may start anywhere (no `starts`, or past 32).
    const masks = new Uint32Array(maskers.length);
    let next = 0;
    maskers.forEach((m, i) => {
      if (!m.starts || next === 32) return;
      masks[i] = 2 ** next++;
      for (let c = 0; c < 128; c++) if (m.starts[c]) bits[c]! |= masks[i]!;
    });
    cached = { bits, masks };
    startBitsCache.set(maskers, cached);
  }
  return cached;
}

/**
 * Masks a text that arrives in chunks. `push` returns the text that is safe to emit now; `end`
 * returns the rest. Concatenated, they equal `maskText` of the whole text. Held back is only text
 * from the earliest position where a candidate could still start or grow (at most the largest
 * `maxMatchLength`, plus a split surrogate pair).
 *
 * Per chunk, a masker that declares `starts` is skipped outright when none of those characters
 * occurs in the text it has not decided yet: no candidate can start there, so nothing is pending
 * and nothing is to be found (on most chunks, most maskers).
 */
export class StreamMasker {
  readonly counts: Record<string, number> = {};
  readonly #maskers: Masker[];
  readonly #startBits: Uint32Array;
  readonly #startMasks: Uint32Array;
  /** Scratch: per undecided position p, the start bits of all characters in [p, end). */
  #ahead = new Uint32Array(64);
  /** Retained original text: some already-emitted context, then the held-back part. */
  #original = '';
  #folded: OffsetText = { text: '', starts: null, ends: null };
  /** Folded and original index up to which output has been emitted. */
  #done = 0;
  #originalDone = 0;
  #highSurrogate = '';
  /** Per masker: folded index before which its candidates are final (and cached). */
  readonly #holds: number[];
  #cached: Candidate[][];
  #pending = 0;

  constructor(maskers: Masker[]) {
    this.#maskers = maskers;
    const { bits, masks } = startBits(maskers);
    this.#startBits = bits;
    this.#startMasks = masks;
    this.#holds = maskers.map(() => 0);
    this.#cached = maskers.map(() => []);
  }

  /** Original characters received but not yet emitted. */
  get heldChars(): number {
    return this.#original.length - this.#originalDone + this.#highSurrogate.length;
  }

  push(chunk: string): string {
    let text = this.#highSurrogate + chunk;
    this.#highSurrogate = '';
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.#highSurrogate = text.slice(-1);
      text = text.slice(0, -1);
    }
    this.#append(text);
    return this.#drain(false);
  }

  end(): string {
    this.#append(this.#highSurrogate);
    this.#highSurrogate = '';
    const out = this.#drain(true);
    this.#trim(this.#folded.text.length);
    return out;
  }

  #append(text: string): void {
    appendFolded(this.#folded, text, this.#original.length);
    this.#original += text;
  }

  /** Fills `#ahead` for [done, n): which maskers' start characters occur at or after each p. */
  #scanAhead(text: string, done: number, n: number): Uint32Array {
    if (this.#ahead.length <= n - done) this.#ahead = new Uint32Array(2 * (n - done) + 1);
    const ahead = this.#ahead;
    const bits = this.#startBits;
    let acc = 0;
    ahead[n - done] = 0;
    for (let p = n - 1; p >= done; p--) {
      const c = text.charCodeAt(p);
      if (c < 128) acc |= bits[c]!;
      ahead[p - done] = acc;
    }
    return ahead;
  }

  #drain(final: boolean): string {
    const folded = this.#folded;
    const text = folded.text;
    const n = text.length;
    const done = this.#done;
    const ahead = this.#scanAhead(text, done, n);
    let limit = n;
    for (let i = 0; i < this.#maskers.length; i++) {
      const m = this.#maskers[i]!;
      const from = Math.max(done, this.#holds[i]!);
      const mask = this.#startMasks[i]!;
      if (from >= n || (mask !== 0 && (ahead[from - done]! & mask) === 0)) {
        // No candidate can start in [from, n): nothing pending, nothing to find.
        this.#holds[i] = n;
        continue;
      }
      const undecided = final ? n : Math.max(n - m.maxMatchLength, m.holdFrom?.(text, from) ?? 0);
      const hold = Math.max(from, undecided);
      if (hold > from) {
        const offset = Math.max(0, from - MASK_CONTEXT_CHARS);
        const spans = m.findAll(
          offset > 0 ? text.slice(offset) : text,
          from - offset,
          hold - offset,
        );
        for (const s of spans) {
          const start = s.start + offset;
          if (s.end > s.start && start >= from && start < hold) {
            this.#cached[i]!.push({ start, end: s.end + offset, order: i });
            this.#pending++;
          }
        }
      }
      this.#holds[i] = hold;
      if (hold < limit) limit = hold;
    }
    let cut = boundaryDown(folded, limit);
    let chosen: Candidate[] = [];
    // Usually no candidate is pending at all: then nothing to sort, choose or filter.
    if (this.#pending > 0) {
      const picked = choose(this.#cached.flat().sort(byPriority), done, limit, folded);
      chosen = picked.chosen;
      cut = Math.max(cut, picked.cursor);
      this.#cached = this.#cached.map((list) => list.filter((c) => c.start >= cut));
      this.#pending = this.#cached.reduce((sum, list) => sum + list.length, 0);
    }
    const originalCut = cut < n ? originalStart(folded, cut) : this.#original.length;
    const out = render(
      this.#original,
      folded,
      chosen,
      this.#maskers,
      this.#originalDone,
      originalCut,
      this.counts,
    );
    this.#done = cut;
    this.#originalDone = originalCut;
    if (cut - MASK_CONTEXT_CHARS >= TRIM_STEP) this.#trim(cut - MASK_CONTEXT_CHARS);
    return out;
  }

  /** Forgets folded text before `upTo` (rounded down to a code point), keeping offsets aligned. */
  #trim(upTo: number): void {
    const folded = this.#folded;
    const keep = boundaryDown(folded, upTo);
    if (keep === 0) return;
    const originalKeep =
      keep < folded.text.length ? originalStart(folded, keep) : this.#originalDone;
    this.#original = this.#original.slice(originalKeep);
    folded.text = folded.text.slice(keep);
    if (folded.starts !== null && folded.ends !== null) {
      folded.starts = folded.starts.slice(keep).map((x) => x - originalKeep);
      folded.ends = folded.ends.slice(keep).map((x) => x - originalKeep);
    }
    this.#done -= keep;
    this.#originalDone -= originalKeep;
    for (let i = 0; i < this.#holds.length; i++)
      this.#holds[i] = Math.max(0, this.#holds[i]! - keep);
    if (this.#pending > 0)
      this.#cached = this.#cached.map((list) =>
        list.map((c) => ({ ...c, start: c.start - keep, end: c.end - keep })),
      );
  }
}
