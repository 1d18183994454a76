/**
 * The built-in output maskers: email, phone, card, ip, secret. Each runs over folded text (see
 * normalize.ts) and knows which trailing text could still grow into one of its matches
 * (`holdFrom`), so the streaming masker holds back only that.
 */
import { ConfigError } from '../shared/config.ts';
import { ipAddressLength } from './ip-address.ts';
import { luhnValid } from './luhn.ts';
import {
  asciiClass,
  inClass,
  type Masker,
  type Span,
  scanCandidates,
  trailingRunHold,
} from './masker.ts';
import { secretMaskers } from './secret-maskers.ts';

// ---- email ------------------------------------------------------------------------------------
const LOCAL_MAX = 64;
const LABEL = '[A-Za-z0-9\\-]{1,63}';
const EMAIL_RE = new RegExp(
  `(?=([A-Za-z0-9._%+\\-]{1,${LOCAL_MAX}}))\\1@${LABEL}(?:\\.${LABEL}){0,6}\\.[A-Za-z]{2,24}(?![A-Za-z0-9\\-])`,
  'g',
);
// local part, '@', first label, six more labels, TLD, one character of lookahead
const EMAIL_MAX = LOCAL_MAX + 1 + 63 + 6 * 64 + 25 + 1;
const EMAIL_RUN = asciiClass(/[A-Za-z0-9._%+\-@]/);
/** A character of an address's local part: where a match may start. */
const LOCAL_CHAR = asciiClass(/[A-Za-z0-9._%+-]/);

function emailMasker(): Masker {
  return {
    kind: 'email',
    maxMatchLength: EMAIL_MAX,
    starts: LOCAL_CHAR,
    findAll(text, from = 0, to) {
      // Every match holds an '@' after its start.
      if (text.indexOf('@', from) === -1) return [];
      return scanCandidates(EMAIL_RE, text, [], undefined, from, to, LOCAL_CHAR);
    },
    holdFrom(text, from) {
      const start = trailingRunHold(text, EMAIL_RUN, LOCAL_CHAR, EMAIL_MAX, from);
      if (start === text.length) return start;
      // A domain cannot hold an '@', so a candidate whose '@' comes before the last one has ended;
      // and a local part ends at an '@' within LOCAL_MAX characters of its start.
      const at = text.lastIndexOf('@');
      return Math.max(start, (at < start ? text.length : at) - LOCAL_MAX);
    },
  };
}

// ---- spelled-out email ("john [at] example [dot] com") ------------------------------------------
// Only the bracketed forms ([at], (at), {at}, <at>, any case, a space inside or around allowed): a
// bare "at" or "dot" is ordinary English. The domain's dots may be spelled out the same way.
const OPEN = '[\\[({<]';
const CLOSE = '[\\])}>]';
const SPELLED_AT = ` ?${OPEN} ?[Aa][Tt] ?${CLOSE} ?`;
const SPELLED_DOT = `(?:\\.| ?${OPEN} ?[Dd][Oo][Tt] ?${CLOSE} ?)`;
const SPELLED_EMAIL_RE = new RegExp(
  `(?=([A-Za-z0-9._%+\\-]{1,${LOCAL_MAX}}))\\1${SPELLED_AT}${LABEL}(?:${SPELLED_DOT}${LABEL}){0,6}${SPELLED_DOT}[A-Za-z]{2,24}(?![A-Za-z0-9\\-])`,
  'g',
);
const SPELLED_TOKEN_MAX = 8; // " [ at ] "
// local part, [at], first label, six more labels, TLD, one character of lookahead
const SPELLED_MAX =
  LOCAL_MAX + SPELLED_TOKEN_MAX + 63 + 6 * (SPELLED_TOKEN_MAX + 63) + SPELLED_TOKEN_MAX + 25;
/** A complete [at] token, anywhere (global: callers set lastIndex). */
const SPELLED_AT_TOKEN = new RegExp(`${OPEN} ?[Aa][Tt] ?${CLOSE}`, 'g');
/** What may follow a complete [at] while the match is still open: labels, dots, a partial dot. */
const OPEN_DOMAIN = new RegExp(
  `^ ?(?:${LABEL}${SPELLED_DOT})*(?:${LABEL}(?: ?(?:${OPEN} ?(?:[Dd](?:[Oo](?:[Tt] ?)?)?)?)?)?)?$`,
);
/**
 * A trailing local part, perhaps with the start of an [at] after it: what `openLocalStart` finds
 * without running a regex (this one, anchored at the end, retried every start of a long run).
 */
export const OPEN_LOCAL = new RegExp(
  `[A-Za-z0-9._%+\\-]{1,${LOCAL_MAX}}(?: ?(?:${OPEN} ?(?:[Aa](?:[Tt] ?)?)?)?)?$`,
);
const AT_OPEN = asciiClass(new RegExp(OPEN));
/** What may follow the opening bracket of an [at] still being written. */
const AFTER_AT_OPEN = /^ ?(?:[Aa](?:[Tt] ?)?)?$/;

