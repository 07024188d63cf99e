"""The types of the config.json fields the planner reads, checked once where the file comes in.

A model's config is someone else's file: any field may be missing, null, or of a type no
reader expects (`architectures: true`, `quantization_config: [null]`, `bits: "4"`). The
readers in architectures.py and memory.py may then trust what they read; every other field
passes through unchecked, as transformers lets it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tgictl.errors import Problem, SpecError

_Positive = Annotated[int, Field(gt=0)]
_Count = Annotated[int, Field(ge=0)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Weights(_Shape):
    num_bits: _Positive | None = None


class _Group(_Shape):
    weights: _Weights | None = None


class _Quantization(_Shape):
    quant_method: str | None = None
    bits: Annotated[float, Field(gt=0, le=32)] | None = None
    w_bit: Annotated[int, Field(gt=0, le=32)] | None = None
    group_size: int | None = None  # -1: one group per column
    q_group_size: int | None = None
    zero_point: bool | None = None
    sym: bool | None = None
    config_groups: dict[str, _Group] | None = None


# Sizes the readers multiply and divide by: a 0 once ended `plan` in ZeroDivisionError.
SIZES = ("num_attention_heads", "num_key_value_heads", "hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size",
         "head_dim", "n_head", "n_layer", "n_embd", "num_experts_per_tok", "max_position_embeddings")


class ConfigShape(_Shape):
    architectures: list[str] | None = None
    model_type: str | None = None
    text_config: ConfigShape | None = None  # multimodal checkpoints nest the language model's config
    quantization_config: _Quantization | None = None
    rope_scaling: dict[str, Any] | None = None
    topk_method: str | None = None
    # Switches the readers branch on.
    tie_word_embeddings: bool | None = None
    use_sliding_window: bool | None = None
    use_bias: bool | None = None
    bias: bool | None = None
    attention_bias: bool | None = None
    mlp_bias: bool | None = None
    new_decoder_architecture: bool | None = None
    parallel_attn: bool | None = None
    multi_query: bool | None = None
    # Counts that may be 0: dense layers before the experts, shared experts, the query's LoRA rank.
    sliding_window: _Count | None = None
    first_k_dense_replace: _Count | None = None
    n_shared_experts: _Count | None = None
    q_lora_rank: _Count | None = None
    # Mixture-of-experts and MLA sizes.
    n_routed_experts: _Positive | None = None
    num_local_experts: _Positive | None = None
    num_experts: _Positive | None = None
    moe_intermediate_size: _Positive | None = None
    decoder_sparse_step: _Positive | None = None  # Qwen-MoE: every n-th layer is sparse
    mlp_only_layers: list[_Count] | None = None  # Qwen-MoE: layers kept dense
    kv_lora_rank: _Positive | None = None
    qk_rope_head_dim: _Positive | None = None
    qk_nope_head_dim: _Positive | None = None
    v_head_dim: _Positive | None = None
    n_positions: _Positive | None = None
    # Older architectures' names for the sizes (GPT-2, Falcon, Bloom, StarCoder).
    n_inner: _Positive | None = None
    n_embed: _Positive | None = None
    n_head_kv: _Positive | None = None
    num_kv_heads: _Positive | None = None
    ffn_hidden_size: _Positive | None = None
    seq_length: _Positive | None = None
    # SIZES, each a positive integer when present:
    num_attention_heads: _Positive | None = None
    num_key_value_heads: _Positive | None = None
    hidden_size: _Positive | None = None
    num_hidden_layers: _Positive | None = None
    intermediate_size: _Positive | None = None
    vocab_size: _Positive | None = None
    head_dim: _Positive | None = None
    n_head: _Positive | None = None
    n_layer: _Positive | None = None
    n_embd: _Positive | None = None
    num_experts_per_tok: _Positive | None = None
    max_position_embeddings: _Positive | None = None


def check(config: dict[str, Any], source: str) -> None:
    """Raise one problem per field of a type the planner cannot read."""
    try:
        ConfigShape.model_validate(config)
    except ValidationError as err:
        problems = [_problem(error) for error in err.errors()[:5]]
        raise SpecError(problems, source) from None


def _problem(error: Any) -> Problem:
    path = ".".join(str(part) for part in error["loc"])
    if path in SIZES:
        return Problem(path, f"must be a positive integer, got {error['input']!r}; cannot size the model")
    return Problem(path, f"{error['msg'][0].lower()}{error['msg'][1:]}, got {error['input']!r}")
