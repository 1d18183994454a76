/**
 * The built-in output maskers: email, phone, card, ip, secret. Each runs over folded text (see
 * normalize.ts) and knows which trailing text could still grow into one of its matches
 * (`holdFrom`), so the streaming masker holds back only that.
 */
import { ConfigError } from '../shared/config.ts';
import { ipAddressLength } from './ip-address.ts';
import { luhnValid } from './luhn.ts';
import { asciiClass, type Masker, type Span, scanCandidates, trailingRunHold } from './masker.ts';

// ---- email ------------------------------------------------------------------------------------
const LOCAL_MAX = 64;
const LABEL = '[A-Za-z0-9\\-]{1,63}';
const EMAIL_RE = new RegExp(
  `[A-Za-z0-9._%+\\-]{1,${LOCAL_MAX}}@${LABEL}(?:\\.${LABEL}){0,6}\\.[A-Za-z]{2,24}(?![A-Za-z0-9\\-])`,
  'g',
);
// local part, '@', first label, six more labels, TLD, one character of lookahead
const EMAIL_MAX = LOCAL_MAX + 1 + 63 + 6 * 64 + 25 + 1;
const EMAIL_RUN = asciiClass(/[A-Za-z0-9._%+\-@]/);
const EMAIL_START = asciiClass(/[A-Za-z0-9._%+-]/);

function emailMasker(): Masker {
  return {
    kind: 'email',
    maxMatchLength: EMAIL_MAX,
    findAll: (text) => scanCandidates(EMAIL_RE, text, []),
    holdFrom(text) {
      const start = trailingRunHold(text, EMAIL_RUN, EMAIL_START, EMAIL_MAX);
      if (start === text.length) return start;
      // A candidate needs an '@' within LOCAL_MAX characters of its start.
      const at = text.indexOf('@', start);
      return Math.max(start, (at === -1 ? text.length : at) - LOCAL_MAX);
    },
  };
}

// ---- phone ------------------------------------------------------------------------------------
// International numbers need a '+' (E.164: 8 to 15 digits); national ones the North American
// 3-3-4 shape. Bare digit runs are left alone: they are far more often ids, amounts or dates.
const INTL_PHONE_RE = /(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,6}(?!\d)/g;
const NANP_PHONE_RE =
  /(?<![\w+.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d|[.-]\d)/g;
const PHONE_MAX = 4 + 6 * 7 + 2;
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
    findAll(text) {
      const out: Span[] = [];
      scanCandidates(INTL_PHONE_RE, text, out, intlPhoneLength);
      return scanCandidates(NANP_PHONE_RE, text, out);
    },
    holdFrom: (text) => trailingRunHold(text, PHONE_RUN, PHONE_START, PHONE_MAX),
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
    findAll: (text) => scanCandidates(CARD_RE, text, [], cardLength),
    holdFrom: (text) => trailingRunHold(text, CARD_RUN, CARD_START, CARD_MAX),
  };
}

// ---- ip ---------------------------------------------------------------------------------------
// A maximal run of hex digits, dots and colons (a colon may precede it: "IP:10.0.0.1"), then
// validated; see ip-address.ts.
const IP_RE = /(?<![0-9A-Za-z_.])[0-9A-Fa-f:][0-9A-Fa-f:.]{1,45}(?![0-9A-Za-z_:.])/g;
const IP_MAX = 46 + 1;
const IP_RUN = asciiClass(/[0-9A-Fa-f:.]/);
const IP_START = asciiClass(/[0-9A-Fa-f:]/);

function ipMasker(): Masker {
  return {
    kind: 'ip',
    maxMatchLength: IP_MAX,
    findAll: (text) => scanCandidates(IP_RE, text, [], ipAddressLength),
    holdFrom: (text) => trailingRunHold(text, IP_RUN, IP_START, IP_MAX),
  };
}