function spelledEmailMasker(): Masker {
  return {
    kind: 'email',
    maxMatchLength: SPELLED_MAX,
    starts: LOCAL_CHAR,
    findAll(text, from = 0, to) {
      // Every match holds an [at] token after its start.
      SPELLED_AT_TOKEN.lastIndex = from;
      if (!SPELLED_AT_TOKEN.test(text)) return [];
      return scanCandidates(SPELLED_EMAIL_RE, text, [], undefined, from, to, LOCAL_CHAR);
    },
    holdFrom(text, from = 0) {
      const floor = Math.max(from, text.length - SPELLED_MAX);
      // A match through the last complete [at] is still open while only domain text follows it.
      let at = -1;
      let afterAt = -1;
      SPELLED_AT_TOKEN.lastIndex = floor;
      for (let m = SPELLED_AT_TOKEN.exec(text); m; m = SPELLED_AT_TOKEN.exec(text)) {
        at = m.index;
        afterAt = SPELLED_AT_TOKEN.lastIndex;
      }
      if (at >= 0 && OPEN_DOMAIN.test(text.slice(afterAt)))
        return Math.max(floor, localStart(text, at));
      // Else only a local part at the very end, perhaps with the start of an [at] after it.
      const tail = Math.max(floor, text.length - LOCAL_MAX - SPELLED_TOKEN_MAX);
      return openLocalStart(text, tail);
    },
  };
}

/**
 * Where the first match of OPEN_LOCAL in `text.slice(tail)` begins (an index into `text`), or
 * `text.length` when there is none: the earliest start of a run of up to LOCAL_MAX local-part
 * characters that ends where the text ends, or where an ending that can begin an [at] begins (a
 * space, a bracket and the letters of "at" as far as they have come; a space is no local-part
 * character, nor a bracket, so each ending leaves one place for the run to end).
 */
export function openLocalStart(text: string, tail: number): number {
  const n = text.length;
  let best = localRunEndingAt(text, tail, n);
  if (text.charCodeAt(n - 1) === 32) best = Math.min(best, localRunEndingAt(text, tail, n - 1));
  // The last bracket among the final five characters, with at most " at " after it.
  for (let q = n - 1; q >= Math.max(tail, n - 5); q--) {
    if (!inClass(AT_OPEN, text, q)) continue;
    if (AFTER_AT_OPEN.test(text.slice(q + 1))) {
      const end = q > 0 && text.charCodeAt(q - 1) === 32 ? q - 1 : q;
      best = Math.min(best, localRunEndingAt(text, tail, end));
    }
    break;
  }
  return best;
}

/** Start of the local-part run (at most LOCAL_MAX, none before `tail`) ending at `end`, or the
 * text's length when no such run ends there. */
function localRunEndingAt(text: string, tail: number, end: number): number {
  if (end <= tail || !inClass(LOCAL_CHAR, text, end - 1)) return text.length;
  return trailingRunHold(text, LOCAL_CHAR, LOCAL_CHAR, LOCAL_MAX, tail, end);
}

/** The start of the local part before the [at] token at `at` (one space may come between). */
function localStart(text: string, at: number): number {
  const end = at > 0 && text[at - 1] === ' ' ? at - 1 : at;
  return trailingRunHold(text, LOCAL_CHAR, LOCAL_CHAR, LOCAL_MAX, 0, end);
}

// ---- phone ------------------------------------------------------------------------------------
// International numbers need a '+' (E.164: 8 to 15 digits); national ones the North American
// 3-3-4 shape. Bare digit runs are left alone: they are far more often ids, amounts or dates.
// One optional parenthesised group ("+49 (0)30 …"); digits one at a time, so a long digit run
// costs linear backtracking, not one try per way of cutting it into groups.
const INTL_PHONE_RE = /(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d){5,14}(?!\d)/g;
const NANP_PHONE_RE =
  /(?<![\w+.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d|[.-]\d)/g;
const PHONE_MAX = 4 + 7 + 14 * 2 + 2;
const PHONE_RUN = asciiClass(/[0-9+() .-]/);
const PHONE_START = asciiClass(/[0-9+(]/);

const countDigits = (s: string) => s.replace(/\D/g, '').length;

/** The longest prefix of the match, cut between digit groups, that holds 8 to 15 digits (E.164):
 * a number followed by more digits ("+44 20 7946 0958 2 times") is still a phone number. */
function intlPhoneLength(match: string): number {
  // Country code 1 is the North American plan: exactly 11 digits.
  const [min, max] = match.startsWith('+1') ? [11, 11] : [8, 15];
  for (let end = match.length; end > 0; end--) {
    if (end < match.length && /[\d)]/.test(match[end]!)) continue;
    const digits = countDigits(match.slice(0, end));
    if (digits < min) return 0;
    if (digits <= max && /[\d)]/.test(match[end - 1]!)) return end;
  }
  return 0;
}

