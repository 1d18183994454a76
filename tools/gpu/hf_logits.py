"""Teacher-forced logits from Hugging Face transformers on the GPU, the reference the CUDA runner
is compared with. For each model DIR: reads DIR/tokens.json, runs one forward pass in bf16, and
writes DIR/hf_logits.f32 (float32, [len(tokens), vocab], row i = logits after token i), then the
same in float32 to DIR/hf_logits_fp32.f32.
Usage: python3 hf_logits.py DIR [DIR ...]"""
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM

def run(d):
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.bfloat16).cuda().eval()
    tokens = json.load(open(f"{d}/tokens.json"))
    with torch.no_grad():
        logits = model(torch.tensor([tokens], device="cuda")).logits[0].float()
    logits.cpu().numpy().tofile(f"{d}/hf_logits.f32")
    info = {"tokens": len(tokens), "vocab": logits.shape[1], "transformers": __import__("transformers").__version__,
            "torch": torch.__version__, "device": torch.cuda.get_device_name(0),
            "attn_implementation": model.config._attn_implementation}
    json.dump(info, open(f"{d}/hf_meta.json", "w"))
    print(f"{d}: {info} in {time.time() - t0:.1f}s", flush=True)
    # HF's own bf16 noise: the same forward in float32, the yardstick for our tolerance.
    model = model.float()
    with torch.no_grad():
        ref = model(torch.tensor([tokens], device="cuda")).logits[0].float()
    ref.cpu().numpy().tofile(f"{d}/hf_logits_fp32.f32")
    print(f"  bf16 vs fp32 max abs diff {(logits - ref).abs().max().item():.4f}", flush=True)
    del model
    torch.cuda.empty_cache()


# One model that transformers cannot load or run (a config it rejects) must not cost the others.
failed = 0
for d in sys.argv[1:]:
    try:
        run(d)
    except Exception as e:  # noqa: BLE001
        failed += 1
        print(f"{d}: FAILED {type(e).__name__}: {e}", flush=True)
sys.exit(1 if failed else 0)
