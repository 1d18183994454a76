/**
 * OpenAI API shapes (plus vLLM's extras) and the structural validation both processes run on a
 * request body: field presence and types, naming the offending param. Value ranges of sampling
 * fields are checked where they are used (backend/engine/sampling-params.ts).
 */
import { badRequest } from './errors.ts';

export type Role = 'system' | 'user' | 'assistant' | 'tool' | 'developer';

export interface TextPart {
  type: 'text';
  text: string;
}

export interface ChatMessage {
  role: Role;
  content: string | TextPart[] | null;
  name?: string;
  tool_call_id?: string;
}

/** Sampling fields shared by both endpoints (OpenAI's and vLLM's names). */
export interface SamplingFields {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  n?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  ignore_eos?: boolean | null;
  min_tokens?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  priority?: number | null;
  /**
   * vLLM's extension: prompts with different salts never share prefix-cache blocks, so one caller
   * cannot learn from timing whether another sent the same prefix (the edge sets it per caller).
   */
  cache_salt?: string | null;
}

export interface StreamOptions {
  include_usage?: boolean;
}

export interface ChatCompletionRequest extends SamplingFields {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: StreamOptions | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  user?: string;
}

export interface CompletionRequest extends SamplingFields {
  model: string;
  /** Text, token ids, or a batch of either. */
  prompt: string | string[] | number[] | number[][];
  stream?: boolean | null;
  stream_options?: StreamOptions | null;
  echo?: boolean | null;
  logprobs?: number | null;
  suffix?: string | null;
  user?: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

export type FinishReason = 'stop' | 'length' | 'abort' | null;

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: CompletionLogprobs | null;
  finish_reason: FinishReason;
}

export interface CompletionResponse {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage?: Usage | null;
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export interface ChatChoice {
  index: number;
  message: { role: 'assistant'; content: string };
  logprobs: { content: ChatTokenLogprob[] } | null;
  finish_reason: FinishReason;
}

export interface ChatCompletionResponse {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatChoice[];
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string };
    logprobs: { content: ChatTokenLogprob[] } | null;
    finish_reason: FinishReason;
  }[];
  usage?: Usage | null;
}

export interface ModelList {
  object: 'list';
  data: {
    id: string;
    object: 'model';
    created: number;
    owned_by: string;
    max_model_len?: number;
  }[];
}

type Json = Record<string, unknown>;

const ROLES: readonly Role[] = ['system', 'user', 'assistant', 'tool', 'developer'];

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function expect(ok: boolean, param: string, what: string, value: unknown): void {
  if (!ok)
    throw badRequest(`'${param}' must be ${what}, got ${kindOf(value)}.`, param, 'invalid_type');
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isIntArray = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);

/** Optional field of a given JSON type (null counts as absent, as OpenAI's API does). */
function optional(body: Json, key: string, check: (v: unknown) => boolean, what: string): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  expect(check(v), key, what, v);
}

/** Longest `cache_salt` accepted (the edge's own salt plus a client's fits easily). */
export const MAX_CACHE_SALT_CHARS = 1024;

const NUMBER_FIELDS = [
  'temperature',
  'top_p',
  'min_p',
  'presence_penalty',
  'frequency_penalty',
  'repetition_penalty',
] as const;
const INT_FIELDS = [
  'max_tokens',
  'max_completion_tokens',
  'top_k',
  'n',
  'seed',
  'min_tokens',
  'priority',
] as const;

const SAMPLING_KEYS = [...NUMBER_FIELDS, ...INT_FIELDS, 'stop', 'stop_token_ids', 'ignore_eos'];
const COMMON_KEYS = ['model', 'stream', 'stream_options', 'user', 'cache_salt', ...SAMPLING_KEYS];
const CHAT_KEYS = new Set([
  ...COMMON_KEYS,
  'messages',
  'logprobs',
  'top_logprobs',
  'tools',
  'tool_choice',
  'response_format',
  'logit_bias',
  'parallel_tool_calls',
]);
const COMPLETION_KEYS = new Set([
  ...COMMON_KEYS,
  'prompt',
  'echo',
  'logprobs',
  'suffix',
  'best_of',
  'logit_bias',
]);

const unsupported = (param: string, what: string) =>
  badRequest(`'${param}' ${what} is not supported by this server.`, param, 'unsupported_parameter');

/**
 * Nothing a client sends is silently dropped: an unknown field is a 400 (OpenAI's own answer), and
 * known fields we do not implement are accepted only in their no-op form.
 */
function checkKnownFields(body: Json, allowed: ReadonlySet<string>): void {
  for (const key of Object.keys(body))
    if (!allowed.has(key))
      throw badRequest(
        `Unrecognized request argument supplied: ${key}`,
        key,
        'unsupported_parameter',
      );
  const present = (key: string) => body[key] !== undefined && body[key] !== null;
  if (present('tools') && !(Array.isArray(body.tools) && body.tools.length === 0))
    throw unsupported('tools', '(tool calling)');
  if (present('tool_choice') && body.tool_choice !== 'none' && body.tool_choice !== 'auto')
    throw unsupported('tool_choice', `${JSON.stringify(body.tool_choice)}`);
  const format = body.response_format as Json | null | undefined;
  if (present('response_format') && !(kindOf(format) === 'object' && format!.type === 'text'))
    throw unsupported('response_format', '(structured output)');
  const bias = body.logit_bias;
  if (
    present('logit_bias') &&
    !(kindOf(bias) === 'object' && Object.keys(bias as Json).length === 0)
  )
    throw unsupported('logit_bias', '(a non-empty bias)');
  if (present('best_of') && body.best_of !== 1 && body.best_of !== (body.n ?? 1))
    throw unsupported('best_of', 'other than n');
}

