/**
 * Request checks at the edge: the shared structural validation (types, naming the param) plus
 * the edge's own size bounds (messages, characters), so a backend never sees a request the edge
 * could have refused. Value ranges of sampling fields are the backend's to judge.
 */
import { badRequest } from '../shared/errors.ts';
import {
  type ChatCompletionRequest,
  type CompletionRequest,
  parseChatRequest,
  parseCompletionRequest,
  requestTexts,
} from '../shared/openai.ts';
import type { InputLimits } from './config.ts';

export type Endpoint = 'chat' | 'completions';
export type CompletionBody = ChatCompletionRequest | CompletionRequest;

/** Validates and returns the body; throws a 400 naming the param. */
export function validateRequest(
  endpoint: Endpoint,
  body: unknown,
  limits: InputLimits,
): CompletionBody {
  const parsed = endpoint === 'chat' ? parseChatRequest(body) : parseCompletionRequest(body);
  const param = endpoint === 'chat' ? 'messages' : 'prompt';
  if ('messages' in parsed && parsed.messages.length > limits.maxMessages)
    throw badRequest(
      `'messages' has ${parsed.messages.length} entries; the limit is ${limits.maxMessages}.`,
      param,
      'too_many_messages',
    );
  const chars = requestTexts(parsed).reduce((n, text) => n + text.length, 0);
  if (chars > limits.maxChars)
    throw badRequest(
      `Input has ${chars} characters; the limit is ${limits.maxChars}.`,
      param,
      'too_many_characters',
    );
  return parsed;
}
