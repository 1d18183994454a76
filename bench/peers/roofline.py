#!/usr/bin/env python3
"""A roofline for LLM serving on this GPU: measure what the device really does (HBM copy
bandwidth, bf16 GEMM throughput) and turn it into the best output throughput any engine could
reach for a model and workload.

Per decode step with B running sequences of context c_i:
  bytes  >= weight bytes + sum(c_i) * KV bytes per token        (every weight and KV read once)
  flops  >= 2 * params * tokens in the step + 4 * layers * q_dim * sum(c_i)  (attention)
  time   >= max(bytes / bandwidth, flops / peak)
The `decode` line gives B / time for a fixed context (the throughput-vs-concurrency chart);
`workload` simulates the whole request list with at most B sequences in flight (prefills
included as extra tokens in the step they start), giving a ceiling for `bench throughput`.

  python3 bench/peers/roofline.py --config llama-3.1-8b --workload nano.json --result-file r.json
"""
import argparse
import datetime
import json
import sys

from workload import load_config_dict, load_workload


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="llama-3.1-8b")
    p.add_argument("--workload", help="JSON from bench/export-workload.ts (else nano-vllm drawn here)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--copy-gib", type=float, default=2.0, help="bytes per copy for the bandwidth test")
    p.add_argument("--gemm-size", type=int, default=8192)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--context", type=int, default=1024, help="context length for the decode line")
    p.add_argument("--concurrency", default="1,2,4,8,16,32,64,128,256")
    p.add_argument("--max-num-seqs", type=int, default=256, help="slots for the workload simulation")
    p.add_argument("--result-file")
    return p.parse_args()


def timed(torch, fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / iters


def measure(args):
    import torch

    n = int(args.copy_gib * 2**30)
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    copy_s = timed(torch, lambda: dst.copy_(src), args.iters)
    del src, dst
    k = args.gemm_size
    a = torch.randn(k, k, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(k, k, dtype=torch.bfloat16, device="cuda")
    gemm_s = timed(torch, lambda: a @ b, args.iters)
    return {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        # A copy reads and writes every byte.
        "hbmBandwidthGBs": 2 * n / copy_s / 1e9,
        "bf16GemmTflops": 2 * k**3 / gemm_s / 1e12,
        "copyBytes": n,
        "gemmSize": k,
    }


def model_costs(cfg):
    h, layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    heads, kv_heads = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    head_dim = cfg.get("head_dim") or h // heads
    inter, vocab = cfg["intermediate_size"], cfg["vocab_size"]
    q_dim, kv_dim = heads * head_dim, kv_heads * head_dim
    per_layer = h * (q_dim + 2 * kv_dim) + q_dim * h + 3 * h * inter + 2 * h
    embed = vocab * h
    lm_head = 0 if cfg.get("tie_word_embeddings") else vocab * h
    params = layers * per_layer + embed + lm_head + h
    # Per generated token only the embedding row is read, but the whole lm_head is multiplied.
    matmul_params = layers * per_layer + vocab * h
    bytes_per = 2  # bf16
    return {
        "params": params,
        "matmulParams": matmul_params,
        "weightBytes": (params - embed + (embed if lm_head == 0 else 0)) * bytes_per,
        "kvBytesPerToken": 2 * layers * kv_dim * bytes_per,
        "attnFlopsPerContextToken": 4 * layers * q_dim,
    }


def step_time(costs, hw, tokens, context_sum):
    bytes_ = costs["weightBytes"] + context_sum * costs["kvBytesPerToken"]
    flops = 2 * costs["matmulParams"] * tokens + costs["attnFlopsPerContextToken"] * context_sum
    return max(bytes_ / (hw["hbmBandwidthGBs"] * 1e9), flops / (hw["bf16GemmTflops"] * 1e12))


def decode_line(costs, hw, context, concurrency):
    return [{"concurrency": b, "outputTokensPerS": b / step_time(costs, hw, b, b * context)}
            for b in concurrency]


def simulate_workload(costs, hw, requests, max_num_seqs):
    """FIFO admission into max_num_seqs slots; one decode token per running sequence per step."""
    waiting = [(len(r["prompt_token_ids"]), r["output_len"]) for r in requests]
    waiting.reverse()
    running, total_s, n_out, n_in = [], 0.0, 0, 0
    while waiting or running:
        prefill = 0
        while waiting and len(running) < max_num_seqs:
            n_prompt, n_gen = waiting.pop()
            prefill += n_prompt
            n_in += n_prompt
            running.append([n_prompt, n_gen])
        context_sum = sum(c for c, _ in running)
        total_s += step_time(costs, hw, len(running) + prefill, context_sum)
        n_out += len(running)
        for seq in running:
            seq[0] += 1
            seq[1] -= 1
        running = [s for s in running if s[1] > 0]
    return {"maxNumSeqs": max_num_seqs, "durationS": total_s, "totalInputTokens": n_in,
            "totalOutputTokens": n_out, "outputTokensPerS": n_out / total_s,
            "totalTokensPerS": (n_in + n_out) / total_s}


def main():
    args = parse_args()
    hw = measure(args)
    cfg = load_config_dict(args.config)
    costs = model_costs(cfg)
    wl = load_workload(args.workload, seed=args.seed, vocab_size=cfg["vocab_size"])
    concurrency = [int(c) for c in args.concurrency.split(",")]
    result = {
        "schema": "edgeserve.bench.roofline/1",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "measured": hw,
        "model": {"config": cfg.get("_source"), **costs},
        "decode": {"context": args.context, "line": decode_line(costs, hw, args.context, concurrency)},
        "workload": {**{k: wl[k] for k in ("dataset", "seed", "source") if k in wl},
                     **simulate_workload(costs, hw, wl["requests"], args.max_num_seqs)},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.result_file:
        with open(args.result_file, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
