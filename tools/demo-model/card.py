"""Renders the demo model's card (README.md) from report.json (train.py + fixture.py numbers)."""

import json


def runs_table(report: dict) -> str:
  rows = ['| run | epochs (planned) | dropout | peak LR | steps | epochs seen | seconds | best val | final val | train (eval mode) |',
          '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  for r in report['runs']:
    mark = ' (kept)' if r['name'] == report['chosen'] else ''
    rows.append(
      f'| {r["name"]}{mark} | {r["epochs"]} | {r["dropout"]} | {r["lr"]} | {r["steps"]} | '
      f'{r["epochs_seen"]:.1f} | {r["seconds"]:.0f} | {r["best_val_loss"]:.4f} | '
      f'{r["final_val_loss"]:.4f} | {r["train_loss_eval"]:.4f} |'
    )
  return '\n'.join(rows)


def quote(text: str) -> str:
  return '\n'.join('    ' + line for line in text.split('\n'))


def render(report: dict) -> str:
  c, d, s = report['config'], report['data'], report['samples']
  chosen = next(r for r in report['runs'] if r['name'] == report['chosen'])
  size_mb = report['parameters'] * 2 / 1e6
  chat = s['chat']
  return f"""---
license: apache-2.0
language: en
library_name: transformers
pipeline_tag: text-generation
tags: [llama, tiny, demo, kjv]
---

# edgeserve demo model (KJV-12M)

A {report['parameters'] / 1e6:.1f} M-parameter Llama-architecture model trained from scratch on
the King James Bible, so that `npm start` can serve something real on a CPU with no download.
It writes KJV-flavoured English; it knows nothing else, answers no questions, and follows no
instructions. It is a demo and a test fixture, not an assistant.

## Model

| | |
| --- | --- |
| architecture | `LlamaForCausalLM` (RMSNorm, SwiGLU, RoPE θ=10000, grouped-query attention) |
| parameters | {report['parameters']:,} ({size_mb:.1f} MB in bfloat16, tied input/output embeddings) |
| layers / hidden / MLP | {c['num_hidden_layers']} / {c['hidden_size']} / {c['intermediate_size']} |
| heads / KV heads / head dim | {c['num_attention_heads']} / {c['num_key_value_heads']} / {c['hidden_size'] // c['num_attention_heads']} |
| context | {c['max_position_embeddings']} tokens (trained at that length) |
| vocabulary | {c['vocab_size']} byte-level BPE tokens, trained on the same text |
| special tokens | `<\\|pad\\|>`=0, `<\\|bos\\|>`=1, `<\\|eos\\|>`=2, `<\\|im_start\\|>`=3, `<\\|im_end\\|>`=4 |
| stop tokens | `<\\|eos\\|>` and `<\\|im_end\\|>` (generation_config.json) |
| weights | bfloat16 safetensors in {len(report['weight_files'])} shards + `model.safetensors.index.json` |

No BOS is added when tokenizing (`add_bos_token: false`): training documents are packed back to
back, each closed by `<|eos|>`. The chat template is plain ChatML
(`<|im_start|>role\\ncontent<|im_end|>\\n`, generation prompt `<|im_start|>assistant\\n`).

## Data

The Authorized (King James) Version of 1611, from Debian's `bible-kjv-text` 4.38 package
(decoded with its reader from `bible-kjv`; see `tools/demo-model/prepare-kjv.sh`):
{d['verses']:,} verses in {d['chapters']} chapters. One document per chapter, one verse per line.
{len(d['val_chapters'])} whole chapters, chosen at random (seed 1234), are held out for validation
({d['val_tokens']:,} tokens): {', '.join(d['val_chapters'])}.
The training stream ({d['train_tokens']:,} tokens) is the other chapters plus
{d['chat_docs']} ChatML conversations built from them (the user gives a verse or its opening words,
the assistant answers with what follows), so the model learns the chat frame and when to stop.

## Training

From scratch on one {report['gpu']} with PyTorch {report['versions']['torch']} and transformers
{report['versions']['transformers']}: AdamW (fused, β=(0.9, 0.95), weight decay 0.1 on matrices),
bf16 autocast, batch {report['batch_tokens']:,} tokens (random {c['max_position_embeddings']}-token windows),
linear warm-up then cosine decay to 10 % of peak, gradient clipping at 1.0, dropout on the embedding
and residual branches (training-time hooks only; the architecture is stock Llama). The corpus is
small, so the model is data-limited: a few short runs with different lengths and dropout were
trained in turn within the time budget, and the one with the lowest final validation loss was kept.
torch.compile was not used: each run is short and would spend much of its time compiling.
Total training time {report['train_seconds']:.0f} s ({report['total_seconds']:.0f} s including
tokenizer training and saving).

{runs_table(report)}

Losses are mean next-token cross-entropy in nats. The kept run ({chosen['name']}) ends at
validation loss **{chosen['final_val_loss']:.4f}** (perplexity {2.718281828 ** chosen['final_val_loss']:.1f});
with the saved bfloat16 weights: {report['val_loss_bf16_weights']:.4f}.
The run was chosen on the same validation set it is reported on, so the figure is slightly optimistic.

## Samples

Greedy, from "In the beginning":

{quote(s['greedy'])}

Temperature 0.8 (seeds 1 and 2), from "In the beginning":

{quote(s['temperature_0.8'][0])}

{quote(s['temperature_0.8'][1])}

Chat (greedy; prompt rendered by {chat['rendered_by']}), user: "{chat['messages'][0]['content']}":

{quote(chat['greedy_reply'])}

## Use

```
npx edgeserve backend --model models/demo
```

or with transformers: `AutoModelForCausalLM.from_pretrained("models/demo")`.
`test/fixtures/demo-greedy.json` holds greedy float32 continuations (token ids, text and top-1
logit margins) that our runners are checked against.

## Licence

- Text: the King James Version is in the public domain in most of the world. (In the United
  Kingdom the Crown's rights under letters patent still restrict printing it.) The Debian package's
  copyright file says the text's copyright has expired.
- Model weights, tokenizer and training code: Apache-2.0.

Reproduce: `tools/demo-model/prepare-kjv.sh`, then `tools/demo-model/run-on-device.sh` on a GPU
machine (see `tools/demo-model/README.md`).
"""


if __name__ == '__main__':
  import sys

  print(render(json.load(open(sys.argv[1]))))
