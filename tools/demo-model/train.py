"""Trains the demo model from scratch: a ~12 M-parameter Llama on the King James Bible.

One GPU, a few minutes. The corpus is ~1.15 M tokens, so the model is data-limited, not
compute-limited: instead of one long run (which would just memorise), a few short runs with
different epoch counts and dropout go in turn (each with its own cosine schedule, until the
time budget is spent) and the run with the lowest held-out loss is kept.
Writes a Hugging Face folder (config, sharded bf16 safetensors, tokenizer, generation config)
and report.json (numbers for the model card). fixture.py then checks it and writes the card.

  python3 train.py --verses .demo-data/kjv-verses.txt --out /tmp/demo [--budget-s 330]
  python3 train.py ... --smoke   # tiny model, a few steps: checks the plumbing on CPU
"""

import argparse
import json
import math
import platform
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM

import bpe
import corpus

# Tried in this order while the budget lasts (later ones only if they fit).
RUNS = [
  {'name': 'e30-d0.1', 'epochs': 30, 'dropout': 0.1, 'lr': 2e-3},
  {'name': 'e12-d0.0', 'epochs': 12, 'dropout': 0.0, 'lr': 2e-3},
  {'name': 'e60-d0.2', 'epochs': 60, 'dropout': 0.2, 'lr': 2e-3},
  {'name': 'e100-d0.3', 'epochs': 100, 'dropout': 0.3, 'lr': 1.5e-3},
  {'name': 'e40-d0.15', 'epochs': 40, 'dropout': 0.15, 'lr': 3e-3},
]
SMOKE_RUNS = [{'name': 'smoke', 'epochs': 0.02, 'dropout': 0.1, 'lr': 1e-3}]

DIMS = {
  'hidden_size': 384,
  'intermediate_size': 960,
  'num_hidden_layers': 6,
  'num_attention_heads': 6,
  'num_key_value_heads': 2,
}
SMOKE_DIMS = {
  'hidden_size': 64,
  'intermediate_size': 128,
  'num_hidden_layers': 2,
  'num_attention_heads': 4,
  'num_key_value_heads': 2,
}
MAX_SHARD_BYTES = 13_000_000  # each file must come back from the GPU machine (< 16 MiB)


def parse_args():
  p = argparse.ArgumentParser()
  p.add_argument('--verses', required=True)
  p.add_argument('--out', required=True)
  p.add_argument('--budget-s', type=float, default=330.0, help='wall time for all training runs')
  p.add_argument('--seed', type=int, default=1234)
  p.add_argument('--vocab', type=int, default=8192)
  p.add_argument('--seq', type=int, default=1024)
  p.add_argument('--batch', type=int, default=32)
  p.add_argument('--val-fraction', type=float, default=0.02)
  p.add_argument('--chat-docs', type=int, default=2000)
  p.add_argument('--smoke', action='store_true')
  return p.parse_args()


def log(msg: str) -> None:
  print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)


def token_stream(tokenizer, docs: list) -> torch.Tensor:
  """Documents back to back, each closed by <|eos|> (packing; no <|bos|>, as at inference)."""
  ids = []
  for enc in tokenizer.encode_batch(docs, add_special_tokens=False):
    ids.extend(enc.ids)
    ids.append(bpe.EOS_ID)
  return torch.tensor(ids, dtype=torch.long)


def model_config(args) -> LlamaConfig:
  common = {
    'vocab_size': args.vocab,
    'max_position_embeddings': args.seq,
    'rms_norm_eps': 1e-5,
    'tie_word_embeddings': True,
    'hidden_act': 'silu',
    'initializer_range': 0.02,
    'bos_token_id': bpe.BOS_ID,
    'eos_token_id': bpe.EOS_ID,
    'pad_token_id': bpe.PAD_ID,
    **(SMOKE_DIMS if args.smoke else DIMS),
  }
  try:  # transformers 5 spelling
    return LlamaConfig(**common, rope_parameters={'rope_type': 'default', 'rope_theta': 10000.0})
  except TypeError as err:
    log(f'LlamaConfig(rope_parameters=...) refused ({err}); using rope_theta')
    return LlamaConfig(**common, rope_theta=10000.0)


