"""Header-only safetensors checkpoints for tests, in the documented file format:
an 8-byte little-endian header length, the JSON header, then the data (omitted
here: the planner never reads past the header).

Tensor names and shapes follow the Hugging Face Llama layout, written out
independently of the planner's own parameter arithmetic.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

DTYPE_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "I32": 4}


def llama_tensors(config: dict, dtype: str = "BF16") -> dict[str, tuple[str, list[int]]]:
    h, inter, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = h // heads
    tensors = {"model.embed_tokens.weight": (dtype, [vocab, h]), "model.norm.weight": (dtype, [h]),
               "lm_head.weight": (dtype, [vocab, h])}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        tensors.update({
            p + "self_attn.q_proj.weight": (dtype, [heads * head_dim, h]),
            p + "self_attn.k_proj.weight": (dtype, [kv * head_dim, h]),
            p + "self_attn.v_proj.weight": (dtype, [kv * head_dim, h]),
            p + "self_attn.o_proj.weight": (dtype, [h, heads * head_dim]),
            p + "mlp.gate_proj.weight": (dtype, [inter, h]),
            p + "mlp.up_proj.weight": (dtype, [inter, h]),
            p + "mlp.down_proj.weight": (dtype, [h, inter]),
            p + "input_layernorm.weight": (dtype, [h]),
            p + "post_attention_layernorm.weight": (dtype, [h]),
        })
    return tensors


def write_header_only(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = DTYPE_BYTES[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def write_sharded(directory: Path, tensors: dict[str, tuple[str, list[int]]], shards: int = 2) -> None:
    names = list(tensors)
    per = -(-len(names) // shards)
    for index in range(shards):
        part = {n: tensors[n] for n in names[index * per:(index + 1) * per]}
        write_header_only(directory / f"model-{index + 1:05d}-of-{shards:05d}.safetensors", part)
