/**
 * Property tests of the request validators: whatever JSON a client sends, parsing either returns
 * or throws one HttpError with a 4xx status, an OpenAI error type and a message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import { parseChatRequest, parseCompletionRequest, requestTexts } from './openai.ts';

const anyJson = fc.jsonValue({ maxDepth: 4 });

/** Bodies that look like requests, so the checks past the first field are reached too. */
const fieldValue = fc.oneof(
  anyJson,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string(),
  fc.constant(null),
  fc.array(fc.integer({ min: -2, max: 1e6 })),
);
const message = fc.oneof(
  anyJson,
  fc.record(
    {
      role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer'), anyJson),
      content: fc.oneof(
        fc.string(),
        fc.constant(null),
        fc.array(fc.record({ type: fc.oneof(fc.constant('text'), anyJson), text: fieldValue })),
        anyJson,
      ),
    },
    { requiredKeys: [] },
  ),
);
const requestLike = fc.record(
  {
    model: fc.oneof(fc.string(), anyJson),
    messages: fc.oneof(fc.array(message, { maxLength: 4 }), anyJson),
    prompt: fc.oneof(
      fc.string(),
      fc.array(fc.string()),
      fc.array(fc.integer()),
      fc.array(fc.array(fc.integer())),
      anyJson,
    ),
    temperature: fieldValue,
    max_tokens: fieldValue,
    top_k: fieldValue,
    stop: fc.oneof(fc.string(), fc.array(fc.string()), anyJson),
    stop_token_ids: fieldValue,
    stream: fieldValue,
    stream_options: fc.oneof(fc.record({ include_usage: fieldValue }), anyJson),
    logprobs: fieldValue,
    top_logprobs: fieldValue,
    echo: fieldValue,
    suffix: fieldValue,
  },
  { requiredKeys: [] },
);

function checkOutcome(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    const e = err as HttpError;
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.status).toBeLessThan(500);
    expect(e.type).toBe('invalid_request_error');
    expect(e.message.length).toBeGreaterThan(0);
  }
}

describe('request validators under arbitrary JSON', () => {
  it('parseChatRequest returns or throws a 4xx HttpError', () => {
    fc.assert(
      fc.property(fc.oneof(anyJson, requestLike), (body) => {
        checkOutcome(() => requestTexts(parseChatRequest(body)));
      }),
      { numRuns: 1000 },
    );
  });

  it('parseCompletionRequest returns or throws a 4xx HttpError', () => {
    fc.assert(
      fc.property(fc.oneof(anyJson, requestLike), (body) => {
        checkOutcome(() => requestTexts(parseCompletionRequest(body)));
      }),
      { numRuns: 1000 },
    );
  });

  it('an accepted chat request yields only string texts', () => {
    fc.assert(
      fc.property(requestLike, (body) => {
        let texts: string[];
        try {
          texts = requestTexts(parseChatRequest(body));
        } catch {
          return;
        }
        expect(texts.every((t) => typeof t === 'string')).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
