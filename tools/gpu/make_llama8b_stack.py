"""A Llama-3.1-8B-shaped checkpoint with only a few layers (random weights, bf16, llama3 RoPE
scaling), built on the GPU and saved with save_pretrained; plus a prompt in tokens.json.
Usage: python3 make_llama8b_stack.py DIR [NUM_LAYERS]"""
import json
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

out = sys.argv[1]
layers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
config = LlamaConfig(
    vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=layers,
    num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
    rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False, bos_token_id=128000,
    eos_token_id=128001,
    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
)
torch.manual_seed(0)
with torch.device("cuda"):
    model = LlamaForCausalLM(config).to(torch.bfloat16)
model.save_pretrained(out, safe_serialization=True)
g = torch.Generator().manual_seed(1)
json.dump(torch.randint(0, 128256, (320,), generator=g).tolist(), open(f"{out}/tokens.json", "w"))
print(f"wrote {out} ({layers} layers)")