def new_model(cfg):
  try:
    model = LlamaForCausalLM._from_config(cfg, attn_implementation='sdpa')
  except Exception as err:  # noqa: BLE001 - older/newer API: fall back to the default attention
    log(f'_from_config(attn_implementation=sdpa) failed ({err}); using the default')
    model = LlamaForCausalLM(cfg)
  log(f'attention implementation: {getattr(model.config, "_attn_implementation", "?")}')
  return model


def add_dropout(model, p: float) -> list:
  """Residual-branch and embedding dropout through hooks: LlamaForCausalLM has no such knob,
  and hooks leave the saved architecture untouched (they are removed before saving)."""
  if p <= 0:
    return []

  def hook(module, _args, output):
    return F.dropout(output, p, module.training)

  inner = model.model
  modules = [inner.embed_tokens]
  for layer in inner.layers:
    modules += [layer.self_attn.o_proj, layer.mlp.down_proj]
  return [m.register_forward_hook(hook) for m in modules]


def forward_loss(model, x, y, device) -> torch.Tensor:
  with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == 'cuda'):
    logits = model(input_ids=x, use_cache=False).logits
  return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))


@torch.no_grad()
def evaluate(model, ids: torch.Tensor, seq: int, device, max_windows: int = 64) -> float:
  """Mean next-token loss over non-overlapping windows (eval mode: no dropout)."""
  was_training = model.training
  model.eval()
  n = min((ids.numel() - 1) // seq, max_windows)
  x = ids[: n * seq].view(n, seq).to(device)
  y = ids[1 : n * seq + 1].view(n, seq).to(device)
  total = 0.0
  for i in range(0, n, 16):
    total += forward_loss(model, x[i : i + 16], y[i : i + 16], device).item() * x[i : i + 16].numel()
  model.train(was_training)
  return total / (n * seq)


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
  if step < warmup:
    return peak * (step + 1) / warmup
  progress = min(1.0, (step - warmup) / max(1, total - warmup))
  floor = peak * 0.1
  return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def train_run(spec, args, cfg, train_ids, val_ids, device, budget_end, step_time_hint):
  torch.manual_seed(args.seed)
  model = new_model(cfg).to(device)
  inner = model.model
  assert model.lm_head.weight.data_ptr() == inner.embed_tokens.weight.data_ptr(), 'not tied'
  hooks = add_dropout(model, spec['dropout'])
  params = list(model.named_parameters())
  groups = [
    {'params': [p for _, p in params if p.dim() >= 2], 'weight_decay': 0.1},
    {'params': [p for _, p in params if p.dim() < 2], 'weight_decay': 0.0},
  ]
  fused = device.type == 'cuda'
  opt = torch.optim.AdamW(groups, lr=spec['lr'], betas=(0.9, 0.95), eps=1e-8, fused=fused)
  tokens_per_step = args.batch * args.seq
  total = max(10, math.ceil(spec['epochs'] * train_ids.numel() / tokens_per_step))
  warmup = min(100, total // 10)
  if step_time_hint and time.time() + total * step_time_hint * 1.1 > budget_end:
    log(f'skip {spec["name"]}: {total} steps would not fit the budget')
    return None
  eval_every = max(1, total // 8)
  gen = torch.Generator(device=device).manual_seed(args.seed + 7)
  data = train_ids.to(device)
  offsets = torch.arange(args.seq + 1, device=device)
  curve, running, t0, t_mark = [], torch.zeros((), device=device), time.time(), None
  log(f'run {spec["name"]}: {total} steps x {tokens_per_step} tokens, warmup {warmup}')
  model.train()
  step = 0
  while step < total:
    lr = lr_at(step, total, warmup, spec['lr'])
    for g in opt.param_groups:
      g['lr'] = lr
    starts = torch.randint(0, data.numel() - args.seq - 1, (args.batch, 1), device=device, generator=gen)
    window = data[starts + offsets]
    loss = forward_loss(model, window[:, :-1], window[:, 1:], device)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    running += loss.detach()
    step += 1
    if step == 5:
      sync(device)
      t_mark = time.time()
    if step == 25:
      sync(device)
      step_time = (time.time() - t_mark) / 20
      fit = 25 + int((budget_end - time.time()) / (step_time * 1.05))
      log(f'  {step_time * 1000:.1f} ms/step, {tokens_per_step / step_time / 1e6:.2f} M tok/s')
      if fit < total:
        log(f'  cutting {total} -> {fit} steps to fit the budget')
        total = max(step + 1, fit)
        eval_every = max(1, total // 8)
    if step % eval_every == 0 or step == total:
      train_loss = (running / (step - (curve[-1]['step'] if curve else 0))).item()
      running.zero_()
      val = evaluate(model, val_ids, args.seq, device)
      curve.append({'step': step, 'lr': lr, 'train_loss': train_loss, 'val_loss': val})
      log(f'  step {step}/{total} lr {lr:.2e} train {train_loss:.4f} val {val:.4f} ({time.time() - t0:.0f}s)')
  sync(device)
  for h in hooks:
    h.remove()
  seconds = time.time() - t0
  result = {
    **spec,
    'steps': total,
    'tokens_seen': total * tokens_per_step,
    'epochs_seen': total * tokens_per_step / train_ids.numel(),
    'seconds': seconds,
    'step_time_s': seconds / total,
    'final_val_loss': curve[-1]['val_loss'],
    'best_val_loss': min(c['val_loss'] for c in curve),
    'train_loss_eval': evaluate(model, train_ids[: 64 * args.seq + 1], args.seq, device),
    'curve': curve,
  }
  return model, result


def sync(device) -> None:
  if device.type == 'cuda':
    torch.cuda.synchronize()


def reshard(src: Path, out: Path) -> list:
  """Rewrites save_pretrained's safetensors as shards of at most MAX_SHARD_BYTES + index.json."""
  tensors = {}
  for f in sorted(src.glob('*.safetensors')):
    tensors.update(load_file(str(f)))
  shards, current, size = [], {}, 0
  for name in sorted(tensors):
    nbytes = tensors[name].numel() * tensors[name].element_size()
    if current and size + nbytes > MAX_SHARD_BYTES:
      shards.append(current)
      current, size = {}, 0
    current[name] = tensors[name].contiguous()
    size += nbytes
  shards.append(current)
  weight_map, files = {}, []
  for i, shard in enumerate(shards, 1):
    fname = f'model-{i:05d}-of-{len(shards):05d}.safetensors'
    save_file(shard, str(out / fname), metadata={'format': 'pt'})
    weight_map.update({name: fname for name in shard})
    files.append(fname)
  total = sum(t.numel() * t.element_size() for t in tensors.values())
  index = {'metadata': {'total_size': total}, 'weight_map': dict(sorted(weight_map.items()))}
  (out / 'model.safetensors.index.json').write_text(json.dumps(index, indent=2) + '\n')
  return files


def save_model(model, args, out: Path) -> list:
  model = model.to(torch.bfloat16).eval()
  staging = out / '_hf'
  model.save_pretrained(str(staging))
  files = reshard(staging, out)
  config = json.loads((staging / 'config.json').read_text())
  config['torch_dtype'] = 'bfloat16'  # transformers 5 writes "dtype"; 4.x readers want torch_dtype
  config['dtype'] = 'bfloat16'
  config['rope_theta'] = 10000.0  # also spelled the 4.x way for older loaders
  (out / 'config.json').write_text(json.dumps(config, indent=2, sort_keys=True) + '\n')
  generation = {
    'bos_token_id': bpe.BOS_ID,
    'eos_token_id': [bpe.EOS_ID, bpe.IM_END_ID],
    'pad_token_id': bpe.PAD_ID,
    'do_sample': True,
    'temperature': 0.8,
    'top_p': 0.95,
    'max_new_tokens': 256,
  }
  (out / 'generation_config.json').write_text(json.dumps(generation, indent=2) + '\n')
  shutil.rmtree(staging)
  return files


def main():
  args = parse_args()
  t_start = time.time()
  out = Path(args.out)
  if out.exists():
    shutil.rmtree(out)
  out.mkdir(parents=True)
  device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
  if device.type == 'cuda':
    torch.backends.cuda.matmul.allow_tf32 = True
  if args.smoke:
    args.vocab, args.seq, args.batch, args.chat_docs = 512, 128, 4, 50
  log(f'torch {torch.__version__}, transformers {transformers.__version__}, device {device}')

  docs = corpus.build_documents(args.verses, args.val_fraction, args.chat_docs, args.seed)
  tokenizer = bpe.train_tokenizer(docs['train_text'], args.vocab)
  bpe.write_tokenizer_files(tokenizer, out, args.seq)
  train_ids = token_stream(tokenizer, docs['train_text'] + docs['chat'])
  # Shuffle documents? Sampling random windows already mixes them; order stays canonical.
  val_ids = token_stream(tokenizer, docs['val_text'])
  log(f'corpus: {docs["chapters"]} chapters, train {train_ids.numel()} tokens '
      f'({len(docs["chat"])} chat docs), val {val_ids.numel()} tokens ({len(docs["val_text"])} chapters)')

  cfg = model_config(args)
  budget_end = time.time() + args.budget_s
  best, results, step_time = None, [], None
  for spec in SMOKE_RUNS if args.smoke else RUNS:
    if time.time() > budget_end - 10:
      log(f'skip {spec["name"]}: budget spent')
      continue
    outcome = train_run(spec, args, cfg, train_ids, val_ids, device, budget_end, step_time)
    if outcome is None:
      continue
    model, result = outcome
    step_time = result['step_time_s']
    results.append(result)
    log(f'run {result["name"]}: final val {result["final_val_loss"]:.4f}, '
        f'train(eval) {result["train_loss_eval"]:.4f}, {result["seconds"]:.0f}s')
    if best is None or result['final_val_loss'] < best[1]['final_val_loss']:
      best = (model, result)
    else:
      del model
  model, chosen = best
  params = sum(p.numel() for p in model.parameters())
  val_bf16 = evaluate(model.to(torch.bfloat16), val_ids, args.seq, device)
  log(f'chosen {chosen["name"]}: {params} parameters, val loss with bf16 weights {val_bf16:.4f}')
  files = save_model(model, args, out)
  report = {
    'parameters': params,
    'config': {**(SMOKE_DIMS if args.smoke else DIMS), 'vocab_size': args.vocab,
               'max_position_embeddings': args.seq, 'tie_word_embeddings': True},
    'data': {k: docs[k] for k in ('chapters', 'verses', 'val_chapters')}
    | {'train_tokens': train_ids.numel(), 'val_tokens': val_ids.numel(), 'chat_docs': len(docs['chat'])},
    'batch_tokens': args.batch * args.seq,
    'runs': results,
    'chosen': chosen['name'],
    'val_loss_bf16_weights': val_bf16,
    'train_seconds': sum(r['seconds'] for r in results),
    'total_seconds': time.time() - t_start,
    'gpu': torch.cuda.get_device_name() if device.type == 'cuda' else platform.processor(),
    'versions': {'torch': torch.__version__, 'transformers': transformers.__version__},
    'weight_files': files,
  }
  (out / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
  log(f'saved {out}: {sorted(p.name for p in out.iterdir())} in {report["total_seconds"]:.0f}s')


if __name__ == '__main__':
  main()
