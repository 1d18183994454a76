/**
 * Normalising text before matching, so Unicode look-alikes cannot slip past a filter or masker.
 * Two flavours: `normalizeForMatching` folds a whole string for the input filters, and
 * `normalizeWithOffsets` folds code point by code point for the output maskers, keeping, for each
 * folded character, where it came from in the original — masks are cut from the original text.
 * Plain JS only (runs on Workers).
 */

/** Invisible characters that attackers slip inside words (all are Unicode format or marks). */
const INVISIBLE = /\p{Cf}|\p{M}|[\u00ad\u115f\u1160\u3164\uffa0]/gu;

/** Cyrillic and Greek letters that render like Latin ones, by their look in each case. */
const CONFUSABLES: Record<string, string> = {
  ...lookAlikes('АВЕЅІЈКМНОРСТХУ', 'abesijkmhopctxy'),
  ...lookAlikes('авеѕіјкморстхуёїԁԛԝ', 'abesijkmopctxyeidqw'),
  ...lookAlikes('ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ', 'abezhikmnoptyx'),
  ...lookAlikes('αεικνορτυχ', 'aeikvoptux'),
  ...lookAlikes('ɑɡı\u2018\u2019\u201b\u02bc', "agi''''"),
};
function lookAlikes(from: string, to: string): Record<string, string> {
  return Object.fromEntries([...from].map((c, i) => [c, to[i]!]));
}
const CONFUSABLE_RE = new RegExp(`[${Object.keys(CONFUSABLES).join('')}]`, 'g');

/**
 * The input filters' view of a text: NFKC, invisible/format characters and combining marks
 * removed (so "i\u200Bgnore" and "ignóre" read "ignore"), lower-cased, Cyrillic/Greek look-alikes
 * folded to Latin, whitespace runs collapsed to one space and trimmed.
 */
export function normalizeForMatching(text: string): string {
  return text
    .normalize('NFKD')
    .replace(INVISIBLE, '')
    .normalize('NFKC')
    .replace(CONFUSABLE_RE, (c) => CONFUSABLES[c]!)
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** Folded text plus, per folded UTF-16 unit, the original code point's [start, end). */
export interface OffsetText {
  text: string;
  starts: number[];
  ends: number[];
}

const foldCache = new Map<string, string>();
const FOLD_CACHE_LIMIT = 4096;

/**
 * The maskers' fold of one code point: compatibility decomposition (full-width digits and
 * letters become ASCII), combining marks and format characters (zero-width spaces, joiners, soft
 * hyphen, BOM) dropped. Case is kept: maskers decide their own case rules.
 */
export function foldCodePoint(cp: string): string {
  if (cp.length === 1 && cp.charCodeAt(0) < 0x80) return cp;
  let folded = foldCache.get(cp);
  if (folded === undefined) {
    folded = cp.normalize('NFKD').replace(INVISIBLE, '');
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
  let text = '';
  for (let i = 0; i < original.length; ) {
    const code = original.charCodeAt(i);
    const width = code >= 0xd800 && code <= 0xdbff && i + 1 < original.length ? 2 : 1;
    const folded =
      width === 1 && code < 0x80 ? original[i]! : foldCodePoint(original.slice(i, i + width));
    for (let k = 0; k < folded.length; k++) {
      out.starts.push(base + i);
      out.ends.push(base + i + width);
    }
    text += folded;
    i += width;
  }
  out.text += text;
}

export function normalizeWithOffsets(original: string): OffsetText {
  const out: OffsetText = { text: '', starts: [], ends: [] };
  appendFolded(out, original, 0);
  return out;
}
