"""KJV verse dump -> chapters -> train/validation documents (plain text and ChatML chat turns).

The verse file is what prepare-kjv.sh writes: one verse a line, "Ge1:1 In the beginning ...".
A document is one chapter, verses separated by newlines, so generated text reads verse by verse.
Chat documents teach the model the ChatML frame our server renders (tokenizer_config.json's
chat_template): the user sends a verse (or its first words), the assistant answers with what follows.
"""

import random
import re
from dataclasses import dataclass

VERSE = re.compile(r'^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$')

SYSTEM_PROMPTS = [
  'You are a helpful assistant.',
  'You are a small demo model trained on the King James Bible.',
  'Answer in the style of the King James Bible.',
]


@dataclass
class Chapter:
  book: str
  number: int
  verses: list

  @property
  def text(self) -> str:
    return '\n'.join(self.verses)


def read_chapters(path: str) -> list:
  chapters = []
  with open(path, encoding='utf-8') as f:
    for line_no, line in enumerate(f, 1):
      match = VERSE.match(line.rstrip('\n'))
      if not match:
        raise ValueError(f'{path}:{line_no}: not a verse line: {line[:60]!r}')
      book, chapter, _verse, text = match.groups()
      text = ' '.join(text.split())
      if not chapters or chapters[-1].book != book or chapters[-1].number != int(chapter):
        chapters.append(Chapter(book, int(chapter), []))
      chapters[-1].verses.append(text)
  return chapters


def split_chapters(chapters: list, val_fraction: float, seed: int) -> tuple:
  """Holds out whole chapters (not verses) so validation text shares no verse with training."""
  rng = random.Random(seed)
  count = max(1, round(len(chapters) * val_fraction))
  held = set(rng.sample(range(len(chapters)), count))
  train = [c for i, c in enumerate(chapters) if i not in held]
  val = [c for i, c in enumerate(chapters) if i in held]
  return train, val


def chatml(messages: list) -> str:
  """Must render exactly what bpe.CHAT_TEMPLATE renders (without the generation prompt)."""
  return ''.join(f'<|im_start|>{m["role"]}\n{m["content"]}<|im_end|>\n' for m in messages)


def chat_documents(chapters: list, count: int, seed: int) -> list:
  rng = random.Random(seed)
  usable = [c for c in chapters if len(c.verses) >= 2]
  docs = []
  while len(docs) < count:
    chapter = rng.choice(usable)
    i = rng.randrange(len(chapter.verses) - 1)
    verse = chapter.verses[i]
    following = chapter.verses[i + 1 : i + 1 + rng.randint(1, 3)]
    words = verse.split()
    if len(words) >= 6 and rng.random() < 0.3:
      # "Complete this": the user gives the opening words, the assistant finishes the verse.
      cut = rng.randint(3, len(words) - 2)
      user = ' '.join(words[:cut])
      answer = '\n'.join([' '.join(words[cut:])] + following[:1])
    else:
      user = verse
      answer = '\n'.join(following)
    messages = []
    if rng.random() < 0.2:
      messages.append({'role': 'system', 'content': rng.choice(SYSTEM_PROMPTS)})
    messages += [{'role': 'user', 'content': user}, {'role': 'assistant', 'content': answer}]
    docs.append(chatml(messages))
  return docs


def build_documents(verses_path: str, val_fraction: float, chat_count: int, seed: int) -> dict:
  chapters = read_chapters(verses_path)
  train, val = split_chapters(chapters, val_fraction, seed)
  return {
    'chapters': len(chapters),
    'verses': sum(len(c.verses) for c in chapters),
    'val_chapters': [f'{c.book} {c.number}' for c in val],
    'train_text': [c.text for c in train],
    'val_text': [c.text for c in val],
    'chat': chat_documents(train, chat_count, seed + 1),
  }
