"""Measures the two ceilings on this GPU: device-to-device copy bandwidth (bytes read + written)
and a bf16 GEMM rate, both on random data, medians of timed repeats. Prints and writes JSON.
Usage: python3 roofline.py OUT.json"""
import json
import sys

import torch

def median_ms(fn, reps=20):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]

n = 1 << 30
src = torch.randn(n // 2, device="cuda", dtype=torch.bfloat16)
dst = torch.empty_like(src)
copy_ms = median_ms(lambda: dst.copy_(src))
bandwidth = 2 * src.numel() * 2 / (copy_ms / 1e3)
m = 8192
a = torch.randn(m, m, device="cuda", dtype=torch.bfloat16)
b = torch.randn(m, m, device="cuda", dtype=torch.bfloat16)
mm_ms = median_ms(lambda: a @ b)
tflops = 2 * m ** 3 / (mm_ms / 1e3) / 1e12
out = {"device": torch.cuda.get_device_name(0), "copy_bytes_per_s": bandwidth,
       "bf16_gemm_tflops": tflops, "gemm_shape": [m, m, m]}
print(json.dumps(out))
json.dump(out, open(sys.argv[1], "w"), indent=2)
