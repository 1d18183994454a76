/** Renders OpenAI chat messages to a prompt with the model's own Jinja chat template. */
import { Template } from '@huggingface/jinja';
import { badRequest } from '../../shared/errors.ts';

export interface ChatTextPart {
  type: 'text';
  text: string;
}

export interface ChatMessageInput {
  role: string;
  content: string | ChatTextPart[] | null;
  name?: string;
}

export interface RenderOptions {
  addGenerationPrompt: boolean;
  bosToken: string | null;
  eosToken: string | null;
}

/** Flattens string or text-part content; any other part type is a 400 naming its index. */
function flattenContent(content: unknown, index: number): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) {
    throw badRequest(
      'message content must be a string or an array of parts',
      `messages[${index}].content`,
    );
  }
  return content
    .map((part, j) => {
      const param = `messages[${index}].content[${j}]`;
      if (!part || typeof part !== 'object' || (part as ChatTextPart).type !== 'text') {
        const type = (part as { type?: unknown })?.type;
        throw badRequest(
          `content part type ${JSON.stringify(type)} is not supported (only "text")`,
          param,
        );
      }
      if (typeof (part as ChatTextPart).text !== 'string')
        throw badRequest('text part needs a string "text"', param);
      return (part as ChatTextPart).text;
    })
    .join('');
}

/** A parsed template, reused for every request (parsing is the slow part). */
export class ChatTemplate {
  private readonly template: Template;

  constructor(source: string) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new Error(`chat_template does not parse: ${(err as Error).message}`);
    }
  }

  render(messages: ChatMessageInput[], options: RenderOptions): string {
    const flat = messages.map((m, i) => {
      const out: Record<string, unknown> = { role: m.role, content: flattenContent(m.content, i) };
      if (m.name !== undefined) out.name = m.name;
      return out;
    });
    try {
      return this.template.render({
        messages: flat,
        add_generation_prompt: options.addGenerationPrompt,
        bos_token: options.bosToken ?? '',
        eos_token: options.eosToken ?? '',
      });
    } catch (err) {
      // Templates reject what they cannot express (e.g. roles out of order) by raising.
      throw badRequest(
        `chat template failed: ${(err as Error).message}`,
        'messages',
        'chat_template_error',
      );
    }
  }
}
