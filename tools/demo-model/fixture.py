"""Loads the saved demo-model folder the way any HF user would (float32, from disk) and writes
 - the greedy check fixture for our own runners (test/fixtures/demo-greedy.json), and
 - samples for the model card, then the card itself (README.md, via card.py).

  python3 fixture.py --model /tmp/demo --fixture $OUT/demo-greedy.json
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoTokenizer, LlamaForCausalLM

import card

PROMPTS = ['In the beginning', 'And God said', 'The LORD is my shepherd']
NEW_TOKENS = 32


def log(msg: str) -> None:
  print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)


def load_model(folder: Path, device):
  try:
    model = LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
  except Exception as err:  # noqa: BLE001 - say which config spelling transformers rejects
    log(f'from_pretrained failed: {err!r}; retrying without the 4.x config spellings')
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(folder, tmp / 'm')
    config = json.loads((tmp / 'm' / 'config.json').read_text())
    for key in ('torch_dtype', 'rope_theta'):
      config.pop(key, None)
    (tmp / 'm' / 'config.json').write_text(json.dumps(config))
    model = LlamaForCausalLM.from_pretrained(str(tmp / 'm'), dtype=torch.float32)
    log('RETRY WORKED: drop torch_dtype/rope_theta from config.json')
  return model.to(device).eval()


@torch.no_grad()
def step_logits(model, ids: list, device) -> torch.Tensor:
  """Last-position logits from a full forward pass (no KV cache: the simplest reference)."""
  return model(input_ids=torch.tensor([ids], device=device), use_cache=False).logits[0, -1].float()


@torch.no_grad()
def greedy_case(model, tokenizer: Tokenizer, prompt: str, eos_ids: list, device) -> dict:
  prompt_ids = tokenizer.encode(prompt, add_special_tokens=False).ids
  ids, out, margins, runner_up, top1 = list(prompt_ids), [], [], [], []
  first_top5 = None
  for _ in range(NEW_TOKENS):
    logits = step_logits(model, ids, device)
    values, indices = torch.topk(logits, 5)
    if first_top5 is None:
      first_top5 = [[int(i), round(float(v), 5)] for v, i in zip(values, indices)]
    ids.append(int(indices[0]))
    out.append(int(indices[0]))
    top1.append(round(float(values[0]), 5))
    margins.append(round(float(values[0] - values[1]), 5))
    runner_up.append(int(indices[1]))
  first_eos = next((i for i, t in enumerate(out) if t in eos_ids), None)
  return {
    'prompt': prompt,
    'prompt_ids': prompt_ids,
    'output_ids': out,
    'output_text': tokenizer.decode(out, skip_special_tokens=False),
    'first_eos_index': first_eos,
    'top1_logits': top1,
    'top1_margins': margins,
    'runner_up_ids': runner_up,
    'first_step_top5': first_top5,
  }


@torch.no_grad()
def hf_generate_agrees(model, case: dict, device) -> bool:
  """The KV-cache path of HF generate must give the same greedy tokens as the no-cache loop."""
  ids = torch.tensor([case['prompt_ids']], device=device)
  gen = model.generate(
    ids, do_sample=False, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
    temperature=None, top_p=None, pad_token_id=0,
  )
  got = gen[0, ids.size(1) :].tolist()
  stop = case['first_eos_index'] if case['first_eos_index'] is not None else NEW_TOKENS
  return got[:stop] == case['output_ids'][:stop]


@torch.no_grad()
def sample(model, tokenizer, ids: list, n: int, temperature: float, eos_ids: list, device, seed=0):
  gen = torch.Generator(device=device).manual_seed(seed)
  ids, out = list(ids), []
  for _ in range(n):
    logits = step_logits(model, ids, device)
    if temperature == 0:
      nxt = int(torch.argmax(logits))
    else:
      probs = torch.softmax(logits / temperature, dim=-1)
      nxt = int(torch.multinomial(probs, 1, generator=gen))
    if nxt in eos_ids:
      break
    ids.append(nxt)
    out.append(nxt)
  return tokenizer.decode(out, skip_special_tokens=False)


def chat_sample(folder: Path, model, tokenizer, eos_ids, device) -> dict:
  messages = [{'role': 'user', 'content': 'Blessed are the meek: for they shall inherit the earth.'}]
  try:
    hf_tok = AutoTokenizer.from_pretrained(str(folder))
    prompt = hf_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    source = 'AutoTokenizer.apply_chat_template'
  except Exception as err:  # noqa: BLE001 - the card still gets a sample; the log says why
    log(f'AutoTokenizer/chat template failed: {err!r}')
    prompt = f'<|im_start|>user\n{messages[0]["content"]}<|im_end|>\n<|im_start|>assistant\n'
    source = 'hand-rendered ChatML'
  ids = tokenizer.encode(prompt, add_special_tokens=False).ids
  reply = sample(model, tokenizer, ids, 80, 0.0, eos_ids, device)
  return {'messages': messages, 'rendered_by': source, 'prompt': prompt, 'greedy_reply': reply}


def main():
  p = argparse.ArgumentParser()
  p.add_argument('--model', required=True)
  p.add_argument('--fixture', required=True)
  args = p.parse_args()
  folder = Path(args.model)
  device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
  # Reference numbers: plain float32 matmuls (no TF32), so other float32 runners can match.
  torch.backends.cuda.matmul.allow_tf32 = False
  torch.backends.cudnn.allow_tf32 = False
  torch.set_float32_matmul_precision('highest')
  model = load_model(folder, device)
  tokenizer = Tokenizer.from_file(str(folder / 'tokenizer.json'))
  eos_ids = json.loads((folder / 'generation_config.json').read_text())['eos_token_id']
  cases = [greedy_case(model, tokenizer, prompt, eos_ids, device) for prompt in PROMPTS]
  for case in cases:
    try:
      agrees = hf_generate_agrees(model, case, device)
    except Exception as err:  # noqa: BLE001 - a cross-check only; the fixture stands without it
      agrees = f'not checked: {err!r}'
    log(f'{case["prompt"]!r} -> {case["output_text"]!r} (min margin {min(case["top1_margins"]):.4f},'
        f' HF generate agrees: {agrees})')
  fixture = {
    'model': 'models/demo',
    'generated_by': f'tools/demo-model/fixture.py: transformers {transformers.__version__}, '
    f'torch {torch.__version__}, LlamaForCausalLM.from_pretrained(dtype=float32) on '
    f'{torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}, TF32 off, '
    'full forward pass per step (no KV cache)',
    'dtype': 'float32',
    'tokenization': 'tokenizers.Tokenizer.from_file("tokenizer.json").encode(prompt, '
    'add_special_tokens=False): no BOS/EOS added (tokenizer_config.json add_bos_token=false; '
    'tokenizer.json has no post-processor)',
    'decoding': f'greedy argmax, exactly {NEW_TOKENS} new tokens, not stopped at EOS '
    '(first_eos_index says where a stopping engine would end; null = none)',
    'eos_token_ids': eos_ids,
    'max_new_tokens': NEW_TOKENS,
    'cases': cases,
  }
  Path(args.fixture).parent.mkdir(parents=True, exist_ok=True)
  Path(args.fixture).write_text(json.dumps(fixture, indent=2) + '\n')
  log(f'wrote {args.fixture}')

  start = tokenizer.encode('In the beginning', add_special_tokens=False).ids
  samples = {
    'greedy': 'In the beginning' + sample(model, tokenizer, start, 96, 0.0, eos_ids, device),
    'temperature_0.8': [
      'In the beginning' + sample(model, tokenizer, start, 96, 0.8, eos_ids, device, seed=s)
      for s in (1, 2)
    ],
    'chat': chat_sample(folder, model, tokenizer, eos_ids, device),
  }
  for name, text in samples.items():
    log(f'sample {name}: {text!r}')
  report = json.loads((folder / 'report.json').read_text())
  report['samples'] = samples
  (folder / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
  (folder / 'README.md').write_text(card.render(report))
  log('wrote model card README.md')


if __name__ == '__main__':
  main()
