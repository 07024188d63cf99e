"""Device memory: weights, KV cache per token, and the KV budget an engine keeps.

Weights depend on the checkpoint and the quantization; KV bytes per token on
layers × KV heads × head dim × 2 (K and V) × KV dtype; both split across
tensor-parallel shards. What is left for the KV cache follows each engine's
own warm-up rule, which lives in the engine's package (``engines/<name>/memory.py``)
and is built from the shared pieces here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tgictl.model.architectures import ModelDims
from tgictl.model.gguf import Header
from tgictl.spec.quantity import parse_quantity

GiB = 1024**3
# CUDA context, cuBLAS workspaces and NCCL buffers per device before any tensor.
RUNTIME_OVERHEAD_BYTES = int(0.75 * GiB)
# Memory CUDA graphs keep per device after capture (TGI captures 6 batch sizes).
CUDA_GRAPH_BYTES = int(0.25 * GiB)
# Host memory of one engine process (per shard) beside the weights: Python, torch,
# the CUDA libraries and tokenizer, a few GiB in every engine's images.
HOST_BYTES_PER_SHARD = 4 * GiB
# Weights assumed when the spec names no model files to read them from: a 7B
# model in 16 bits, so the limit is a floor a platform raises with hardware.memory.
UNKNOWN_WEIGHT_BYTES = 14 * GiB


def host_memory(weights: int | None, shards: int, offloaded: int = 0) -> str:
    """The memory limit a pod gets when the spec sets none, as a quantity in whole Gi:
    the weights (they pass through host memory while loading, and stay there on a CPU
    or when offloaded) and one engine process per shard."""
    total = (weights or UNKNOWN_WEIGHT_BYTES) + offloaded + shards * HOST_BYTES_PER_SHARD
    return f"{math.ceil(total / GiB)}Gi"


def quantity_bytes(quantity: str) -> int:
    """Kubernetes quantity ("64Gi", "500M") in whole bytes."""
    return int(parse_quantity(quantity))


# --- weights -------------------------------------------------------------------


def quantization_of(config: dict[str, Any], requested: str | None) -> tuple[str | None, dict[str, Any]]:
    """The effective quantization: the spec's, else the checkpoint's own."""
    qconfig = config.get("quantization_config") or {}
    return requested or qconfig.get("quant_method"), qconfig


def bytes_per_linear_weight(method: str | None, qconfig: dict[str, Any]) -> float:
    """Bytes one linear-layer weight takes in device memory under ``method``."""
    if method in (None, "bf16", "fp16"):
        return 2.0
    if method in ("awq", "gptq", "marlin"):
        bits = qconfig.get("bits") or qconfig.get("w_bit") or 4
        group = qconfig.get("group_size") or qconfig.get("q_group_size") or 128
        group = group if group > 0 else 4096  # -1: one group per column
        zero_points = qconfig.get("zero_point", not qconfig.get("sym", False))
        # Packed ints + an fp16 scale per group + a packed zero point per group.
        return bits / 8 + 2 / group + ((bits / 8) / group if zero_points else 0)
    if method in ("fp8", "eetq", "bitsandbytes"):
        return 1.0
    if method in ("bitsandbytes-nf4", "bitsandbytes-fp4"):
        return 0.5 + 4 / 64  # 4-bit values + an fp32 absmax per 64-value block
    if method == "exl2":
        return float(qconfig.get("bits", 4.0)) / 8
    if method == "compressed-tensors":
        groups = qconfig.get("config_groups") or {}
        bits = next((g.get("weights", {}).get("num_bits") for g in groups.values() if g.get("weights")), 8)
        return bits / 8 + 2 / 128
    return 2.0


def weight_bytes(
    dims: ModelDims,
    parameters: int,
    method: str | None,
    qconfig: dict[str, Any],
    checkpoint_bytes: int | None,
) -> int:
    """Weights in device memory: exact on-disk bytes for a pre-quantized checkpoint,
    else linear layers at the quantized width and everything else at 16 bits."""
    prequantized = bool(qconfig.get("quant_method")) and method == qconfig.get("quant_method")
    if prequantized and checkpoint_bytes:
        return checkpoint_bytes
    embedding = dims.vocab * dims.hidden * (1 if dims.tied_embeddings else 2)
    linear = max(parameters - embedding, 0)
    return int(linear * bytes_per_linear_weight(method, qconfig) + embedding * 2)


# --- KV cache --------------------------------------------------------------------


def kv_dtype_bytes(kv_cache_dtype: str | None) -> int:
    return 1 if kv_cache_dtype and kv_cache_dtype.startswith("fp8") else 2


def kv_heads_per_shard(dims: ModelDims, shards: int) -> int:
    # With fewer KV heads than shards (MQA) each shard keeps a replica.
    return max(1, math.ceil(dims.kv_heads / shards))


@dataclass(frozen=True)
class Budget:
    """One device's memory split, as the engine's warm-up would find it."""

    device_bytes: int
    weights_bytes: int  # per shard
    overhead_bytes: int  # runtime + CUDA graphs
    activation_bytes: int  # peak of the warm-up prefill
    kv_budget_bytes: int  # what the engine hands to the KV cache
    kv_bytes_per_token: int  # per shard
    memory_fraction: float
    wiggle_room: float

    @property
    def kv_tokens(self) -> int:
        return max(0, self.kv_budget_bytes // self.kv_bytes_per_token) if self.kv_bytes_per_token else 0

    @property
    def free_bytes(self) -> int:
        """Free after weights, runtime and activations (negative when the weights alone overflow)."""
        return self.device_bytes - self.weights_bytes - self.overhead_bytes - self.activation_bytes

    def shortfall_bytes(self, tokens: int) -> int:
        """Device memory missing for a KV cache of ``tokens`` (0 when it fits)."""
        reserve = (1 - self.memory_fraction) * self.device_bytes
        needed = tokens * self.kv_bytes_per_token / self.wiggle_room + reserve
        return max(0, int(needed - self.free_bytes))


def prefill_activation_bytes(dims: ModelDims, prefill_tokens: int, shards: int) -> int:
    """Peak activations of one prefill forward: the residual stream, QKV and attention
    output, and the MLP's widest tensors, for the largest layer, in 16 bits."""
    mlp_width = dims.expert_intermediate * max(1, dims.experts_per_token) if dims.is_moe else dims.intermediate
    per_token = 4 * dims.hidden + (dims.heads + 2 * dims.kv_heads) * dims.head_dim // shards + 3 * mlp_width // shards
    return int(prefill_tokens * per_token * 2)


