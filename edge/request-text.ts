/**
 * Every client-supplied string of an OpenAI chat/completions request, for the input filters:
 * message contents (strings and text parts), tool/function-call arguments, the prompt (a string or
 * an array of strings; token ids carry no text) and the completion suffix. Tolerates any JSON:
 * shape validation is not this module's job, and a missing field just yields no text.
 */

export interface RequestText {
  /** The request field it came from, for the error's `param`. */
  param: 'messages' | 'prompt';
  text: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function partText(part: unknown): string | undefined {
  if (typeof part === 'string') return part;
  if (!isRecord(part)) return undefined;
  for (const key of ['text', 'refusal', 'input_text'])
    if (typeof part[key] === 'string') return part[key] as string;
  return undefined;
}

function contentTexts(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  const parts = content.map(partText).filter((t): t is string => t !== undefined);
  // Each part alone, and together: a phrase split over two parts still reads as one.
  return parts.length > 1 ? [...parts, parts.join('\n')] : parts;
}

function callArguments(message: Record<string, unknown>): string[] {
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  const fns = [...calls.map((c) => (isRecord(c) ? c.function : undefined)), message.function_call];
  return fns.flatMap((fn) =>
    isRecord(fn) && typeof fn.arguments === 'string' ? [fn.arguments] : [],
  );
}

function messageTexts(messages: unknown): string[] {
  if (!Array.isArray(messages)) return [];
  return messages.flatMap((m) =>
    isRecord(m) ? [...contentTexts(m.content), ...callArguments(m)] : [],
  );
}

function promptTexts(body: Record<string, unknown>): string[] {
  const prompt = body.prompt;
  const texts = typeof prompt === 'string' ? [prompt] : Array.isArray(prompt) ? prompt : [];
  const suffix = typeof body.suffix === 'string' ? [body.suffix] : [];
  return [...texts, ...suffix].filter((t): t is string => typeof t === 'string');
}

export function extractRequestText(body: unknown): RequestText[] {
  if (!isRecord(body)) return [];
  return [
    ...messageTexts(body.messages).map((text) => ({ param: 'messages' as const, text })),
    ...promptTexts(body).map((text) => ({ param: 'prompt' as const, text })),
  ];
}
