"""Byte-level BPE tokenizer for the demo model, plus the tokenizer files a HF folder carries.

No post-processor: encoding adds no special token, and tokenizer_config.json says so
(add_bos_token false), so prompts are tokenized exactly as written.
"""

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ['<|pad|>', '<|bos|>', '<|eos|>', '<|im_start|>', '<|im_end|>']
PAD_ID, BOS_ID, EOS_ID, IM_START_ID, IM_END_ID = range(len(SPECIAL_TOKENS))

# ChatML. Must render exactly what corpus.chatml renders, plus the assistant generation prompt.
CHAT_TEMPLATE = (
  '{%- for message in messages %}'
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
  '{%- endfor %}'
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def train_tokenizer(texts: list, vocab_size: int) -> Tokenizer:
  tokenizer = Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
    vocab_size=vocab_size,
    special_tokens=SPECIAL_TOKENS,
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    min_frequency=2,
    show_progress=False,
  )
  tokenizer.train_from_iterator(texts, trainer)
  for i, token in enumerate(SPECIAL_TOKENS):
    assert tokenizer.token_to_id(token) == i, f'{token} must have id {i}'
  return tokenizer


def tokenizer_config(max_length: int) -> dict:
  return {
    'tokenizer_class': 'PreTrainedTokenizerFast',
    'model_max_length': max_length,
    'bos_token': '<|bos|>',
    'eos_token': '<|eos|>',
    'pad_token': '<|pad|>',
    'unk_token': None,
    'add_bos_token': False,
    'add_eos_token': False,
    'clean_up_tokenization_spaces': False,
    'chat_template': CHAT_TEMPLATE,
    'added_tokens_decoder': {
      str(i): {
        'content': token,
        'lstrip': False,
        'rstrip': False,
        'normalized': False,
        'single_word': False,
        'special': True,
      }
      for i, token in enumerate(SPECIAL_TOKENS)
    },
  }


def write_tokenizer_files(tokenizer: Tokenizer, out: Path, max_length: int) -> None:
  out.mkdir(parents=True, exist_ok=True)
  tokenizer.save(str(out / 'tokenizer.json'))
  special = {
    'bos_token': '<|bos|>',
    'eos_token': '<|eos|>',
    'pad_token': '<|pad|>',
    'additional_special_tokens': ['<|im_start|>', '<|im_end|>'],
  }
  (out / 'special_tokens_map.json').write_text(json.dumps(special, indent=2) + '\n')
  config = tokenizer_config(max_length)
  (out / 'tokenizer_config.json').write_text(json.dumps(config, indent=2) + '\n')
