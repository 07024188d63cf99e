"""GGUF files of real models' shapes for planning: the header as llama.cpp's converter
writes it for a Llama-family config.json, the data section left sparse (no disk used),
since planning reads only the header."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np

from support.data import FIXTURES

Q4_K, Q6_K, F32 = gguf.GGMLQuantizationType.Q4_K, gguf.GGMLQuantizationType.Q6_K, gguf.GGMLQuantizationType.F32


def _nbytes(shape: tuple[int, ...], qtype: gguf.GGMLQuantizationType) -> int:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    return int(np.prod(shape)) // block * size


def write_llama_gguf(path: Path, model: str, architecture: str = "llama") -> Path:
    """``tests/fixtures/models/<model>``'s shapes at Q4_K (norms F32, head Q6_K), as a GGUF."""
    config = json.loads((FIXTURES / "models" / model / "config.json").read_text())
    hidden, heads, ffn = config["hidden_size"], config["num_attention_heads"], config["intermediate_size"]
    kv_dim = config.get("num_key_value_heads", heads) * hidden // heads
    writer = gguf.GGUFWriter(str(path), architecture)
    for key, value in (("block_count", config["num_hidden_layers"]), ("embedding_length", hidden), ("feed_forward_length", ffn),
                       ("attention.head_count", heads), ("attention.head_count_kv", kv_dim * heads // hidden),
                       ("context_length", config["max_position_embeddings"]), ("vocab_size", config["vocab_size"])):
        writer.add_uint32(f"{architecture}.{key}", value)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    tensors = [("token_embd.weight", (config["vocab_size"], hidden), Q4_K), ("output_norm.weight", (hidden,), F32),
               ("output.weight", (config["vocab_size"], hidden), Q6_K)]
    for layer in range(config["num_hidden_layers"]):
        tensors += [(f"blk.{layer}.{name}", shape, F32 if len(shape) == 1 else Q4_K) for name, shape in (
            ("attn_norm.weight", (hidden,)), ("attn_q.weight", (hidden, hidden)), ("attn_k.weight", (kv_dim, hidden)),
            ("attn_v.weight", (kv_dim, hidden)), ("attn_output.weight", (hidden, hidden)), ("ffn_norm.weight", (hidden,)),
            ("ffn_gate.weight", (ffn, hidden)), ("ffn_up.weight", (ffn, hidden)), ("ffn_down.weight", (hidden, ffn)))]
    for name, shape, qtype in tensors:
        writer.add_tensor_info(name, shape, np.dtype(np.float32), _nbytes(shape, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    data = sum(_nbytes(shape, qtype) + 32 for _, shape, qtype in tensors)  # each tensor padded to the alignment
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size + data)
    return path