// ---- secret -----------------------------------------------------------------------------------
const NOT_AFTER_TOKEN = '(?<![A-Za-z0-9_-])';
const TOKEN_RES: RegExp[] = [
  /sk-[A-Za-z0-9_-]{20,300}/, // OpenAI / Anthropic style, incl. sk-proj-…, sk-ant-…
  /gh[pousr]_[A-Za-z0-9]{30,255}/, // GitHub tokens
  /github_pat_[A-Za-z0-9_]{22,255}/, // GitHub fine-grained tokens
  /xox[abprs]-[A-Za-z0-9-]{10,255}/, // Slack
  /(?:AKIA|ASIA)[0-9A-Z]{16}/, // AWS access key ids
  /AIza[0-9A-Za-z_-]{35}/, // Google API keys
  /eyJ[A-Za-z0-9_-]{5,1000}\.[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{10,1000}/, // JWTs
].map((re) => new RegExp(NOT_AFTER_TOKEN + re.source, 'g'));
const JWT_MAX = 3 + 1000 + 1 + 4096 + 1 + 1000;
/** Literal prefixes of the token patterns: where a pending token could start. */
const TOKEN_PREFIXES = [
  'sk-',
  'ghp_',
  'gho_',
  'ghu_',
  'ghs_',
  'ghr_',
  'github_pat_',
  'xoxa-',
  'xoxb-',
  'xoxp-',
  'xoxr-',
  'xoxs-',
  'AKIA',
  'ASIA',
  'AIza',
  'eyJ',
];
const TOKEN_PREFIX_RE = /sk-|gh[pousr]_|github_pat_|xox[abprs]-|AKIA|ASIA|AIza|eyJ/g;

// The credential after "Bearer" (the scheme word stays visible); it must hold a digit, so prose
// such as "bearer authentication" is not a token.
const BEARER_RE =
  /(?<=\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]{1,8})(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,2048}/g;
const BEARER_BEFORE_RE = /\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]{1,8}$/;
const TOKEN_RUN = asciiClass(/[A-Za-z0-9._~+/=-]/);

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
const PEM_END_RE = new RegExp(PEM_END);
const PEM_HEADER_MAX = 10 + 40 + 11 + 6 + 5;
const PEM_MAX = 2 * PEM_HEADER_MAX + PEM_BODY_MAX;
const SECRET_MAX = Math.max(PEM_MAX, JWT_MAX) + 1;

/** Earliest position where a token (prefixed or after "Bearer") could still be growing. */
function tokenHold(text: string): number {
  const n = text.length;
  const runStart = trailingRunHold(text, TOKEN_RUN, TOKEN_RUN, JWT_MAX);
  if (runStart === n) return n;
  if (BEARER_BEFORE_RE.test(text.slice(Math.max(0, runStart - 20), runStart))) return runStart;
  TOKEN_PREFIX_RE.lastIndex = runStart;
  const prefixed = TOKEN_PREFIX_RE.exec(text);
  if (prefixed) return prefixed.index;
  for (let k = Math.min(10, n - runStart); k > 0; k--) {
    const tail = text.slice(n - k);
    if (TOKEN_PREFIXES.some((p) => p.startsWith(tail))) return n - k;
  }
  return n;
}

/** Earliest "-----BEGIN …" that could still be (or become) a private-key block without its END. */
function pemHold(text: string): number {
  const from = Math.max(0, text.length - PEM_MAX);
  for (let p = text.indexOf('-----BEGIN', from); p !== -1; p = text.indexOf('-----BEGIN', p + 1)) {
    const rest = text.slice(p);
    if (PEM_BEGIN_AT.test(rest)) {
      if (!PEM_END_RE.test(rest)) return p;
    } else if (rest.length < PEM_HEADER_MAX && /^[A-Z0-9 -]*$/.test(rest)) return p;
  }
  for (let k = Math.min(10, text.length); k > 0; k--)
    if ('-----BEGIN'.startsWith(text.slice(text.length - k))) return text.length - k;
  return text.length;
}

function secretMasker(): Masker {
  return {
    kind: 'secret',
    maxMatchLength: SECRET_MAX,
    findAll(text) {
      const out: Span[] = [];
      for (const re of TOKEN_RES) scanCandidates(re, text, out);
      scanCandidates(BEARER_RE, text, out);
      return scanCandidates(PEM_RE, text, out);
    },
    holdFrom: (text) => Math.min(tokenHold(text), pemHold(text)),
  };
}

const BUILTIN: Record<string, () => Masker> = {
  email: emailMasker,
  phone: phoneMasker,
  card: cardMasker,
  ip: ipMasker,
  secret: secretMasker,
};
export const BUILTIN_MASKER_KINDS = Object.keys(BUILTIN);

/** The built-in maskers, all of them or the listed kinds (an unknown kind is a ConfigError). */
export function builtinMaskers(enabled: readonly string[] = BUILTIN_MASKER_KINDS): Masker[] {
  return enabled.map((kind) => {
    const make = BUILTIN[kind];
    if (!make)
      throw new ConfigError(
        `unknown built-in masker '${kind}' (one of ${BUILTIN_MASKER_KINDS.join(', ')})`,
      );
    return make();
  });
}
