/**
 * The `secret` maskers: API keys by their well-known prefixes, JWTs, the credential after
 * "Bearer", and PEM private-key blocks. One masker per family, so a half-written key of one family
 * holds back only what that family could still match.
 */
import { asciiClass, inClass, type Masker, scanCandidates, trailingRunHold } from './masker.ts';

interface TokenFamily {
  /** Literal starts of a token; a pending token begins with one (or with a part of one). */
  prefixes: string[];
  pattern: RegExp;
  maxLength: number;
  /**
   * `at` when a token starting there may still match; otherwise the next start worth trying
   * (greater than `at`), so a long run of dead starts is skipped in one step.
   */
  nextAlive?: (text: string, at: number) => number;
}

const JWT_HEADER_MAX = 300;
const TOKEN_FAMILIES: TokenFamily[] = [
  // OpenAI / Anthropic style, incl. sk-proj-…, sk-ant-…
  { prefixes: ['sk-'], pattern: /sk-[A-Za-z0-9_-]{20,300}/, maxLength: 303 },
  {
    prefixes: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
    pattern: /gh[pousr]_[A-Za-z0-9]{30,255}/,
    maxLength: 259,
  },
  { prefixes: ['github_pat_'], pattern: /github_pat_[A-Za-z0-9_]{22,255}/, maxLength: 266 },
  {
    prefixes: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'xoxs-'],
    pattern: /xox[abprs]-[A-Za-z0-9-]{10,255}/,
    maxLength: 260,
  },
  { prefixes: ['AKIA', 'ASIA'], pattern: /(?:AKIA|ASIA)[0-9A-Z]{16}/, maxLength: 20 },
  { prefixes: ['AIza'], pattern: /AIza[0-9A-Za-z_-]{35}/, maxLength: 39 },
  {
    prefixes: ['eyJ'],
    pattern: new RegExp(
      `eyJ[A-Za-z0-9_-]{5,${JWT_HEADER_MAX}}\\.[A-Za-z0-9_-]{5,4096}\\.[A-Za-z0-9_-]{10,1000}`,
    ),
    maxLength: 3 + JWT_HEADER_MAX + 1 + 4096 + 1 + 1000,
    // A header without its dot is no JWT: do not hold a long base64 run for it.
    nextAlive: (text, at) => {
      const span = 4 + JWT_HEADER_MAX;
      const dot = text.indexOf('.', at + 3);
      if ((dot !== -1 && dot < at + span) || at + span > text.length) return at;
      return (dot === -1 ? text.length : dot) - span + 1;
    },
  },
];
const TOKEN_RUN = asciiClass(/[A-Za-z0-9_.-]/);
for (const prefix of TOKEN_FAMILIES.flatMap((f) => f.prefixes))
  if (![...prefix].every((_, i) => inClass(TOKEN_RUN, prefix, i)))
    throw new Error(`token prefix '${prefix}' has a character outside the token run`);

/** Each prefix's proper beginnings, longest first: a token may be arriving one of these. */
const partialPrefixes = new WeakMap<TokenFamily, string[][]>();
function partialsOf(family: TokenFamily): string[][] {
  let partials = partialPrefixes.get(family);
  if (!partials) {
    partials = family.prefixes.map((p) =>
      [...p]
        .map((_, k) => p.slice(0, k))
        .slice(1)
        .reverse(),
    );
    partialPrefixes.set(family, partials);
  }
  return partials;
}

/** Earliest start of a token of this family that more text could still change. */
function tokenHold(family: TokenFamily, starts: Uint8Array, text: string, from = 0): number {
  const n = text.length;
  const lo = Math.max(0, n - family.maxLength + 1, from);
  // A token that more text could change runs through token characters to the end of the text:
  // it starts in the trailing run, so only that run is searched (usually one word, not the
  // family's whole maxLength).
  const runStart = Math.max(lo, trailingRunHold(text, TOKEN_RUN, TOKEN_RUN, n - lo));
  // Prefixes are made of token characters (checked below), so a prefix or a beginning of one
  // lies inside the run: after a space, say, nothing is pending.
  const runLength = n - runStart;
  // Both a whole prefix and a beginning of one start with one of `starts`: none in the run, no hold.
  let i = runStart;
  while (i < n && !inClass(starts, text, i)) i++;
  if (i === n) return n;
  let hold = n;
  const partials = partialsOf(family);
  for (let k = 0; k < family.prefixes.length; k++) {
    const prefix = family.prefixes[k]!;
    for (const partial of partials[k]!)
      if (partial.length <= runLength && text.endsWith(partial)) {
        hold = Math.min(hold, n - partial.length);
        break;
      }
    for (let at = text.indexOf(prefix, runStart); at !== -1 && at < hold; ) {
      const next = family.nextAlive ? family.nextAlive(text, at) : at;
      if (next === at) hold = at;
      else at = text.indexOf(prefix, next);
    }
  }
  return hold;
}

function tokenMasker(family: TokenFamily): Masker {
  const re = new RegExp(`(?<![A-Za-z0-9_-])${family.pattern.source}`, 'g');
  // A token begins with its prefix, so with one of the prefixes' first characters.
  const starts = asciiClass(new RegExp(`[${family.prefixes.map((p) => p[0]).join('')}]`));
  return {
    kind: 'secret',
    maxMatchLength: family.maxLength,
    starts,
    findAll: (text, from, to) => scanCandidates(re, text, [], undefined, from, to, starts),
    holdFrom: (text, from) => tokenHold(family, starts, text, from),
  };
}