function phoneMasker(): Masker {
  return {
    kind: 'phone',
    maxMatchLength: PHONE_MAX,
    starts: PHONE_START,
    findAll(text, from, to) {
      const out: Span[] = [];
      scanCandidates(INTL_PHONE_RE, text, out, intlPhoneLength, from, to, PHONE_START);
      return scanCandidates(NANP_PHONE_RE, text, out, undefined, from, to, PHONE_START);
    },
    holdFrom: (text, from) => trailingRunHold(text, PHONE_RUN, PHONE_START, PHONE_MAX, from),
  };
}

// ---- card -------------------------------------------------------------------------------------
// 13 to 19 digits with optional single spaces or dashes, issuer digit 2-6 (Mastercard, Amex, JCB,
// Diners, Visa, Discover, UnionPay), Luhn-valid. When the whole run fails Luhn, the longest
// prefix that ends at a separator and passes is the card (a card number followed by " 2 times").
const CARD_RE = /(?<!\d)[2-6](?:[ -]?\d){12,18}(?!\d)/g;
const CARD_MAX = 19 + 18 + 1;
const CARD_RUN = asciiClass(/[0-9 -]/);
const CARD_START = asciiClass(/[0-9]/);

function cardLength(run: string): number {
  for (let end = run.length; end > 0; end--) {
    if (end < run.length && !/[ -]/.test(run[end]!)) continue;
    const digits = run.slice(0, end).replace(/\D/g, '');
    if (digits.length < 13) return 0;
    if (digits.length <= 19 && luhnValid(digits)) return end;
  }
  return 0;
}

function cardMasker(): Masker {
  return {
    kind: 'card',
    maxMatchLength: CARD_MAX,
    starts: CARD_START,
    findAll: (text, from, to) =>
      scanCandidates(CARD_RE, text, [], cardLength, from, to, CARD_START),
    holdFrom: (text, from) => trailingRunHold(text, CARD_RUN, CARD_START, CARD_MAX, from),
  };
}

// ---- ip ---------------------------------------------------------------------------------------
// A maximal run of hex digits, dots and colons (a colon may precede it: "IP:10.0.0.1"), then
// validated; see ip-address.ts.
const IP_RE = /(?<![0-9A-Za-z_.])(?=([0-9A-Fa-f:][0-9A-Fa-f:.]{1,45}))\1(?![0-9A-Za-z_:.])/g;
const IP_MAX = 46 + 1;
const IP_RUN = asciiClass(/[0-9A-Fa-f:.]/);
const IP_START = asciiClass(/[0-9A-Fa-f:]/);
/** What IP_RE's lookbehind refuses before an address. */
const NOT_BEFORE_IP = asciiClass(/[0-9A-Za-z_.]/);

/**
 * Where in the trailing run an address could still be under way: a start IP_RE's lookbehind
 * allows (the run's first character after anything but a letter, digit, '_' or '.', or the
 * character after a ':' inside it), at most 46 characters from the end (from further back, the
 * 46 characters it captures are followed by another character of the run, and nothing matches).
 * A long hex run such as a hash is therefore not held back at all.
 */
function ipHoldFrom(text: string, from: number): number {
  const end = text.length;
  const run = trailingRunHold(text, IP_RUN, IP_START, IP_MAX, from);
  for (let p = Math.max(run, end - (IP_MAX - 1)); p < end; p++)
    if (inClass(IP_START, text, p) && (p === 0 || !inClass(NOT_BEFORE_IP, text, p - 1))) return p;
  return end;
}

function ipMasker(): Masker {
  return {
    kind: 'ip',
    maxMatchLength: IP_MAX,
    starts: IP_START,
    findAll: (text, from, to) =>
      scanCandidates(IP_RE, text, [], ipAddressLength, from, to, IP_START),
    holdFrom: ipHoldFrom,
  };
}

const BUILTIN: Record<string, () => Masker[]> = {
  email: () => [emailMasker(), spelledEmailMasker()],
  phone: () => [phoneMasker()],
  card: () => [cardMasker()],
  ip: () => [ipMasker()],
  secret: secretMaskers,
};
export const BUILTIN_MASKER_KINDS = Object.keys(BUILTIN);

/**
 * The built-in maskers, all of them or the listed kinds (an unknown kind is a ConfigError). A kind
 * may bring several maskers (`secret` has one per key family), each holding back only for itself.
 */
export function builtinMaskers(enabled: readonly string[] = BUILTIN_MASKER_KINDS): Masker[] {
  return enabled.flatMap((kind) => {
    const make = BUILTIN[kind];
    if (!make)
      throw new ConfigError(
        `unknown built-in masker '${kind}' (one of ${BUILTIN_MASKER_KINDS.join(', ')})`,
      );
    return make();
  });
}
