/**
 * The output-masker plugin contract and the helpers its implementations share.
 *
 * A masker reports *candidates*: spans where it matches, which may overlap (`maskText` picks among
 * them). A candidate at position p may depend only on the text from `MASK_CONTEXT_CHARS` before p
 * to `maxMatchLength` after it — that locality is what lets the streaming masker decide a prefix of
 * the text before the rest has arrived.
 */

export interface Span {
  start: number;
  end: number;
}

export interface Masker {
  kind: string;
  /** Longest text a match can span, counting the lookahead it needs; bounds the streaming hold-back. */
  maxMatchLength: number;
  /**
   * Candidate spans over (already folded) text, in any order; they may overlap. Only candidates
   * starting in [from, to) are needed (default: all); returning others is harmless — the range is
   * a speed-up for the stream, which rescans only what it has not decided yet.
   */
  findAll(text: string, from?: number, to?: number): Span[];
  /**
   * Earliest index in `text` where a candidate could start whose presence or extent more text
   * could still change; `text.length` when none. Optional: without it the streaming masker holds
   * back the last `maxMatchLength` characters. Candidates starting before `from` are already
   * decided (the stream held back there earlier and has since moved on), so they need not be
   * looked at: an answer below `from` counts as `from`. Lets a hold look only at new text.
   */
  holdFrom?(text: string, from?: number): number;
  /**
   * Every ASCII character a candidate can begin with, as an `asciiClass` table; a masker that
   * declares it promises that no candidate begins with any other character (nor with a non-ASCII
   * one). Optional: with it the streaming masker skips the masker, `holdFrom` and `findAll` both,
   * for as long as none of these characters has arrived since what it has decided.
   */
  starts?: Uint8Array;
}

/** How far back a masker's lookbehind may look (the stream keeps this much emitted text). */
export const MASK_CONTEXT_CHARS = 64;

/**
 * One candidate per start position where `re` matches. `re` must have the `g` flag; after a match at
 * p the scan resumes at p + 1, so a match never hides a candidate inside it (the choice between
 * overlapping candidates is `maskText`'s). `accept` may shorten a match or reject it (returns the
 * accepted length, 0 to reject). Only matches starting in [from, to) are reported. `starts`, when
 * given, holds every ASCII character a match can begin with (none begins with another): positions
 * tried one by one skip the others without running the regex.
 */
export function scanCandidates(
  re: RegExp,
  text: string,
  out: Span[],
  accept?: (match: string) => number,
  from = 0,
  to = text.length,
  starts?: Uint8Array,
): Span[] {
  const sticky = to - from <= STICKY_SCAN_MAX;
  // A few positions (the stream's usual case) are tried one by one, rather than letting a global
  // search run on through text whose candidates are not wanted yet.
  const scan = sticky ? stickyTwin(re) : re;
  for (let at = from; at < to; ) {
    if (sticky && starts && !inClass(starts, text, at)) {
      at++;
      continue;
    }
    scan.lastIndex = at;
    const m = scan.exec(text);
    if (m === null && !sticky) break;
    if (m === null) {
      at++;
      continue;
    }
    if (m.index >= to) break;
    const length = accept ? accept(m[0]) : m[0].length;
    if (length > 0) out.push({ start: m.index, end: m.index + length });
    at = m.index + 1;
  }
  return out;
}

const STICKY_SCAN_MAX = 32;
const stickyTwins = new WeakMap<RegExp, RegExp>();
function stickyTwin(re: RegExp): RegExp {
  let twin = stickyTwins.get(re);
  if (!twin) {
    twin = new RegExp(re.source, `${re.flags.replace('g', '')}y`);
    stickyTwins.set(re, twin);
  }
  return twin;
}

/** A membership table for an ASCII character class given as a one-character regex. */
export function asciiClass(re: RegExp): Uint8Array {
  const table = new Uint8Array(128);
  for (let c = 0; c < 128; c++) table[c] = re.test(String.fromCharCode(c)) ? 1 : 0;
  return table;
}

export const inClass = (table: Uint8Array, text: string, i: number) => {
  const c = text.charCodeAt(i);
  return c < 128 && table[c] === 1;
};

/**
 * Start of the run of `run`-class characters that ends at `end` (the end of the text unless given;
 * looking back at most `maxBack`), advanced to its first `startClass` character; `end` when the run
 * has none. A candidate that more text could change must have read up to the end of the text
 * through characters of its own class, so it starts inside the trailing run. Nothing before `from`
 * is looked at (see `Masker.holdFrom`).
 */
export function trailingRunHold(
  text: string,
  run: Uint8Array,
  startClass: Uint8Array,
  maxBack: number,
  from = 0,
  end = text.length,
): number {
  const floor = Math.max(0, end - maxBack, from);
  let i = end;
  while (i > floor && inClass(run, text, i - 1)) i--;
  while (i < end && !inClass(startClass, text, i)) i++;
  return i;
}
