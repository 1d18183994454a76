/** Maskers configured as regular expressions (EDGE_CONFIG `maskers`). */
import { ConfigError } from '../shared/config.ts';
import { type Masker, scanCandidates } from './masker.ts';

export interface RegexMaskerSpec {
  /** Shown in the output as `[REDACTED:<kind>]` and in `edge_masked_total{kind}`. */
  kind: string;
  pattern: string;
  /** Any of `i`, `m`, `s`, `u`; `g` is implied. */
  flags?: string;
  /**
   * Longest text a match can span, plus one character of lookahead such as `\b`. Longer matches
   * are masked in pieces of this size; the stream holds this many characters back.
   */
  maxLength: number;
}

const KIND_RE = /^[a-z][a-z0-9_-]{0,31}$/i;
const MAX_LENGTH_LIMIT = 65_536;

/**
 * A masker from config, validated: a bad kind, flag, length or pattern (one that does not
 * compile, or that matches the empty string) is a ConfigError naming the masker. Patterns see
 * folded text (normalize.ts): compatibility forms as ASCII, zero-width characters and marks
 * removed, any script's digits as ASCII digits, Unicode dashes as '-', ideographic full stops as
 * '.', and the Cyrillic/Greek look-alike letters as their Latin twins.
 */
export function regexMasker(spec: RegexMaskerSpec): Masker {
  const name = `masker '${spec?.kind}'`;
  if (typeof spec?.kind !== 'string' || !KIND_RE.test(spec.kind))
    throw new ConfigError(`${name}: kind must match ${KIND_RE}`);
  const flags = spec.flags ?? '';
  if (typeof flags !== 'string' || !/^[imsu]*$/.test(flags))
    throw new ConfigError(`${name}: flags '${flags}' may only use i, m, s, u`);
  const maxLength = spec.maxLength;
  if (!Number.isInteger(maxLength) || maxLength < 1 || maxLength > MAX_LENGTH_LIMIT)
    throw new ConfigError(`${name}: maxLength must be an integer in 1..${MAX_LENGTH_LIMIT}`);
  if (typeof spec.pattern !== 'string' || spec.pattern === '')
    throw new ConfigError(`${name}: pattern must be a non-empty string`);
  let re: RegExp;
  try {
    re = new RegExp(spec.pattern, `${flags}g`);
  } catch (err) {
    throw new ConfigError(`${name}: invalid pattern /${spec.pattern}/: ${(err as Error).message}`);
  }
  if (re.test('')) throw new ConfigError(`${name}: pattern /${spec.pattern}/ matches empty text`);
  return {
    kind: spec.kind,
    maxMatchLength: maxLength,
    findAll: (text, from, to) =>
      scanCandidates(re, text, [], (m) => Math.min(m.length, maxLength), from, to),
  };
}
