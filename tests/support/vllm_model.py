"""Write a tiny random-weight model for real vLLM: run with the vLLM venv's Python
(it has torch and transformers; the test venv does not), as
``python tests/support/vllm_model.py DIR [MODEL_TYPE]`` (llama by default; also mistral,
qwen2, qwen3, gemma2, phi3, mixtral). Hidden 256, 2 layers, 4 heads, 2 KV heads,
head_dim 64 (vLLM's CPU attention refuses 16), bf16; a byte-level BPE tokenizer
trained on a few sentences, so any text encodes."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

CORPUS = ["Hello, my name is tgictl and I plan inference servers.", "The quick brown fox jumps over the lazy dog.",
          "Kubernetes schedules pods onto nodes; the kubelet probes them."] * 20
CONTEXT = 2048


# Per architecture, what it needs beyond the shared tiny dimensions.
# Per architecture, its own shape (so a wrong KV formula cannot pass by coincidence) and what it needs.
EXTRA = {
    "llama": {},
    "mistral": {"num_hidden_layers": 3, "num_key_value_heads": 1},
    "qwen2": {"num_hidden_layers": 3, "num_key_value_heads": 4},
    "qwen3": {"head_dim": 128, "num_key_value_heads": 1},
    "gemma2": {"sliding_window": 512, "num_hidden_layers": 4, "head_dim": 128},
    "phi3": {"pad_token_id": 0, "num_hidden_layers": 3, "num_key_value_heads": 4},
    "mixtral": {"num_local_experts": 2, "num_experts_per_tok": 2, "num_hidden_layers": 5},
}


def write(directory: Path, model_type: str = "llama") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=512, special_tokens=["<s>", "</s>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", model_max_length=CONTEXT)
    tokenizer.chat_template = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}<s>assistant: {% endif %}")
    tokenizer.save_pretrained(directory)
    shape = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 64, **EXTRA[model_type]}
    config = AutoConfig.for_model(model_type, vocab_size=len(tokenizer), max_position_embeddings=CONTEXT,
                                  bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, torch_dtype="bfloat16",
                                  **shape)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).to(torch.bfloat16).save_pretrained(directory)


if __name__ == "__main__":
    write(Path(sys.argv[1]), *sys.argv[2:3])
