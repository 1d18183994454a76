/**
 * Sampling fields of an OpenAI/vLLM request → one validated `SamplingParams`. Validation happens
 * here once, at the engine's edge, so nothing downstream re-checks ranges; a bad field is a 400
 * naming that field.
 */
import { badRequest } from '../../shared/errors.ts';
import type { SamplingSpec } from '../runner/runner.ts';

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** 0 = off (the request's -1 or 0). */
  topK: number;
  minP: number;
  seed: number | null;
  /** Stop strings: matched by the server on detokenized text (the engine works on ids). */
  stop: string[];
  stopTokenIds: number[];
  ignoreEos: boolean;
  minTokens: number;
  /** null: generate until the context (maxModelLen) is full. */
  maxTokens: number | null;
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionPenalty: number;
  /** Choices per request; the server fans these out into n engine requests. */
  n: number;
  /** null: no logprobs; 0: the chosen token's only; N: plus the top N alternatives. */
  logprobs: number | null;
  /** Lower is served first (vLLM's convention). */
  priority: number;
}

export type RequestApi = 'chat' | 'completion';

export const MAX_STOP_SEQUENCES = 16;
export const MAX_LOGPROBS = 20;
export const MAX_N = 16;
/** OpenAI's completions endpoint generates 16 tokens when max_tokens is absent; chat fills the context. */
const COMPLETION_DEFAULT_MAX_TOKENS = 16;
/** Below this a temperature is greedy (sampling at such a temperature is numerically unstable). */
const GREEDY_TEMPERATURE = 1e-5;

type Body = Record<string, unknown>;

/** Reads `body[name]`, treating null like absent (OpenAI SDKs send explicit nulls). */
const present = (body: Body, name: string): boolean =>
  body[name] !== undefined && body[name] !== null;

function number(
  body: Body,
  name: string,
  fallback: number,
  min: number,
  max: number,
  openMin = false,
): number {
  if (!present(body, name)) return fallback;
  const v = body[name];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw badRequest(`'${name}' must be a number.`, name);
  const low = openMin ? v <= min : v < min;
  if (low || v > max) {
    const range = `${openMin ? '(' : '['}${min}, ${max}]`;
    throw badRequest(`'${name}' must be in ${range}, got ${v}.`, name);
  }
  return v;
}

function integer(body: Body, name: string, fallback: number, min: number, max: number): number {
  if (!present(body, name)) return fallback;
  const v = body[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw badRequest(`'${name}' must be an integer.`, name);
  if (v < min || v > max)
    throw badRequest(`'${name}' must be in [${min}, ${max}], got ${v}.`, name);
  return v;
}

function boolean(body: Body, name: string, fallback: boolean): boolean {
  if (!present(body, name)) return fallback;
  const v = body[name];
  if (typeof v !== 'boolean') throw badRequest(`'${name}' must be a boolean.`, name);
  return v;
}

function parseTopK(body: Body): number {
  const topK = integer(body, 'top_k', 0, -1, Number.MAX_SAFE_INTEGER);
  return topK === -1 ? 0 : topK;
}

function parseStop(body: Body): string[] {
  if (!present(body, 'stop')) return [];
  const v = body.stop;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string'))
    throw badRequest(`'stop' must be a string or an array of strings.`, 'stop');
  if (list.length > MAX_STOP_SEQUENCES)
    throw badRequest(`'stop' allows at most ${MAX_STOP_SEQUENCES} sequences.`, 'stop');
  if (list.some((s) => s === '')) throw badRequest(`'stop' sequences must not be empty.`, 'stop');
  return [...list] as string[];
}

function parseStopTokenIds(body: Body): number[] {
  if (!present(body, 'stop_token_ids')) return [];
  const v = body.stop_token_ids;
  if (!Array.isArray(v) || v.some((t) => !Number.isSafeInteger(t) || (t as number) < 0))
    throw badRequest(
      `'stop_token_ids' must be an array of non-negative integers.`,
      'stop_token_ids',
    );
  return [...v] as number[];
}

/** Chat's `max_completion_tokens` supersedes its deprecated `max_tokens`. */
function parseMaxTokens(body: Body, api: RequestApi): number | null {
  const name =
    api === 'chat' && present(body, 'max_completion_tokens')
      ? 'max_completion_tokens'
      : 'max_tokens';
  if (!present(body, name)) {
    const explicitNull = body[name] === null;
    return api === 'completion' && !explicitNull ? COMPLETION_DEFAULT_MAX_TOKENS : null;
  }
  return integer(body, name, 0, 1, Number.MAX_SAFE_INTEGER);
}

function parseLogprobs(body: Body, api: RequestApi): number | null {
  if (api === 'completion') {
    if (!present(body, 'logprobs')) return null;
    return integer(body, 'logprobs', 0, 0, MAX_LOGPROBS);
  }
  const wanted = boolean(body, 'logprobs', false);
  const top = present(body, 'top_logprobs')
    ? integer(body, 'top_logprobs', 0, 0, MAX_LOGPROBS)
    : null;
  if (top !== null && top > 0 && !wanted)
    throw badRequest(`'top_logprobs' requires 'logprobs' to be true.`, 'top_logprobs');
  return wanted ? (top ?? 0) : null;
}

/** Validates the sampling fields of a request body (the rest of the body is the server's). */
export function parseSamplingParams(body: Body, api: RequestApi): SamplingParams {
  const maxTokens = parseMaxTokens(body, api);
  const minTokens = integer(body, 'min_tokens', 0, 0, Number.MAX_SAFE_INTEGER);
  if (maxTokens !== null && minTokens > maxTokens)
    throw badRequest(
      `'min_tokens' (${minTokens}) must not exceed max_tokens (${maxTokens}).`,
      'min_tokens',
    );
  return {
    temperature: number(body, 'temperature', 1, 0, 2),
    topP: number(body, 'top_p', 1, 0, 1, true),
    topK: parseTopK(body),
    minP: number(body, 'min_p', 0, 0, 1),
    seed: present(body, 'seed')
      ? integer(body, 'seed', 0, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
      : null,
    stop: parseStop(body),
    stopTokenIds: parseStopTokenIds(body),
    ignoreEos: boolean(body, 'ignore_eos', false),
    minTokens,
    maxTokens,
    presencePenalty: number(body, 'presence_penalty', 0, -2, 2),
    frequencyPenalty: number(body, 'frequency_penalty', 0, -2, 2),
    repetitionPenalty: number(body, 'repetition_penalty', 1, 0, 2, true),
    n: integer(body, 'n', 1, 1, MAX_N),
    logprobs: parseLogprobs(body, api),
    priority: integer(body, 'priority', 0, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  };
}

/** Defaults of every field, as an empty request body would give (chat flavour). */
export function defaultSamplingParams(overrides: Partial<SamplingParams> = {}): SamplingParams {
  return { ...parseSamplingParams({}, 'chat'), ...overrides };
}

/** The plain per-sequence sampling settings a runner receives. */
export function toSamplingSpec(params: SamplingParams): SamplingSpec {
  return {
    temperature: params.temperature < GREEDY_TEMPERATURE ? 0 : params.temperature,
    topP: params.topP,
    topK: params.topK,
    minP: params.minP,
    presencePenalty: params.presencePenalty,
    frequencyPenalty: params.frequencyPenalty,
    repetitionPenalty: params.repetitionPenalty,
    seed: params.seed,
    logprobs: params.logprobs,
  };
}
