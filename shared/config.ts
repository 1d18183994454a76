/**
 * Typed options from flags and environment, parsed and validated once at startup. Every option is
 * declared once (type, default, env var, help); unknown flags and bad values fail loudly naming the
 * flag. Only config code reads `process.env`: callers pass the env in.
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Kind = 'string' | 'int' | 'number' | 'bool' | 'list' | 'duration';
interface BaseSpec<K extends Kind> {
  type: K;
  help: string;
  env?: string;
  /** Placeholder shown in --help, e.g. DIR. */
  meta?: string;
}
export interface StringSpec extends BaseSpec<'string'> {
  default?: string;
  choices?: readonly string[];
}
export interface NumberSpec extends BaseSpec<'int' | 'number'> {
  default?: number;
  min?: number;
  max?: number;
}
export interface BoolSpec extends BaseSpec<'bool'> {
  default?: boolean;
}
export interface ListSpec extends BaseSpec<'list'> {
  default?: string[];
}
/** Durations like `90s`, `15m`, `1h`, `2d`; parsed to seconds. */
export interface DurationSpec extends BaseSpec<'duration'> {
  default?: number;
}
export type OptionSpec = StringSpec | NumberSpec | BoolSpec | ListSpec | DurationSpec;
export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends StringSpec
  ? string
  : S extends NumberSpec
    ? number
    : S extends BoolSpec
      ? boolean
      : S extends ListSpec
        ? string[]
        : number;
type HasDefault<S> = S extends { default: unknown } ? true : false;
export type Options<T extends OptionSpecs> = {
  [K in keyof T]: HasDefault<T[K]> extends true ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`invalid duration '${text}' (use e.g. 30s, 15m, 1h, 7d)`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}

function convert(flag: string, spec: OptionSpec, raw: string): unknown {
  switch (spec.type) {
    case 'string':
      if (spec.choices && !spec.choices.includes(raw))
        throw new ConfigError(`${flag}: '${raw}' is not one of ${spec.choices.join(', ')}`);
      return raw;
    case 'int':
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n)))
        throw new ConfigError(
          `${flag}: '${raw}' is not ${spec.type === 'int' ? 'an integer' : 'a number'}`,
        );
      if (spec.min !== undefined && n < spec.min)
        throw new ConfigError(`${flag}: ${n} is below ${spec.min}`);
      if (spec.max !== undefined && n > spec.max)
        throw new ConfigError(`${flag}: ${n} is above ${spec.max}`);
      return n;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${flag}: '${raw}' is not a boolean`);
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'duration':
      try {
        return parseDuration(raw);
      } catch (e) {
        throw new ConfigError(`${flag}: ${(e as Error).message}`);
      }
  }
}

/**
 * Parses `argv` (flags only: `--name value`, `--name=value`, bare `--flag` for booleans) over env
 * and defaults. Precedence: flag > env > default. Positional arguments are rejected.
 */
export function parseOptions<T extends OptionSpecs>(
  specs: T,
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
): Options<T> {
  const byFlag = new Map(Object.keys(specs).map((k) => [`--${kebab(k)}`, k]));
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') out[key] = convert(spec.env!, spec, fromEnv);
    else if (spec.default !== undefined) out[key] = spec.default;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const negated = byFlag.get(flag.replace(/^--no-/, '--'));
    if (flag.startsWith('--no-') && eq === -1 && negated && specs[negated]!.type === 'bool') {
      out[negated] = false; // vLLM's spelling for turning a default-on switch off
      continue;
    }
    const key = byFlag.get(flag);
    if (!key) throw new ConfigError(`unknown option ${flag} (see --help)`);
    const spec = specs[key]!;
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else if (spec.type === 'bool' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')))
      raw = 'true';
    else {
      const next = argv[++i];
      if (next === undefined) throw new ConfigError(`${flag} needs a value`);
      raw = next;
    }
    out[key] = convert(flag, spec, raw);
  }
  return out as Options<T>;
}

/** The options table for `--help`. */
export function formatHelp(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([key, spec]) => {
    const meta = spec.type === 'bool' ? '' : ` ${spec.meta ?? spec.type.toUpperCase()}`;
    const negation = spec.type === 'bool' && spec.default === true ? ` | --no-${kebab(key)}` : '';
    const left = `  --${kebab(key)}${meta}${negation}`;
    const extras: string[] = [];
    if (spec.default !== undefined && spec.default !== '')
      extras.push(
        `default: ${Array.isArray(spec.default) ? spec.default.join(',') : spec.default}`,
      );
    if (spec.env) extras.push(`env: ${spec.env}`);
    if ('choices' in spec && spec.choices) extras.push(`one of: ${spec.choices.join(', ')}`);
    return [left, spec.help + (extras.length ? ` (${extras.join('; ')})` : '')] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => l.padEnd(width) + r).join('\n');
}
