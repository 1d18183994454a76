#!/usr/bin/env python3
"""The transformers continuous-batching peer (bench/peers/hf_generate_batch.py's model and
manager setup, reused as is) with per-request timing: all requests are submitted at t=0 with
streaming on, so each request's first and last token times give TTFT and TPOT, measured the same
way tools/gpu/bench-latency.ts measures ours. Writes partial results every few seconds, and stops
itself at --deadline-s, so a slow peer still leaves numbers (marked partial).

  python3 tools/gpu/hf_peer_latency.py --workload wl.json --count 200 --result-file out.json
"""
import argparse
import datetime
import inspect
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers"))
from hf_generate_batch import build_model, init_manager, is_finished  # noqa: E402
from workload import load_workload  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="llama-3.1-8b")
    p.add_argument("--num-layers", type=int)
    p.add_argument("--workload", required=True)
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--attn-implementation", default="paged|sdpa")
    p.add_argument("--block-size", type=int)
    p.add_argument("--max-batch-tokens", type=int)
    p.add_argument("--cb-option", action="append", default=[])
    p.add_argument("--deadline-s", type=float, default=300)
    p.add_argument("--result-file", required=True)
    return p.parse_args()


def pct(values):
    v = sorted(x for x in values if x == x)
    if not v:
        return None
    at = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return {"mean": sum(v) / len(v), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": v[-1]}


def summarise(args, wl, requests, state, start, end, partial, info, streaming):
    first, last, tokens, done, native = state
    out = sum(tokens.values())
    duration = end - start
    tpot = [(last[r] - first[r]) / (tokens[r] - 1) * 1e3 for r in done if tokens[r] > 1 and r in first]
    return {
        "schema": "edgeserve.bench.peer/1",
        "label": "hf-transformers-cb",
        "peer": "transformers continuous batching (offline), per-request timing",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "partial": partial,
        **info,
        "workload": {"source": args.workload, "count": len(requests), "seed": wl.get("seed")},
        "streaming": streaming,
        "metrics": {
            "completed": len(done), "submitted": len(requests), "durationS": duration,
            "inputTokens": sum(len(r["prompt_token_ids"]) for r in requests),
            "outputTokens": out, "outputTokensPerSecond": out / duration if duration > 0 else None,
            "ttftMs": pct([(first[r] - start) * 1e3 for r in first]) if streaming else None,
            "tpotMs": pct(tpot) if streaming else None,
            "e2eMs": pct([(last[r] - start) * 1e3 for r in done]),
            # transformers' own per-request stamps (GenerationOutput.created_time and
            # first_token_time), where this version records them: a cross-check of ttftMs.
            "ttftMsNative": pct([(f - c) * 1e3 for c, f in native.values()]) if native else None,
        },
    }


def write(path, doc):
    with open(path, "w") as f:
        f.write(json.dumps(doc, indent=2) + "\n")


def main():
    args = parse_args()
    import torch
    import transformers

    wl = load_workload(args.workload)
    requests = wl["requests"][: args.count]
    args.max_new_tokens = max(r["output_len"] for r in requests)
    model, model_info = build_model(args, torch)
    vocab = model.config.vocab_size
    for r in requests:
        r["prompt_token_ids"] = [t % vocab for t in r["prompt_token_ids"]]
    info = {"device": torch.cuda.get_device_name(0), "model": model_info,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
            "engine": {"attn_implementation": args.attn_implementation, "cb_option": args.cb_option}}
    manager = init_manager(model, args)
    manager.start()
    add_params = inspect.signature(manager.add_request).parameters
    streaming = "streaming" in add_params
    first, last, tokens, done, native = {}, {}, {}, set(), {}
    partial = False
    try:
        for i in range(4):  # warm-up, not timed
            manager.add_request(input_ids=list(range(1, 65)), request_id=f"warm{i}", max_new_tokens=8)
        warm_done = 0
        while warm_done < 4:
            res = manager.get_result(timeout=5)
            if res is not None and is_finished(res):
                warm_done += 1
        start = time.perf_counter()
        for i, r in enumerate(requests):
            kwargs = {"input_ids": r["prompt_token_ids"], "request_id": f"req{i}",
                      "max_new_tokens": r["output_len"]}
            if streaming:
                kwargs["streaming"] = True
            manager.add_request(**kwargs)
        next_dump = start + 10
        while len(done) < len(requests):
            now = time.perf_counter()
            if now - start > args.deadline_s:
                partial = True
                break
            if now > next_dump:
                write(args.result_file, summarise(args, wl, requests, (first, last, tokens, done, native),
                                                  start, now, True, info, streaming))
                next_dump = now + 10
            res = manager.get_result(timeout=1)
            if res is None:
                continue
            t = time.perf_counter()
            rid = res.request_id
            n = len(res.generated_tokens)
            if n > 0 and rid not in first:
                first[rid] = t
            tokens[rid] = n
            last[rid] = t
            if is_finished(res):
                done.add(rid)
                c, f = getattr(res, "created_time", None), getattr(res, "first_token_time", None)
                if isinstance(c, float) and isinstance(f, float) and f >= c:
                    native[rid] = (c, f)
        end = time.perf_counter()
    finally:
        manager.stop(block=not partial)
    doc = summarise(args, wl, requests, (first, last, tokens, done, native), start, end, partial,
                    info, streaming)
    write(args.result_file, doc)
    print(json.dumps(doc["metrics"]))
    sys.stdout.flush()
    os._exit(0)  # the manager's thread may still be draining after a deadline stop


if __name__ == "__main__":
    sys.exit(main())
