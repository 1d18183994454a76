/**
 * Input filters: a request whose text matches a deny rule is refused (400, code `content_filter`)
 * before it reaches a backend. Rules match the normalised text (normalize.ts), so full-width,
 * zero-width, accented or Cyrillic look-alike spellings of a phrase are caught too.
 */
import { ConfigError } from '../shared/config.ts';
import { HttpError } from '../shared/errors.ts';
import { DEFAULT_DENY_RULES, type DenyRule } from './injection-rules.ts';
import { normalizeForMatching } from './normalize.ts';
import { extractRequestText } from './request-text.ts';

export { DEFAULT_DENY_RULES } from './injection-rules.ts';
export { normalizeForMatching } from './normalize.ts';
export { extractRequestText, type RequestText } from './request-text.ts';

export interface FilterHit {
  /** The rule that matched, named in the error message. */
  rule: string;
  /** Label for `edge_filtered_total{kind}`: `prompt_injection` or the configured kind. */
  kind: string;
}

export interface Filter {
  name: string;
  check(text: string): FilterHit | null;
}

/** A configured deny rule (EDGE_CONFIG `filters.deny`). */
export interface DenyRuleSpec {
  name: string;
  /** Matched against normalised text: lower case, single spaces; `i` is implied. */
  pattern: string;
  /** Any of `i`, `m`, `s`, `u`. */
  flags?: string;
  /** Defaults to `custom`. */
  kind?: string;
}

export interface FilterConfig {
  /** The built-in prompt-injection deny set; on unless switched off. */
  denyDefaults?: boolean;
  deny?: DenyRuleSpec[];
}

export interface RequestFilterHit extends FilterHit {
  param: 'messages' | 'prompt';
}

// Every filter of a request sees the same text in turn; normalise it once.
let lastText: string | undefined;
let lastNormalized = '';
function normalizedOnce(text: string): string {
  if (text !== lastText) {
    lastNormalized = normalizeForMatching(text);
    lastText = text;
  }
  return lastNormalized;
}

export function denyFilter(rule: DenyRule): Filter {
  const hit: FilterHit = { rule: rule.name, kind: rule.kind };
  return {
    name: rule.name,
    check: (text) => (rule.pattern.test(normalizedOnce(text)) ? { ...hit } : null),
  };
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function compileRule(spec: DenyRuleSpec): DenyRule {
  const label = `deny rule '${spec?.name}'`;
  if (typeof spec?.name !== 'string' || !NAME_RE.test(spec.name))
    throw new ConfigError(`${label}: name must match ${NAME_RE}`);
  const flags = spec.flags ?? '';
  if (typeof flags !== 'string' || !/^[imsu]*$/.test(flags))
    throw new ConfigError(`${label}: flags '${flags}' may only use i, m, s, u`);
  const kind = spec.kind ?? 'custom';
  if (typeof kind !== 'string' || !NAME_RE.test(kind))
    throw new ConfigError(`${label}: kind must match ${NAME_RE}`);
  if (typeof spec.pattern !== 'string' || spec.pattern === '')
    throw new ConfigError(`${label}: pattern must be a non-empty string`);
  try {
    const pattern = new RegExp(spec.pattern, flags.includes('i') ? flags : `${flags}i`);
    return { name: spec.name, kind, pattern };
  } catch (err) {
    throw new ConfigError(`${label}: invalid pattern /${spec.pattern}/: ${(err as Error).message}`);
  }
}

/** The filters in force: the built-in deny set (unless `denyDefaults: false`), then config's. */
export function buildFilters(config: FilterConfig = {}): Filter[] {
  const rules = [...(config.denyDefaults === false ? [] : DEFAULT_DENY_RULES)];
  for (const spec of config.deny ?? []) {
    const rule = compileRule(spec);
    if (rules.some((r) => r.name === rule.name))
      throw new ConfigError(`deny rule '${rule.name}' is defined twice`);
    rules.push(rule);
  }
  return rules.map(denyFilter);
}

/** The first filter hit over all of a request's text, or null when the request may pass. */
export function checkRequest(body: unknown, filters: readonly Filter[]): RequestFilterHit | null {
  if (filters.length === 0) return null;
  for (const { param, text } of extractRequestText(body)) {
    for (const filter of filters) {
      const hit = filter.check(text);
      if (hit) return { ...hit, param };
    }
  }
  return null;
}

/** The 400 the edge answers for a filtered request. */
export function contentFilterError(hit: RequestFilterHit): HttpError {
  return new HttpError(
    400,
    'invalid_request_error',
    'content_filter',
    `The request was rejected by the input filter rule '${hit.rule}'.`,
    hit.param,
  );
}
