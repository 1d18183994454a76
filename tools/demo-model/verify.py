"""CPU check of a demo-model folder against its greedy fixture, with numpy alone (no torch).

An independent float32 Llama forward pass (written from the architecture, not from transformers)
over the sharded bf16 safetensors; re-tokenizes the prompts with tokenizer.json and checks that
the greedy tokens match the fixture (a mismatch only counts where the fixture's margin is not a
near-tie) and that tokenizer.json round-trips the outputs.

  python3 tools/demo-model/verify.py models/demo test/fixtures/demo-greedy.json
"""

import json
import struct
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


def read_safetensors(path: Path) -> dict:
  raw = path.read_bytes()
  (header_len,) = struct.unpack('<Q', raw[:8])
  header = json.loads(raw[8 : 8 + header_len])
  body = raw[8 + header_len :]
  tensors = {}
  for name, info in header.items():
    if name == '__metadata__':
      continue
    assert info['dtype'] == 'BF16', f'{name}: {info["dtype"]}'
    start, end = info['data_offsets']
    bits = np.frombuffer(body[start:end], dtype='<u2').astype(np.uint32) << 16
    tensors[name] = bits.view(np.float32).reshape(info['shape'])
  return tensors


def load_weights(folder: Path) -> dict:
  index = json.loads((folder / 'model.safetensors.index.json').read_text())
  weights = {}
  for shard in sorted(set(index['weight_map'].values())):
    weights.update(read_safetensors(folder / shard))
  assert set(weights) == set(index['weight_map']), 'index and shards disagree'
  return weights


def rms_norm(x, w, eps):
  return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, theta):
  """x: [heads, T, d]; the half-split ("rotate_half") convention of HF Llama checkpoints."""
  d = x.shape[-1]
  inv = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
  ang = np.arange(x.shape[1])[:, None] * inv[None, :]
  cos = np.cos(np.concatenate([ang, ang], -1)).astype(np.float32)
  sin = np.sin(np.concatenate([ang, ang], -1)).astype(np.float32)
  rot = np.concatenate([-x[..., d // 2 :], x[..., : d // 2]], -1)
  return x * cos + rot * sin


def forward(w: dict, cfg: dict, ids: list) -> np.ndarray:
  """Logits of the last position."""
  heads, kv, hd = cfg['num_attention_heads'], cfg['num_key_value_heads'], cfg['head_dim']
  eps, theta = cfg['rms_norm_eps'], cfg['rope_parameters']['rope_theta']
  emb = w['model.embed_tokens.weight']
  x = emb[ids]
  t = len(ids)
  mask = np.triu(np.full((t, t), -np.inf, dtype=np.float32), 1)
  for i in range(cfg['num_hidden_layers']):
    p = f'model.layers.{i}.'
    h = rms_norm(x, w[p + 'input_layernorm.weight'], eps)
    q = (h @ w[p + 'self_attn.q_proj.weight'].T).reshape(t, heads, hd).transpose(1, 0, 2)
    k = (h @ w[p + 'self_attn.k_proj.weight'].T).reshape(t, kv, hd).transpose(1, 0, 2)
    v = (h @ w[p + 'self_attn.v_proj.weight'].T).reshape(t, kv, hd).transpose(1, 0, 2)
    q, k = rope(q, theta), rope(k, theta)
    group = heads // kv
    k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
    s = np.exp(s - s.max(-1, keepdims=True))
    a = (s / s.sum(-1, keepdims=True)) @ v
    x = x + a.transpose(1, 0, 2).reshape(t, heads * hd) @ w[p + 'self_attn.o_proj.weight'].T
    h = rms_norm(x, w[p + 'post_attention_layernorm.weight'], eps)
    g = h @ w[p + 'mlp.gate_proj.weight'].T
    u = h @ w[p + 'mlp.up_proj.weight'].T
    x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + 'mlp.down_proj.weight'].T
  x = rms_norm(x[-1], w['model.norm.weight'], eps)
  head = w.get('lm_head.weight', emb)
  return head @ x


def main():
  folder, fixture_path = Path(sys.argv[1]), Path(sys.argv[2])
  cfg = json.loads((folder / 'config.json').read_text())
  fixture = json.loads(fixture_path.read_text())
  weights = load_weights(folder)
  tokenizer = Tokenizer.from_file(str(folder / 'tokenizer.json'))
  failures = 0
  for case in fixture['cases']:
    prompt_ids = tokenizer.encode(case['prompt'], add_special_tokens=False).ids
    assert prompt_ids == case['prompt_ids'], f'{case["prompt"]!r}: {prompt_ids}'
    text = tokenizer.decode(case['output_ids'], skip_special_tokens=False)
    assert text == case['output_text'], f'decode: {text!r}'
    again = tokenizer.encode(case['prompt'] + text, add_special_tokens=False).ids
    ids, worst = list(prompt_ids), 0.0
    for step, expected in enumerate(case['output_ids']):
      logits = forward(weights, cfg, ids)
      got = int(np.argmax(logits))
      worst = max(worst, abs(float(logits[expected]) - case['top1_logits'][step]))
      if got != expected:
        failures += 1
        print(f'  step {step}: got {got}, fixture {expected} (margin {case["top1_margins"][step]})')
      ids.append(expected)  # follow the fixture so one near-tie does not derail the rest
    print(f'{case["prompt"]!r}: {len(case["output_ids"])} steps, max |logit diff| {worst:.2e}, '
          f're-encode round-trip {"same ids" if again == ids else "different ids (BPE merge)"}')
  print('OK' if failures == 0 else f'{failures} mismatching steps')
  sys.exit(1 if failures else 0)


if __name__ == '__main__':
  main()
