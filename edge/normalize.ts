/**
 * Normalising text before matching, so Unicode look-alikes cannot slip past a filter or masker.
 * Two flavours: `normalizeForMatching` folds a whole string for the input filters, and
 * `normalizeWithOffsets` folds code point by code point for the output maskers, keeping, for each
 * folded character, where it came from in the original — masks are cut from the original text.
 * Plain JS only (runs on Workers).
 */

/** Invisible characters that attackers slip inside words (all are Unicode format or marks). */
const INVISIBLE = /\p{Cf}|\p{M}|[\u00ad\u115f\u1160\u3164\uffa0]/gu;

/**
 * Cyrillic and Greek letters that render like Latin ones, by their look in each case. Case is
 * kept (the maskers match case-sensitively: "АKIA" must read "AKIA"). The one look-alike table:
 * the input filters and the output maskers both fold with it.
 */
const LOOK_ALIKES: Record<string, string> = {
  ...lookAlikes('АВЕЅІЈКМНОРСТХУ', 'ABESIJKMHOPCTXY'),
  ...lookAlikes('авеѕіјкморстхуёїԁԛԝ', 'abesijkmopctxyeidqw'),
  ...lookAlikes('ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ', 'ABEZHIKMNOPTYX'),
  ...lookAlikes('αεικνορτυχ', 'aeikvoptux'),
  ...lookAlikes('ɑɡı\u2018\u2019\u201b\u02bc', "agi''''"),
};
function lookAlikes(from: string, to: string): Record<string, string> {
  return Object.fromEntries([...from].map((c, i) => [c, to[i]!]));
}
const LOOK_ALIKE_RE = new RegExp(`[${Object.keys(LOOK_ALIKES).join('')}]`, 'g');

const isAscii = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
};

/**
 * The input filters' view of a text: NFKC, invisible/format characters and combining marks
 * removed (so "i\u200Bgnore" and "ignóre" read "ignore"), lower-cased, Cyrillic/Greek look-alikes
 * folded to Latin, whitespace runs collapsed to one space and trimmed.
 */
export function normalizeForMatching(text: string): string {
  // ASCII is its own NFKD and NFKC, and holds no invisible character or look-alike: most prompts
  // skip the Unicode passes.
  const folded = isAscii(text)
    ? text
    : text
        .normalize('NFKD')
        .replace(INVISIBLE, '')
        .normalize('NFKC')
        .replace(LOOK_ALIKE_RE, (c) => LOOK_ALIKES[c]!);
  return folded.toLowerCase().replace(/\s+/g, ' ').trim();
}

/**
 * Folded text plus, per folded UTF-16 unit, the original code point's [start, end). While every
 * character appended has been ASCII (nearly always, in model output) the fold is the identity and
 * the two arrays are not kept (null): `originalStart`/`originalEnd` read either form.
 */
export interface OffsetText {
  text: string;
  starts: number[] | null;
  ends: number[] | null;
}

export const originalStart = (folded: OffsetText, i: number): number =>
  folded.starts === null ? i : folded.starts[i]!;

export const originalEnd = (folded: OffsetText, i: number): number =>
  folded.ends === null ? i + 1 : folded.ends[i]!;

/** Whether a folded index is inside a code point, past its first folded unit. */
export const midCodePoint = (folded: OffsetText, i: number): boolean =>
  folded.starts !== null && folded.starts[i] === folded.starts[i - 1];

const foldCache = new Map<string, string>();
const FOLD_CACHE_LIMIT = 4096;

/**
 * Separators that stand in for ASCII ones in addresses and numbers: every Unicode dash and the
 * minus sign read '-'; the ideographic and Arabic full stops and the Arabic decimal separator read
 * '.' (halfwidth and vertical ideographic stops reach U+3002 through NFKD; small and full-width
 * ones, '.').
 */
const AS_HYPHEN = /^[\p{Pd}\u2212]$/u;
const AS_DOT = new Set(['\u3002', '\u06d4', '\u066b']);
const DECIMAL_DIGIT = /^\p{Nd}$/u;

/**
 * The ASCII digit for a decimal digit of any script ('٤' and '४' read '4'), or undefined. Unicode
 * lays each script's digits out as ten consecutive code points from its zero, and where such
 * blocks adjoin (the mathematical digits) each is still a whole ten: so the value is the distance
 * from the start of the run of digits, modulo 10.
 */
function asciiDigit(c: string): string | undefined {
  if (!DECIMAL_DIGIT.test(c)) return undefined;
  const code = c.codePointAt(0)!;
  let start = code;
  while (start > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return String((code - start) % 10);
}

/** One character of a decomposed code point as the maskers read it. */
function foldChar(c: string): string {
  if (c.length === 1 && c.charCodeAt(0) < 0x80) return c;
  const ascii = LOOK_ALIKES[c] ?? asciiDigit(c);
  if (ascii !== undefined) return ascii;
  if (AS_HYPHEN.test(c)) return '-';
  return AS_DOT.has(c) ? '.' : c;
}

/**
 * The maskers' fold of one code point: compatibility decomposition (full-width digits and
 * letters become ASCII), combining marks and format characters (zero-width spaces, joiners, soft
 * hyphen, BOM) dropped, then each remaining character through `foldChar`: decimal digits of every
 * script, Unicode dashes and full stops, Cyrillic/Greek look-alikes to their ASCII reading. Those
 * are one character for one, so the fold stays local to its code point (what the offset map and
 * the stream rely on). Case is kept: maskers decide their own case rules.
 */
export function foldCodePoint(cp: string): string {
  if (cp.length === 1 && cp.charCodeAt(0) < 0x80) return cp;
  let folded = foldCache.get(cp);
  if (folded === undefined) {
    folded = '';
    for (const c of cp.normalize('NFKD').replace(INVISIBLE, '')) folded += foldChar(c);
    if (foldCache.size >= FOLD_CACHE_LIMIT) foldCache.clear();
    foldCache.set(cp, folded);
  }
  return folded;
}

/**
 * Appends the fold of `original` to `out`; offsets are `base` + the index in `original`. Folding
 * per code point (not per string) makes the fold of a concatenation the concatenation of folds,
 * which is what lets the streaming masker agree with the one-shot one at every chunk boundary.
 */
export function appendFolded(out: OffsetText, original: string, base: number): void {
  if (out.starts === null || out.ends === null) {
    // The identity so far (base is then the folded length): stays so while the text is ASCII.
    if (isAscii(original)) {
      out.text += original;
      return;
    }
    const length = out.text.length;
    out.starts = Array.from({ length }, (_, i) => i);
    out.ends = Array.from({ length }, (_, i) => i + 1);
  }
  const { starts, ends } = out;
  let text = '';
  for (let i = 0; i < original.length; ) {
    const code = original.charCodeAt(i);
    const width = code >= 0xd800 && code <= 0xdbff && i + 1 < original.length ? 2 : 1;
    const folded =
      width === 1 && code < 0x80 ? original[i]! : foldCodePoint(original.slice(i, i + width));
    for (let k = 0; k < folded.length; k++) {
      starts.push(base + i);
      ends.push(base + i + width);
    }
    text += folded;
    i += width;
  }
  out.text += text;
}

export function normalizeWithOffsets(original: string): OffsetText {
  const out: OffsetText = { text: '', starts: null, ends: null };
  appendFolded(out, original, 0);
  return out;
}
