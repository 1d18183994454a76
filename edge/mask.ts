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
import { appendFolded, normalizeWithOffsets, type OffsetText } from './normalize.ts';

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
  while (i > 0 && i < folded.text.length && folded.starts[i] === folded.starts[i - 1]) i++;
  return i;
}

function boundaryDown(folded: OffsetText, i: number): number {
  while (i > 0 && i < folded.text.length && folded.starts[i] === folded.starts[i - 1]) i--;
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

function collect(masker: Masker, order: number, text: string, offset = 0, from = 0, to?: number) {
  return masker
    .findAll(text, from, to)
    .filter((s) => s.end > s.start)
    .map((s) => ({ start: s.start + offset, end: s.end + offset, order }));
}

/** The original text of [from, to) with the chosen spans replaced; counts them. */
function render(
  original: string,
  folded: OffsetText,
  chosen: Candidate[],
  maskers: Masker[],
  range: { from: number; to: number },
  counts: Record<string, number>,
): string {
  let out = '';
  let pos = range.from;
  for (const c of chosen) {
    const kind = maskers[c.order]!.kind;
    out += `${original.slice(pos, folded.starts[c.start])}[REDACTED:${kind}]`;
    pos = folded.ends[c.end - 1]!;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return out + original.slice(pos, range.to);
}

/** Masks a whole text at once. */
export function maskText(text: string, maskers: Masker[]): MaskResult {
  const folded = normalizeWithOffsets(text);
  const candidates = maskers.flatMap((m, order) => collect(m, order, folded.text));
  const { chosen } = choose(candidates.sort(byPriority), 0, folded.text.length, folded);
  const counts: Record<string, number> = {};
  return {
    text: render(text, folded, chosen, maskers, { from: 0, to: text.length }, counts),
    counts,
  };
}

/** Emitted text kept this far back for lookbehind; trimmed in steps of this size. */
const TRIM_STEP = 1024;

/**
 * Masks a text that arrives in chunks. `push` returns the text that is safe to emit now; `end`
 * returns the rest. Concatenated, they equal `maskText` of the whole text. Held back is only text
 * from the earliest position where a candidate could still start or grow (at most the largest
 * `maxMatchLength`, plus a split surrogate pair).
 */
export class StreamMasker {
  readonly counts: Record<string, number> = {};
  readonly #maskers: Masker[];
  /** Retained original text: some already-emitted context, then the held-back part. */
  #original = '';
  #folded: OffsetText = { text: '', starts: [], ends: [] };
  /** Folded and original index up to which output has been emitted. */
  #done = 0;
  #originalDone = 0;
  #highSurrogate = '';
  /** Per masker: folded index before which its candidates are final (and cached). */
  #holds: number[];
  #cached: Candidate[][];

  constructor(maskers: Masker[]) {
    this.#maskers = maskers;
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

  #drain(final: boolean): string {
    const folded = this.#folded;
    const n = folded.text.length;
    let limit = n;
    let pending = false;
    for (let i = 0; i < this.#maskers.length; i++) {
      const m = this.#maskers[i]!;
      const from = Math.max(this.#done, this.#holds[i]!);
      const undecided = final
        ? n
        : Math.max(n - m.maxMatchLength, m.holdFrom?.(folded.text, from) ?? 0);
      const hold = Math.max(from, undecided);
      const cached = this.#cached[i]!;
      if (hold > from) {
        const offset = Math.max(0, from - MASK_CONTEXT_CHARS);
        const spans = m.findAll(folded.text.slice(offset), from - offset, hold - offset);
        for (const s of spans) {
          const start = s.start + offset;
          if (s.end > s.start && start >= from && start < hold)
            cached.push({ start, end: s.end + offset, order: i });
        }
      }
      this.#holds[i] = hold;
      if (hold < limit) limit = hold;
      if (cached.length > 0) pending = true;
    }
    // Usually no candidate is pending at all: then nothing to sort or filter.
    const sorted = pending ? this.#cached.flat().sort(byPriority) : [];
    const { chosen, cursor } = choose(sorted, this.#done, limit, folded);
    const cut = Math.max(boundaryDown(folded, limit), cursor);
    const originalCut = cut < n ? folded.starts[cut]! : this.#original.length;
    const range = { from: this.#originalDone, to: originalCut };
    const out = render(this.#original, folded, chosen, this.#maskers, range, this.counts);
    this.#done = cut;
    this.#originalDone = originalCut;
    if (pending) this.#cached = this.#cached.map((list) => list.filter((c) => c.start >= cut));
    if (cut - MASK_CONTEXT_CHARS >= TRIM_STEP) this.#trim(cut - MASK_CONTEXT_CHARS);
    return out;
  }

  /** Forgets folded text before `upTo` (rounded down to a code point), keeping offsets aligned. */
  #trim(upTo: number): void {
    const folded = this.#folded;
    const keep = boundaryDown(folded, upTo);
    if (keep === 0) return;
    const originalKeep = keep < folded.text.length ? folded.starts[keep]! : this.#originalDone;
    this.#original = this.#original.slice(originalKeep);
    folded.text = folded.text.slice(keep);
    folded.starts = folded.starts.slice(keep).map((x) => x - originalKeep);
    folded.ends = folded.ends.slice(keep).map((x) => x - originalKeep);
    this.#done -= keep;
    this.#originalDone -= originalKeep;
    this.#holds = this.#holds.map((h) => Math.max(0, h - keep));
    this.#cached = this.#cached.map((list) =>
      list.map((c) => ({ ...c, start: c.start - keep, end: c.end - keep })),
    );
  }
}
