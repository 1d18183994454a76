"""Benchmark workloads for the Python peers: read the JSON that `bench/export-workload.ts` writes
(the same seeded requests `edgeserve bench` sends), or draw one with Python's RNG (same length
distributions, different draws: say so when comparing)."""
import json
import random


def load_workload(path=None, dataset="nano-vllm", num_prompts=256, min_len=100, max_len=1024,
                  input_len=1024, output_len=128, vocab_size=10000, seed=0):
    if path:
        with open(path) as f:
            data = json.load(f)
        data["source"] = path
        return data
    rng = random.Random(seed)
    requests = []
    for _ in range(num_prompts):
        if dataset == "nano-vllm":
            n_in, n_out = rng.randint(min_len, max_len), rng.randint(min_len, max_len)
        else:
            n_in, n_out = input_len, output_len
        ids = [rng.randrange(vocab_size) for _ in range(n_in)]
        requests.append({"prompt_token_ids": ids, "output_len": n_out})
    return {
        "dataset": {"name": dataset, "numPrompts": num_prompts, "minLen": min_len, "maxLen": max_len},
        "seed": seed,
        "vocabSize": vocab_size,
        "source": "python-rng",
        "requests": requests,
    }


def load_config_dict(name_or_path, num_layers=None):
    """A config.json by path, or one of ours by name (bench/peers/configs/<name>.json)."""
    import os

    path = name_or_path
    if not os.path.exists(path):
        path = os.path.join(os.path.dirname(__file__), "configs", f"{name_or_path}.json")
    with open(path) as f:
        cfg = json.load(f)
    if num_layers:
        cfg["num_hidden_layers"] = num_layers
    cfg["_source"] = os.path.basename(path)
    return cfg
