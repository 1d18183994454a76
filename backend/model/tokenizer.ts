/** The model's tokenizer: tokenizer.json + tokenizer_config.json through @huggingface/tokenizers. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export interface EncodeOptions {
  /** Add the tokenizer's own special tokens (e.g. Llama's BOS). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, chat markers) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

type Json = Record<string, unknown>;

/** tokenizer_config.json spells special tokens as a string or as {content: string}. */
function tokenText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') {
    return (value as Json).content as string;
  }
  return null;
}

async function readJsonFile(path: string): Promise<Json> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Json;
  } catch (err) {
    throw new Error(`cannot load ${path}: ${(err as Error).message}`);
  }
}

export class ModelTokenizer {
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Ids of every special token (added tokens marked special). */
  readonly specialTokenIds: ReadonlySet<number>;
  /** One past the largest id the tokenizer can produce. */
  readonly vocabSize: number;
  /** tokenizer_config.json's chat_template (the default one when it is a list), or null. */
  readonly chatTemplate: string | null;

  constructor(
    private readonly tokenizer: Tokenizer,
    config: Json,
  ) {
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    this.bosTokenId = this.bosToken === null ? null : (this.tokenToId(this.bosToken) ?? null);
    this.eosTokenId = this.eosToken === null ? null : (this.tokenToId(this.eosToken) ?? null);
    const special = new Set<number>();
    for (const [id, token] of tokenizer.get_added_tokens_decoder())
      if (token.special) special.add(id);
    this.specialTokenIds = special;
    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.chatTemplate = pickChatTemplate(config.chat_template);
  }

  /** Loads tokenizer.json and tokenizer_config.json from a model folder. */
  static async load(dir: string): Promise<ModelTokenizer> {
    const tokenizerJson = await readJsonFile(join(dir, 'tokenizer.json'));
    const config = await readJsonFile(join(dir, 'tokenizer_config.json'));
    return new ModelTokenizer(new Tokenizer(tokenizerJson, config), config);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true })
      .ids;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    // The library throws on an empty list; nothing decodes to the empty string.
    if (ids.length === 0) return '';
    return this.tokenizer.decode(Array.from(ids), {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  isSpecial(id: number): boolean {
    return this.specialTokenIds.has(id);
  }
}

/** Some configs hold a list of named templates; the one named "default" is the chat template. */
function pickChatTemplate(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => t && (t as Json).name === 'default') as Json | undefined;
    return typeof named?.template === 'string' ? named.template : null;
  }
  return null;
}