function checkSamplingFields(body: Json): void {
  expect(typeof body.model === 'string', 'model', 'a string', body.model);
  for (const key of NUMBER_FIELDS)
    optional(body, key, (v) => typeof v === 'number' && Number.isFinite(v), 'a number');
  for (const key of INT_FIELDS) optional(body, key, isInt, 'an integer');
  optional(
    body,
    'stop',
    (v) => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')),
    'a string or an array of strings',
  );
  optional(body, 'stop_token_ids', isIntArray, 'an array of integers');
  optional(body, 'ignore_eos', (v) => typeof v === 'boolean', 'a boolean');
  optional(
    body,
    'cache_salt',
    (v) => typeof v === 'string' && v.length > 0 && v.length <= MAX_CACHE_SALT_CHARS,
    `a non-empty string of at most ${MAX_CACHE_SALT_CHARS} characters`,
  );
  optional(body, 'stream', (v) => typeof v === 'boolean', 'a boolean');
  optional(body, 'stream_options', (v) => kindOf(v) === 'object', 'an object');
  const so = body.stream_options as Json | null | undefined;
  if (so) optional(so, 'include_usage', (v) => typeof v === 'boolean', 'a boolean');
  if (so && !body.stream)
    throw badRequest("'stream_options' is only allowed when 'stream' is true.", 'stream_options');
  optional(body, 'user', (v) => typeof v === 'string', 'a string');
}

function checkMessage(m: unknown, i: number): void {
  const p = `messages[${i}]`;
  expect(kindOf(m) === 'object', p, 'an object', m);
  const msg = m as Json;
  if (!ROLES.includes(msg.role as Role))
    throw badRequest(`'${p}.role' must be one of ${ROLES.join(', ')}.`, `${p}.role`);
  const c = msg.content;
  if (c === null || c === undefined) {
    if (msg.role !== 'assistant') throw badRequest(`'${p}.content' is required.`, `${p}.content`);
    return;
  }
  if (typeof c === 'string') return;
  expect(Array.isArray(c), `${p}.content`, 'a string or an array of content parts', c);
  (c as unknown[]).forEach((part, j) => {
    const pp = `${p}.content[${j}]`;
    expect(kindOf(part) === 'object', pp, 'an object', part);
    const t = (part as Json).type;
    if (t !== 'text')
      throw badRequest(
        `'${pp}.type' ${JSON.stringify(t)} is not supported; only 'text' parts are.`,
        `${pp}.type`,
      );
    expect(typeof (part as Json).text === 'string', `${pp}.text`, 'a string', (part as Json).text);
  });
}

export function parseChatRequest(body: unknown): ChatCompletionRequest {
  expect(kindOf(body) === 'object', 'body', 'a JSON object', body);
  const b = body as Json;
  checkKnownFields(b, CHAT_KEYS);
  checkSamplingFields(b);
  expect(Array.isArray(b.messages), 'messages', 'an array', b.messages);
  const messages = b.messages as unknown[];
  if (messages.length === 0) throw badRequest("'messages' must not be empty.", 'messages');
  messages.forEach(checkMessage);
  optional(b, 'logprobs', (v) => typeof v === 'boolean', 'a boolean');
  optional(b, 'top_logprobs', isInt, 'an integer');
  return b as unknown as ChatCompletionRequest;
}

export function parseCompletionRequest(body: unknown): CompletionRequest {
  expect(kindOf(body) === 'object', 'body', 'a JSON object', body);
  const b = body as Json;
  checkKnownFields(b, COMPLETION_KEYS);
  checkSamplingFields(b);
  const p = b.prompt;
  const ok =
    typeof p === 'string' ||
    (Array.isArray(p) &&
      p.length > 0 &&
      (p.every((x) => typeof x === 'string') || isIntArray(p) || p.every(isIntArray)));
  expect(
    ok,
    'prompt',
    'a string, an array of strings, an array of token ids, or an array of token-id arrays',
    p,
  );
  optional(b, 'echo', (v) => typeof v === 'boolean', 'a boolean');
  optional(b, 'logprobs', isInt, 'an integer');
  optional(b, 'suffix', (v) => typeof v === 'string', 'a string');
  if (typeof b.suffix === 'string' && b.suffix)
    throw badRequest("'suffix' is not supported.", 'suffix');
  return b as unknown as CompletionRequest;
}

/** Every string a user supplied in a chat or completions request (for filters and token estimates). */
export function requestTexts(body: ChatCompletionRequest | CompletionRequest): string[] {
  if ('messages' in body) {
    return body.messages.flatMap((m) =>
      typeof m.content === 'string' ? [m.content] : (m.content ?? []).map((p) => p.text),
    );
  }
  const p = body.prompt;
  return typeof p === 'string' ? [p] : p.filter((x): x is string => typeof x === 'string');
}