// The credential after "Bearer" (the scheme word stays visible). It must hold a digit, so prose
// such as "bearer authentication" is not a credential.
/** Most blanks between the word and the credential. */
const BEARER_BLANKS_MAX = 8;
const BEARER = `\\b[Bb][Ee][Aa][Rr][Ee][Rr][ \\t]{1,${BEARER_BLANKS_MAX}}`;
const BEARER_MAX = 2048;
const BEARER_RE = new RegExp(
  `(?<=${BEARER})(?=[A-Za-z._~+/=-]*\\d)[A-Za-z0-9._~+/=-]{8,${BEARER_MAX}}`,
  'g',
);
const BEARER_LOWER = [...'bearer'].map((c) => c.charCodeAt(0));
const BEARER_WORD_LENGTH = BEARER_LOWER.length;

/**
 * Whether the text just before `end` is BEARER: the word "bearer" (any case, not inside a word),
 * then 1 to BEARER_BLANKS_MAX blanks. What the pattern's lookbehind asks, without a slice and a
 * regex per chunk.
 */
function bearerEndsAt(text: string, end: number): boolean {
  let word = end;
  while (word > 0 && end - word < BEARER_BLANKS_MAX && isBlank(text.charCodeAt(word - 1))) word--;
  if (word === end || word < BEARER_WORD_LENGTH) return false;
  if (isBlank(text.charCodeAt(word - 1))) return false; // one blank too many
  for (let k = 0; k < BEARER_WORD_LENGTH; k++)
    if ((text.charCodeAt(word - BEARER_WORD_LENGTH + k) | 0x20) !== BEARER_LOWER[k]) return false;
  return word === BEARER_WORD_LENGTH || !inClass(WORD_CHAR, text, word - BEARER_WORD_LENGTH - 1);
}
const isBlank = (c: number) => c === 32 || c === 9;
const WORD_CHAR = asciiClass(/\w/);
const BEARER_WORD_RE = /[Bb][Ee][Aa][Rr][Ee][Rr]/g;
/** How far before a credential its "Bearer" may begin: the word and its blanks. */
const BEARER_LEAD = BEARER_WORD_LENGTH + BEARER_BLANKS_MAX;
const CREDENTIAL_RUN = asciiClass(/[A-Za-z0-9._~+/=-]/);

function bearerMasker(): Masker {
  return {
    kind: 'secret',
    maxMatchLength: BEARER_MAX,
    findAll(text, from = 0, to = text.length) {
      // No "bearer" that could lead a credential starting in [from, to): nothing to try.
      BEARER_WORD_RE.lastIndex = Math.max(0, from - BEARER_LEAD);
      const word = BEARER_WORD_RE.exec(text);
      if (word === null || word.index >= to) return [];
      return scanCandidates(BEARER_RE, text, [], undefined, from, to, CREDENTIAL_RUN);
    },
    starts: CREDENTIAL_RUN,
    holdFrom(text, from) {
      const start = trailingRunHold(text, CREDENTIAL_RUN, CREDENTIAL_RUN, BEARER_MAX, from);
      return start < text.length && bearerEndsAt(text, start) ? start : text.length;
    },
  };
}

const PEM_LABEL = '-----(?:BEGIN|END)[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----';
const PEM_BEGIN = PEM_LABEL.replace('(?:BEGIN|END)', 'BEGIN');
const PEM_END = PEM_LABEL.replace('(?:BEGIN|END)', 'END');
const PEM_BODY_MAX = 8192;
// Up to the END line; without one (a truncated answer), the base64 body that follows the header.
const PEM_RE = new RegExp(
  `${PEM_BEGIN}(?:[\\s\\S]{0,${PEM_BODY_MAX}}?${PEM_END}|[A-Za-z0-9+/=\\s]{0,${PEM_BODY_MAX}})`,
  'g',
);
const PEM_BEGIN_AT = new RegExp(`^${PEM_BEGIN}`);
const PEM_START = asciiClass(/-/);
const PEM_END_RE = new RegExp(PEM_END);
const PEM_HEADER_MAX = 10 + 40 + 11 + 6 + 5;
const PEM_MAX = 2 * PEM_HEADER_MAX + PEM_BODY_MAX;
/** "-----BEGIN" cut after each length: how a header may have begun at the end of the text. */
const PEM_OPENINGS = Array.from({ length: 11 }, (_, k) => '-----BEGIN'.slice(0, k));

/** Earliest "-----BEGIN …" that is (or may become) a private-key header still without its END. */
function pemHold(text: string, from = 0): number {
  const n = text.length;
  for (let p = text.indexOf('-----BEGIN', Math.max(from, n - PEM_MAX)); p !== -1; ) {
    const rest = text.slice(p);
    if (PEM_BEGIN_AT.test(rest)) {
      if (!PEM_END_RE.test(rest)) return p;
    } else if (rest.length < PEM_HEADER_MAX && /^[A-Z0-9 -]*$/.test(rest)) return p;
    p = text.indexOf('-----BEGIN', p + 1);
  }
  for (let k = Math.min(PEM_OPENINGS.length - 1, n); k > 0; k--)
    if (text.endsWith(PEM_OPENINGS[k]!)) return n - k;
  return n;
}

function pemMasker(): Masker {
  return {
    kind: 'secret',
    maxMatchLength: PEM_MAX,
    starts: PEM_START,
    findAll: (text, from, to) => scanCandidates(PEM_RE, text, [], undefined, from, to, PEM_START),
    holdFrom: pemHold,
  };
}

export function secretMaskers(): Masker[] {
  return [...TOKEN_FAMILIES.map(tokenMasker), bearerMasker(), pemMasker()];
}
