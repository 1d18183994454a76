/**
 * The edge's one typed config. Sources, lowest to highest precedence: defaults, the EDGE_CONFIG
 * JSON document (filters, maskers, limits, cache rules, api keys, routing tuning), environment
 * variables (Node) or `env` bindings (Workers), CLI flags. Unknown JSON keys fail loudly, naming
 * the key. This is the only edge module that sees the environment; callers hand it in.
 */
import { ConfigError } from '../shared/config.ts';
import { isDiscoverySpec, parseBackendSpec } from './backend-spec.ts';

export interface RateLimits {
  requestsPerMinute: number;
  tokensPerMinute: number;
}

export interface ApiKeyEntry {
  /** sha256 of the key, lowercase hex: the key itself never sits in config. */
  sha256: string;
  sub: string;
  limits: RateLimits;
}

export interface AuthConfig {
  jwtSecret: string | undefined;
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  clockToleranceSeconds: number;
  maxTokenBytes: number;
  jwksTimeoutMs: number;
  jwksCooldownMs: number;
  jwksCacheMaxAgeMs: number;
  apiKeys: ApiKeyEntry[];
}

export interface RoutingConfig {
  urls: string[];
  apiKey: string | undefined;
  healthCheckIntervalMs: number;
  healthCheckTimeoutMs: number;
  unhealthyAfterFailures: number;
  connectTimeoutMs: number;
  /** Time to response headers; for a non-streamed completion that is the whole generation. */
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  maxAttempts: number;
  maxOutstandingPerBackend: number;
  affinityPrefixChars: number;
  /** The preferred backend keeps a conversation while it has at most this many more in flight. */
  affinitySlack: number;
  /**
   * Let every caller's prompts share the backends' prefix cache. Off: the edge salts each request
   * with its caller (`cache_salt`), so no caller can tell from latency what another one sent.
   */
  sharedPrefixCache: boolean;
  circuitBreakAfterFailures: number;
  circuitOpenMs: number;
}

export interface InputLimits {
  maxBodyBytes: number;
  maxMessages: number;
  maxChars: number;
}

export interface CacheConfig {
  enabled: boolean;
  maxBytes: number;
  maxEntryBytes: number;
  ttlSeconds: number;
  shared: boolean;
  onlyDeterministic: boolean;
}

export interface FilterConfig {
  denyDefaults: boolean;
  /** Passed as-is to `buildFilters`, which validates each entry. */
  deny: unknown[];
}

export interface MaskerConfig {
  /** All built-in maskers (true), none (false), or the listed kinds. */
  builtins: boolean | string[];
  /** Passed as-is to `regexMasker`. */
  custom: unknown[];
}

export interface EdgeConfig {
  auth: AuthConfig;
  routing: RoutingConfig;
  input: InputLimits;
  limits: RateLimits;
  cache: CacheConfig;
  filters: FilterConfig;
  maskers: MaskerConfig;
  /** Request logs carry no prompt text unless this is on. */
  logPrompts: boolean;
}

export const DEFAULT_LIMITS: RateLimits = { requestsPerMinute: 600, tokensPerMinute: 1_000_000 };