def standard_kv_bytes_per_token(dims: ModelDims, shards: int, kv_cache_dtype: str | None) -> int:
    """K and V per token per shard; MLA models keep one compressed latent per layer
    (kv_lora_rank + rope dims), replicated on every shard."""
    if dims.is_mla:
        return dims.layers * (dims.kv_lora_rank + dims.qk_rope_head_dim) * kv_dtype_bytes(kv_cache_dtype)
    return dims.layers * kv_heads_per_shard(dims, shards) * dims.head_dim * 2 * kv_dtype_bytes(kv_cache_dtype)


# --- engine memory rules -------------------------------------------------------------


@dataclass(frozen=True)
class RuleInputs:
    """What every engine's memory rule is given, for one device of one shard."""

    device_bytes: int
    weights_per_shard: int
    shards: int
    prefill_tokens: int
    kv_cache_dtype: str | None
    memory_fraction: float
    version: str
    cuda_graphs: bool
    # The launcher's per-request limits, when known: TGI's warm-up batch is built from them.
    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    # Layers the user keeps on the GPUs (llama.cpp's --n-gpu-layers), with the GGUF header telling
    # each layer's bytes; unset, every layer is on the device.
    gpu_layers: int | None = None
    gguf: Header | None = None
    on_gpu: bool = True
