"""Model architectures: a registry from ``config.json``'s ``model_type`` to the
dimensions the planner needs, and a parameter count computed from them.

Each reader knows where its family keeps the numbers (``n_embd`` vs
``hidden_size``, fused QKV, tied embeddings, experts, MLA). The count is
used when no safetensors headers are at hand; with headers, the headers win.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tgictl.errors import Problem, SpecError
from tgictl.model import config_shape

Config = dict[str, Any]


@dataclass(frozen=True)
class ModelDims:
    """What one decoder needs for sizing, whatever its family calls it."""

    family: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    context: int  # max_position_embeddings (or the family's equivalent)
    tied_embeddings: bool = False
    gated_mlp: bool = True  # SwiGLU/GeGLU: three matrices, else two
    attn_bias: bool = False  # biases on q, k and v
    out_bias: bool = False  # bias on the attention output projection
    mlp_bias: bool = False
    norm_bias: bool = False  # LayerNorm (weight + bias) vs RMSNorm (weight only)
    norms_per_layer: int = 2
    extra_per_layer: int = 0  # odd small tensors per layer (q/k norms, LoRA norms)
    learned_positions: int = 0  # GPT-2 style position embeddings
    embedding_norm: bool = False  # a norm right after the embeddings (Bloom)
    experts: int = 0  # routed experts per MoE layer (0 = dense)
    experts_per_token: int = 0
    expert_intermediate: int = 0
    shared_experts: int = 0
    router_bias: bool = False  # a per-expert score bias in the router (DeepSeek-V3)
    dense_layers: int = 0  # leading layers that stay dense in an MoE model
    sliding_window: int | None = None  # bounds every layer's cache when set
    # Multi-head latent attention (DeepSeek): compressed KV and its projections.
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0


def _attention_params(d: ModelDims) -> int:
    if d.is_mla:
        q_head = d.qk_nope_head_dim + d.qk_rope_head_dim
        q = (d.hidden * d.q_lora_rank + d.q_lora_rank * d.heads * q_head) if d.q_lora_rank else d.hidden * d.heads * q_head
        kv_down = d.hidden * (d.kv_lora_rank + d.qk_rope_head_dim)
        kv_up = d.kv_lora_rank * d.heads * (d.qk_nope_head_dim + d.v_head_dim)
        return q + kv_down + kv_up + d.heads * d.v_head_dim * d.hidden
    q = d.hidden * d.heads * d.head_dim
    kv = 2 * d.hidden * d.kv_heads * d.head_dim
    o = d.heads * d.head_dim * d.hidden
    bias = (d.heads + 2 * d.kv_heads) * d.head_dim if d.attn_bias else 0
    bias += d.hidden if d.out_bias else 0
    return q + kv + o + bias


def _mlp_params(d: ModelDims, width: int) -> int:
    matrices = 3 if d.gated_mlp else 2
    bias = (width * (matrices - 1) + d.hidden) if d.mlp_bias else 0
    return matrices * d.hidden * width + bias


def parameter_count(d: ModelDims) -> int:
    """Parameters of the whole checkpoint, computed from its dimensions."""
    norm = d.hidden * (2 if d.norm_bias else 1)
    dense_mlp = _mlp_params(d, d.intermediate)
    if d.is_moe:
        router = d.hidden * d.experts + (d.experts if d.router_bias else 0)
        moe_mlp = (d.experts + d.shared_experts) * _mlp_params(d, d.expert_intermediate) + router
        mlp_total = d.dense_layers * dense_mlp + (d.layers - d.dense_layers) * moe_mlp
    else:
        mlp_total = d.layers * dense_mlp
    per_layer_fixed = _attention_params(d) + d.norms_per_layer * norm + d.extra_per_layer
    embeddings = d.vocab * d.hidden * (1 if d.tied_embeddings else 2) + d.learned_positions * d.hidden
    embeddings += norm if d.embedding_norm else 0
    return d.layers * per_layer_fixed + mlp_total + embeddings + norm


def active_parameter_count(d: ModelDims) -> int:
    """Parameters one token passes through (MoE: only the routed experts)."""
    if not d.is_moe:
        return parameter_count(d)
    dense = replace(d, experts=0, intermediate=d.expert_intermediate * (d.experts_per_token + d.shared_experts))
    return parameter_count(replace(dense, dense_layers=0))


# --- readers: one per family -------------------------------------------------


_REQUIRED = object()


def _get(config: Config, *names: str, default: Any = _REQUIRED) -> Any:
    """The first of ``names`` the config sets; without a default, one of them is required."""
    for name in names:
        if config.get(name) is not None:
            return config[name]
    if default is _REQUIRED:
        raise KeyError(" or ".join(names))
    return default


def _llama_like(config: Config, family: str, **extra: Any) -> ModelDims:
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    window = config.get("sliding_window") if config.get("use_sliding_window", True) else None
    fields: dict[str, Any] = dict(
        family=family,
        hidden=hidden,
        layers=config["num_hidden_layers"],
        heads=heads,
        kv_heads=_get(config, "num_key_value_heads", default=heads),
        head_dim=_get(config, "head_dim", default=hidden // heads),
        intermediate=config["intermediate_size"],
        vocab=config["vocab_size"],
        context=_get(config, "max_position_embeddings", default=4096),
        tied_embeddings=bool(config.get("tie_word_embeddings", False)),
        attn_bias=bool(config.get("attention_bias", False)),
        out_bias=bool(config.get("attention_bias", False)),
        mlp_bias=bool(config.get("mlp_bias", False)),
        sliding_window=window,
    )
    fields.update(extra)
    return ModelDims(**fields)


def _llama(config: Config) -> ModelDims:
    return _llama_like(config, "llama")


def _mistral(config: Config) -> ModelDims:
    return _llama_like(config, "mistral")


def _qwen2(config: Config) -> ModelDims:
    # Qwen2 has q/k/v biases and keeps sliding_window in its config while
    # use_sliding_window is false, so the window bounds nothing.
    return _llama_like(config, "qwen2", attn_bias=True,
                       sliding_window=None if not config.get("use_sliding_window") else config.get("sliding_window"))


def _qwen3(config: Config) -> ModelDims:
    # Qwen3 adds per-head q/k RMSNorms: two head_dim vectors per layer.
    dims = _llama_like(config, "qwen3", sliding_window=None if not config.get("use_sliding_window") else config.get("sliding_window"))
    return replace(dims, extra_per_layer=2 * dims.head_dim)


def _qwen3_moe(config: Config) -> ModelDims:
    # Qwen3-MoE (transformers' modeling_qwen3_moe; vLLM's qwen3_moe.py): Qwen3's attention with
    # q/k norms, and on each sparse layer a router over num_experts experts of
    # moe_intermediate_size, no shared expert. A layer stays dense when mlp_only_layers names it
    # or it falls between decoder_sparse_step's strides; dense layers use intermediate_size.
    layers, step = config["num_hidden_layers"], _get(config, "decoder_sparse_step", default=1)
    dense = sum(1 for i in range(layers) if i in set(config.get("mlp_only_layers") or ()) or (i + 1) % step)
    dims = _qwen3(config)
    return replace(dims, family="qwen3_moe", experts=config["num_experts"], experts_per_token=config["num_experts_per_tok"],
                   expert_intermediate=config["moe_intermediate_size"], dense_layers=dense)


def _phi3(config: Config) -> ModelDims:
    return _llama_like(config, "phi3", sliding_window=None)


def _gemma(config: Config) -> ModelDims:
    # Gemma ties embeddings; Gemma 2 and 3 add pre/post-feedforward norms and
    # alternate sliding and global layers (the global ones need the full context).
    config = {**config, **config.get("text_config", {})}
    family = config.get("model_type", "gemma")
    norms = 2 if family == "gemma" else 4
    dims = _llama_like(config, family, tied_embeddings=True, sliding_window=None, norms_per_layer=norms)
    if family in ("gemma3", "gemma3_text"):
        dims = replace(dims, extra_per_layer=2 * dims.head_dim)  # q/k norms
    return dims


def _mixtral(config: Config) -> ModelDims:
    return _llama_like(
        config, "mixtral",
        experts=config["num_local_experts"], experts_per_token=config["num_experts_per_tok"],
        expert_intermediate=config["intermediate_size"],
    )


def _starcoder2(config: Config) -> ModelDims:
    return _llama_like(
        config, "starcoder2", gated_mlp=False, attn_bias=bool(config.get("use_bias", True)),
        out_bias=bool(config.get("use_bias", True)),
        mlp_bias=bool(config.get("use_bias", True)), norm_bias=True,
        tied_embeddings=bool(config.get("tie_word_embeddings", True)),
    )


def _falcon(config: Config) -> ModelDims:
    hidden = config["hidden_size"]
    heads = _get(config, "num_attention_heads", "n_head")
    if config.get("new_decoder_architecture"):
        kv_heads = _get(config, "num_kv_heads", "n_head_kv", default=heads)
    elif config.get("multi_query", True):
        kv_heads = 1
    else:
        kv_heads = heads
    return ModelDims(
        family="falcon", hidden=hidden, layers=_get(config, "num_hidden_layers", "n_layer"), heads=heads,
        kv_heads=kv_heads, head_dim=hidden // heads, intermediate=_get(config, "ffn_hidden_size", default=4 * hidden),
        vocab=config["vocab_size"], context=_get(config, "max_position_embeddings", default=2048),
        tied_embeddings=bool(config.get("tie_word_embeddings", True)), gated_mlp=False, norm_bias=True,
        attn_bias=bool(config.get("bias", False)), out_bias=bool(config.get("bias", False)),
        mlp_bias=bool(config.get("bias", False)),
        norms_per_layer=2 if config.get("new_decoder_architecture") or not config.get("parallel_attn", True) else 1,
    )


def _gpt2(config: Config) -> ModelDims:
    hidden = config["n_embd"]
    return ModelDims(
        family="gpt2", hidden=hidden, layers=config["n_layer"], heads=config["n_head"], kv_heads=config["n_head"],
        head_dim=hidden // config["n_head"], intermediate=_get(config, "n_inner", default=4 * hidden),
        vocab=config["vocab_size"], context=config["n_positions"], tied_embeddings=True, gated_mlp=False,
        attn_bias=True, out_bias=True, mlp_bias=True, norm_bias=True, learned_positions=config["n_positions"],
    )


def _bloom(config: Config) -> ModelDims:
    hidden = _get(config, "hidden_size", "n_embed")
    heads = _get(config, "n_head", "num_attention_heads")
    # Bloom uses ALiBi (no position limit) and one extra LayerNorm after the embeddings.
    return ModelDims(
        family="bloom", hidden=hidden, layers=_get(config, "n_layer", "num_hidden_layers"), heads=heads,
        kv_heads=heads, head_dim=hidden // heads, intermediate=4 * hidden, vocab=config["vocab_size"],
        context=_get(config, "seq_length", default=2048), tied_embeddings=True, gated_mlp=False,
        attn_bias=True, out_bias=True, mlp_bias=True, norm_bias=True, embedding_norm=True,
    )


def _deepseek(config: Config) -> ModelDims:
    return ModelDims(
        family=config["model_type"], hidden=config["hidden_size"], layers=config["num_hidden_layers"],
        heads=config["num_attention_heads"], kv_heads=config["num_attention_heads"],
        head_dim=config["qk_nope_head_dim"] + config["qk_rope_head_dim"], intermediate=config["intermediate_size"],
        vocab=config["vocab_size"], context=config["max_position_embeddings"],
        tied_embeddings=bool(config.get("tie_word_embeddings", False)),
        experts=config.get("n_routed_experts") or 0, experts_per_token=config.get("num_experts_per_tok") or 0,
        expert_intermediate=config.get("moe_intermediate_size") or 0, shared_experts=config.get("n_shared_experts") or 0,
        dense_layers=config.get("first_k_dense_replace", 0),
        router_bias=config.get("topk_method") == "noaux_tc",
        kv_lora_rank=config["kv_lora_rank"], q_lora_rank=config.get("q_lora_rank") or 0,
        qk_rope_head_dim=config["qk_rope_head_dim"], qk_nope_head_dim=config["qk_nope_head_dim"],
        v_head_dim=config["v_head_dim"],
        # MLA adds a norm after each LoRA down-projection.
        extra_per_layer=config["kv_lora_rank"] + (config.get("q_lora_rank") or 0),
    )


READERS: dict[str, Callable[[Config], ModelDims]] = {
    "llama": _llama, "mistral": _mistral, "mixtral": _mixtral, "qwen2": _qwen2, "qwen3": _qwen3, "qwen3_moe": _qwen3_moe,
    "gemma": _gemma, "gemma2": _gemma, "gemma3": _gemma, "gemma3_text": _gemma, "phi3": _phi3,
    "falcon": _falcon, "RefinedWeb": _falcon, "RefinedWebModel": _falcon, "gpt2": _gpt2, "bloom": _bloom,
    "starcoder2": _starcoder2, "deepseek_v2": _deepseek, "deepseek_v3": _deepseek,
}

# Sizes every reader divides or multiplies by, in each family's spelling: each must be a positive integer.
# Heads that make a checkpoint something other than a text generator.
_NOT_GENERATIVE = ("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "Model", "ForMaskedLM")


def dims_from_config(config: Config, source: str = "config.json") -> ModelDims:
    """Read a config.json into ``ModelDims``, refusing checkpoints TGI cannot serve."""
    config_shape.check(config, source)
    config = {key: value for key, value in config.items() if value is not None}  # null is missing, as transformers reads it
    architectures = config.get("architectures") or []
    model_type = config.get("model_type")
    for architecture in architectures:
        if architecture.endswith(_NOT_GENERATIVE) and not architecture.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")):
            raise SpecError([Problem("architectures",
                                     f"{architecture} is not a text-generation model: it has no language-model head to serve")], source)
    reader = READERS.get(model_type or "")
    if reader is None:
        raise SpecError([Problem("model_type", f"unknown architecture {model_type!r} ({', '.join(architectures) or 'no architectures'}); "
                                 f"tgictl can size: {', '.join(sorted(READERS))}")], source)
    try:
        return reader(config)
    except KeyError as missing:
        raise SpecError([Problem(str(missing.args[0]), f"missing from a {model_type} config; cannot size the model")], source) from None
    except (ArithmeticError, TypeError, ValueError) as err:  # a field config_shape does not type
        raise SpecError([Problem("", f"a {model_type} config tgictl cannot size: {err}")], source) from None