export function defaultConfig(): EdgeConfig {
  return {
    auth: {
      jwtSecret: undefined,
      jwksUrl: undefined,
      issuer: undefined,
      audience: undefined,
      clockToleranceSeconds: 30,
      maxTokenBytes: 8192,
      jwksTimeoutMs: 3000,
      jwksCooldownMs: 30_000,
      jwksCacheMaxAgeMs: 600_000,
      apiKeys: [],
    },
    routing: {
      urls: [],
      apiKey: undefined,
      healthCheckIntervalMs: 5000,
      healthCheckTimeoutMs: 2000,
      unhealthyAfterFailures: 2,
      connectTimeoutMs: 5000,
      firstByteTimeoutMs: 300_000,
      idleTimeoutMs: 60_000,
      maxAttempts: 3,
      maxOutstandingPerBackend: 1024,
      affinityPrefixChars: 512,
      affinitySlack: 4,
      sharedPrefixCache: false,
      circuitBreakAfterFailures: 5,
      circuitOpenMs: 10_000,
    },
    input: { maxBodyBytes: 4 * 1024 * 1024, maxMessages: 256, maxChars: 400_000 },
    limits: { ...DEFAULT_LIMITS },
    cache: {
      enabled: true,
      maxBytes: 64 * 1024 * 1024,
      maxEntryBytes: 1024 * 1024,
      ttlSeconds: 300,
      shared: false,
      onlyDeterministic: true,
    },
    filters: { denyDefaults: true, deny: [] },
    maskers: { builtins: true, custom: [] },
    logPrompts: false,
  };
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Copies `from` over `into` field by field, checking each value's type against the default's. */
function merge(into: Json, from: unknown, path: string, special: Record<string, Merger>): void {
  if (!isObject(from)) throw new ConfigError(`${path || 'EDGE_CONFIG'}: expected an object`);
  for (const [key, value] of Object.entries(from)) {
    const name = path ? `${path}.${key}` : key;
    const handler = special[name];
    if (handler) {
      into[key] = handler(value, name);
      continue;
    }
    if (!(key in into)) throw new ConfigError(`EDGE_CONFIG: unknown key '${name}'`);
    const current = into[key];
    if (isObject(current)) merge(current, value, name, special);
    else into[key] = checkScalar(current, value, name);
  }
}

type Merger = (value: unknown, name: string) => unknown;

function checkScalar(current: unknown, value: unknown, name: string): unknown {
  const expected =
    current === undefined ? 'string' : Array.isArray(current) ? 'array' : typeof current;
  const actual = Array.isArray(value) ? 'array' : typeof value;
  if (expected !== actual) throw new ConfigError(`EDGE_CONFIG: '${name}' must be a ${expected}`);
  if (typeof value === 'number' && (!Number.isFinite(value) || value < 0))
    throw new ConfigError(`EDGE_CONFIG: '${name}' must be a non-negative number`);
  return value;
}

function parseApiKeys(value: unknown, name: string): ApiKeyEntry[] {
  if (!Array.isArray(value)) throw new ConfigError(`EDGE_CONFIG: '${name}' must be an array`);
  return value.map((entry, i) => {
    const at = `${name}[${i}]`;
    const parsed = { sha256: '', sub: '', limits: { ...DEFAULT_LIMITS } } as unknown as Json;
    merge(parsed, entry, at, {});
    const key = parsed as unknown as ApiKeyEntry;
    if (!/^[0-9a-f]{64}$/.test(key.sha256))
      throw new ConfigError(`EDGE_CONFIG: '${at}.sha256' must be 64 lowercase hex digits`);
    if (!key.sub) throw new ConfigError(`EDGE_CONFIG: '${at}.sub' is required`);
    return key;
  });
}

function parseBuiltins(value: unknown, name: string): boolean | string[] {
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  throw new ConfigError(`EDGE_CONFIG: '${name}' must be a boolean or an array of masker kinds`);
}

/** Applies an EDGE_CONFIG JSON document (text) onto a config. */
export function applyConfigJson(config: EdgeConfig, text: string, source = 'EDGE_CONFIG'): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: invalid JSON (${(e as Error).message})`);
  }
  if (isObject(doc) && 'limits' in doc && isObject(doc.limits)) {
    // `limits` holds both per-sub rate limits and input bounds: one section for the operator.
    const { maxBodyBytes, maxMessages, maxChars, ...rate } = doc.limits;
    const input = { maxBodyBytes, maxMessages, maxChars };
    for (const [k, v] of Object.entries(input)) if (v === undefined) delete (input as Json)[k];
    doc = { ...doc, limits: rate, input: { ...(isObject(doc.input) ? doc.input : {}), ...input } };
  }
  if (isObject(doc) && 'apiKeys' in doc) {
    const { apiKeys, ...rest } = doc;
    config.auth.apiKeys = parseApiKeys(apiKeys, 'apiKeys');
    doc = rest;
  }
  merge(config as unknown as Json, doc, '', { 'maskers.builtins': parseBuiltins });
}

/** Environment variables (or Workers `env` bindings) that the edge reads. */
export interface EdgeEnv {
  JWT_SECRET?: string;
  JWT_JWKS_URL?: string;
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  BACKEND_URLS?: string;
  BACKEND_API_KEY?: string;
}

export function applyEnv(config: EdgeConfig, env: EdgeEnv): void {
  const pick = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);
  config.auth.jwtSecret = pick(env.JWT_SECRET) ?? config.auth.jwtSecret;
  config.auth.jwksUrl = pick(env.JWT_JWKS_URL) ?? config.auth.jwksUrl;
  config.auth.issuer = pick(env.JWT_ISSUER) ?? config.auth.issuer;
  config.auth.audience = pick(env.JWT_AUDIENCE) ?? config.auth.audience;
  config.routing.apiKey = pick(env.BACKEND_API_KEY) ?? config.routing.apiKey;
  const urls = pick(env.BACKEND_URLS);
  if (urls) config.routing.urls = splitUrls(urls);
}

export function splitUrls(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
}

/** Checks the finished config; returns it for chaining. */
export function validateConfig(config: EdgeConfig): EdgeConfig {
  for (const url of config.routing.urls) {
    if (isDiscoverySpec(url)) {
      checkDiscoverySpec(url);
      continue;
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`backend URL '${url}' is not a valid URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new ConfigError(`backend URL '${url}' must be http(s)`);
  }
  if (config.auth.jwksUrl) {
    try {
      new URL(config.auth.jwksUrl);
    } catch {
      throw new ConfigError(`JWT_JWKS_URL '${config.auth.jwksUrl}' is not a valid URL`);
    }
  }
  const { jwtSecret, jwksUrl, apiKeys } = config.auth;
  if (!jwtSecret && !jwksUrl && apiKeys.length === 0)
    throw new ConfigError('no authentication configured: set JWT_SECRET, JWT_JWKS_URL or apiKeys');
  if (config.routing.maxAttempts < 1) throw new ConfigError('routing.maxAttempts must be >= 1');
  return config;
}

function checkDiscoverySpec(spec: string): void {
  try {
    parseBackendSpec(spec);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Builds the config from an EDGE_CONFIG document (already read) and env: the Workers path. */
export function configFromEnv(env: EdgeEnv, configJson?: string): EdgeConfig {
  const config = defaultConfig();
  if (configJson?.trim()) applyConfigJson(config, configJson);
  applyEnv(config, env);
  const spec = config.routing.urls.find(isDiscoverySpec);
  if (spec)
    throw new ConfigError(
      `backend '${spec}': DNS discovery needs the Node edge (Workers has no DNS API); list URLs`,
    );
  return validateConfig(config);
}
