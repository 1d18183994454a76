import { describe, expect, it } from 'vitest';
import { HttpError } from '../../shared/errors.ts';
import { fixtureModelCache } from '../../test/fixtures/models.ts';
import { ChatTemplate } from './chat-template.ts';
import { ModelTokenizer } from './tokenizer.ts';

const texts = [
  'Hello world! The quick brown fox.',
  '  leading spaces\n\nand\ttabs ',
  'emoji 😀👍🏽 and CJK 日本語の文章, accents é ü ñ',
  'special-looking <|im_end|> text',
];

describe('ModelTokenizer', () => {
  it('round-trips any UTF-8 text and knows its special tokens (Qwen style, no BOS)', async () => {
    const tok = await ModelTokenizer.load(fixtureModelCache('qwen2', 1));
    for (const text of texts) expect(tok.decode(tok.encode(text))).toBe(text);
    expect(tok.bosToken).toBe('<|bos|>');
    expect(tok.eosTokenId).toBe(tok.tokenToId('<|eos|>'));
    expect(tok.encode('hi')[0]).not.toBe(tok.bosTokenId);
    const imEnd = tok.tokenToId('<|im_end|>')!;
    expect(tok.isSpecial(imEnd)).toBe(true);
    expect(tok.idToToken(imEnd)).toBe('<|im_end|>');
    expect(tok.encode('a<|im_end|>b')).toContain(imEnd);
    expect(tok.decode(tok.encode('a<|im_end|>b'), { skipSpecialTokens: true })).toBe('ab');
    expect(tok.vocabSize).toBe(Math.max(...tok.specialTokenIds) + 1);
  });

  it('adds BOS only when asked (Llama style)', async () => {
    const tok = await ModelTokenizer.load(fixtureModelCache('llama', 1));
    const withBos = tok.encode('Hello');
    expect(withBos[0]).toBe(tok.bosTokenId);
    expect(tok.encode('Hello', { addSpecialTokens: false })).toEqual(withBos.slice(1));
    expect(tok.decode(withBos, { skipSpecialTokens: true })).toBe('Hello');
  });
});

describe('ChatTemplate', () => {
  it('renders ChatML with the generation prompt, accepting text parts', async () => {
    const tok = await ModelTokenizer.load(fixtureModelCache('llama', 1));
    const template = new ChatTemplate(tok.chatTemplate!);
    const prompt = template.render(
      [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi ' },
            { type: 'text', text: 'there' },
          ],
        },
      ],
      { addGenerationPrompt: true, bosToken: tok.bosToken, eosToken: tok.eosToken },
    );
    expect(prompt).toBe(
      '<|bos|><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
    );
    const ids = tok.encode(prompt, { addSpecialTokens: false });
    expect(ids.filter((id) => id === tok.tokenToId('<|im_start|>'))).toHaveLength(3);
  });

  it('turns unsupported content parts and template errors into 400s', () => {
    const template = new ChatTemplate(
      "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be the user') }}{% endif %}ok",
    );
    const options = { addGenerationPrompt: false, bosToken: null, eosToken: null };
    const image = [{ type: 'image_url', image_url: { url: 'x' } }] as never;
    const catchError = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err as HttpError;
      }
      throw new Error('expected an error');
    };
    const partError = catchError(() =>
      template.render([{ role: 'user', content: image }], options),
    );
    expect(partError).toBeInstanceOf(HttpError);
    expect(partError.status).toBe(400);
    expect(partError.param).toBe('messages[0].content[0]');
    const raised = catchError(() =>
      template.render([{ role: 'assistant', content: 'x' }], options),
    );
    expect(raised.status).toBe(400);
    expect(raised.message).toMatch(/first message must be the user/);
    expect(template.render([{ role: 'user', content: 'x' }], options)).toBe('ok');
    expect(() => new ChatTemplate('{% for %}')).toThrow(/chat_template does not parse/);
  });
});
