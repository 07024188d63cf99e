"""Write a tiny random-weight llama model as GGUF, for a real llama-server to serve.

No hub is reachable here, so tests make their own model: 2 layers, 64 wide,
a byte-level BPE vocabulary (GPT-2 style, 256 byte tokens plus a few merges:
llama.cpp's BPE tokenizer needs at least one merge) and <s>/</s>. The EOS
row of the output matrix is zero, so random logits rarely pick it and
answers run to max_tokens.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 64, 2, 4, 2, 128


def _byte_tokens() -> list[str]:
    """GPT-2's byte-to-unicode table: printable stand-ins for all 256 bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def write_tiny_llama(path: Path, context: int = 512, seed: int = 0, layers: int = LAYERS, architecture: str = "llama") -> Path:
    """The model at ``path``; more ``layers`` make each token slower (a stream that lasts seconds)."""
    rng = np.random.default_rng(seed)
    merges = ["Ġ t", "h e", "Ġt he", "Ġ a", "i n", "e r"]
    tokens = ["<s>", "</s>"] + _byte_tokens() + [m.replace(" ", "") for m in merges]
    types = [gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.NORMAL] * (len(tokens) - 2)
    vocab = len(tokens)

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name("tgictl-tiny-llama")
    writer.add_context_length(context)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_vocab_size(vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(1)
    writer.add_add_bos_token(True)

    def tensor(name: str, *shape: int, scale: float = 0.2) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    tensor("token_embd.weight", vocab, HIDDEN)
    writer.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    output = (rng.standard_normal((vocab, HIDDEN)) * 2.0).astype(np.float32)
    output[1] = 0.0  # EOS: logit 0 against widely spread others
    writer.add_tensor("output.weight", output)
    kv_dim = KV_HEADS * (HIDDEN // HEADS)
    for layer in range(layers):
        prefix = f"blk.{layer}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        tensor(prefix + "attn_q.weight", HIDDEN, HIDDEN)
        tensor(prefix + "attn_k.weight", kv_dim, HIDDEN)
        tensor(prefix + "attn_v.weight", kv_dim, HIDDEN)
        tensor(prefix + "attn_output.weight", HIDDEN, HIDDEN)
        tensor(prefix + "ffn_gate.weight", FFN, HIDDEN)
        tensor(prefix + "ffn_up.weight", FFN, HIDDEN)
        tensor(prefix + "ffn_down.weight", HIDDEN, FFN)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    import sys

    print(write_tiny_llama(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-llama.gguf")))
