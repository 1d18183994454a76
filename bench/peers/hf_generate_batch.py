#!/usr/bin/env python3
"""The Hugging Face transformers peer: the same workload through transformers' own continuous
batching (paged attention, `ContinuousBatchingManager`), random bf16 weights from a config, one
GPU. Offline (no HTTP), so compare it with `edgeserve bench throughput` on the same device, and
with `bench serve` for what HTTP adds.

  python3 bench/peers/hf_generate_batch.py --config llama-3.1-8b --workload nano.json \
      --result-file bench/results/hf-llama8b-nano.json

Only torch + transformers 5.x. Prints one JSON document and writes it with --result-file.
"""
import argparse
import datetime
import inspect
import json
import platform
import sys
import time

from workload import load_config_dict, load_workload


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="llama-3.1-8b", help="config.json path, or llama-3.1-8b / qwen3-0.6b")
    p.add_argument("--num-layers", type=int, help="override num_hidden_layers (quick checks)")
    p.add_argument("--workload", help="JSON from bench/export-workload.ts (else drawn here)")
    p.add_argument("--dataset", default="nano-vllm", choices=["nano-vllm", "random"])
    p.add_argument("--num-prompts", type=int, default=256)
    p.add_argument("--min-len", type=int, default=100)
    p.add_argument("--max-len", type=int, default=1024)
    p.add_argument("--input-len", type=int, default=1024)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--attn-implementation", default="paged|sdpa",
                   help="paged|sdpa (no extra packages), paged|flash_attention_2, ...")
    p.add_argument("--block-size", type=int, help="KV block size (library default if unset)")
    p.add_argument("--max-batch-tokens", type=int, help="token budget per step (library default if unset)")
    p.add_argument("--cb-option", action="append", default=[], metavar="KEY=VALUE",
                   help="extra ContinuousBatchingConfig field, e.g. use_cuda_graph=true (repeatable)")
    p.add_argument("--warmup-requests", type=int, default=8)
    p.add_argument("--timeout-s", type=float, default=1800)
    p.add_argument("--label", default="hf-transformers-cb")
    p.add_argument("--result-file")
    return p.parse_args()


def build_model(args, torch):
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = load_config_dict(args.config, args.num_layers)
    source = cfg.pop("_source")
    model_type = cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **cfg)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    # Initialise directly on the GPU: random init of 8B parameters on the CPU takes minutes.
    with torch.device("cuda"):
        try:
            model = AutoModelForCausalLM.from_config(
                config, dtype=torch.bfloat16, attn_implementation=args.attn_implementation)
        except TypeError:
            model = AutoModelForCausalLM.from_config(
                config, torch_dtype=torch.bfloat16, attn_implementation=args.attn_implementation)
    model.eval()
    torch.cuda.synchronize()
    params = sum(p.numel() for p in model.parameters())
    return model, {"source": source, "model_type": model_type, "num_layers": config.num_hidden_layers,
                   "params": params, "dtype": "bfloat16", "init_s": time.perf_counter() - start}


def parse_value(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def cb_config_kwargs(args):
    out = {k: parse_value(v) for k, v in (item.split("=", 1) for item in args.cb_option)}
    if args.block_size:
        out["block_size"] = args.block_size
    if args.max_batch_tokens:
        out["max_batch_tokens"] = args.max_batch_tokens
    return out


def init_manager(model, args):
    """transformers moved continuous-batching knobs into ContinuousBatchingConfig during 5.x."""
    from transformers import GenerationConfig

    gen = GenerationConfig(max_new_tokens=args.max_new_tokens, do_sample=False, eos_token_id=-1,
                           pad_token_id=0)
    kwargs = cb_config_kwargs(args)
    try:
        from transformers.generation import ContinuousBatchingConfig
        return model.init_continuous_batching(
            generation_config=gen, continuous_batching_config=ContinuousBatchingConfig(**kwargs))
    except ImportError:
        for key, value in kwargs.items():
            setattr(gen, key, value)
        return model.init_continuous_batching(generation_config=gen)


def is_finished(result):
    fn = getattr(result, "is_finished", None)
    if callable(fn):
        return fn()
    return getattr(getattr(result, "status", None), "name", "") in ("FINISHED", "FAILED")


def run_requests(manager, requests, prefix, timeout_s):
    """Submits everything at once (like `bench throughput`) and waits for every result."""
    add_params = inspect.signature(manager.add_request).parameters
    per_request_len = "max_new_tokens" in add_params
    start = time.perf_counter()
    for i, r in enumerate(requests):
        kwargs = {"input_ids": r["prompt_token_ids"], "request_id": f"{prefix}{i}"}
        if per_request_len:
            kwargs["max_new_tokens"] = r["output_len"]
        if "eos_token_id" in add_params:
            kwargs["eos_token_id"] = -1
        manager.add_request(**kwargs)
    outputs, failed = {}, 0
    while len(outputs) + failed < len(requests):
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError(f"{len(outputs)}/{len(requests)} finished after {timeout_s}s")
        res = manager.get_result(timeout=1)
        if res is None or not is_finished(res):
            continue
        if getattr(res, "error", None):
            failed += 1
        else:
            outputs[res.request_id] = len(res.generated_tokens)
    return time.perf_counter() - start, outputs, failed, per_request_len


def main():
    args = parse_args()
    import torch
    import transformers

    wl = load_workload(args.workload, args.dataset, args.num_prompts, args.min_len, args.max_len,
                       args.input_len, args.output_len, seed=args.seed)
    requests = wl["requests"]
    args.max_new_tokens = max(r["output_len"] for r in requests)
    model, model_info = build_model(args, torch)
    vocab = model.config.vocab_size
    for r in requests:
        r["prompt_token_ids"] = [t % vocab for t in r["prompt_token_ids"]]
    manager = init_manager(model, args)
    manager.start()
    try:
        warm = [{"prompt_token_ids": list(range(1, 65)), "output_len": 16}] * args.warmup_requests
        warmup_s = run_requests(manager, warm, "warm", args.timeout_s)[0] if warm else 0.0
        duration_s, outputs, failed, per_request_len = run_requests(manager, requests, "req", args.timeout_s)
    finally:
        manager.stop(block=True)
    n_in = sum(len(r["prompt_token_ids"]) for r in requests)
    n_out = sum(outputs.values())
    expected_out = sum(r["output_len"] for r in requests)
    result = {
        "schema": "edgeserve.bench.peer/1",
        "label": args.label,
        "peer": "transformers continuous batching (offline)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "device": torch.cuda.get_device_name(0),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "cuda": torch.version.cuda},
        "model": model_info,
        "engine": {"attn_implementation": args.attn_implementation, **cb_config_kwargs(args),
                   "per_request_max_new_tokens": per_request_len, "eos": "disabled (-1)"},
        "workload": {k: wl[k] for k in ("dataset", "seed", "vocabSize", "source") if k in wl},
        "metrics": {
            "completed": len(outputs), "failed": failed, "durationS": duration_s, "warmupS": warmup_s,
            "totalInputTokens": n_in, "totalOutputTokens": n_out, "expectedOutputTokens": expected_out,
            "requestThroughput": len(outputs) / duration_s,
            "outputThroughput": n_out / duration_s,
            "totalTokenThroughput": (n_in + n_out) / duration_s,
            "peakMemoryGiB": torch.cuda.max_memory_allocated() / 2**30,
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.result_file:
        with open(args.result_file, "w") as f:
            f.write(text + "\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
