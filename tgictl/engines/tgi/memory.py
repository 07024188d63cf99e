"""TGI's warm-up memory rule: what its KV cache gets after weights, CUDA graphs
and one max-size prefill (``server/text_generation_server/models/flash_causal_lm.py``)."""

from __future__ import annotations

import math
import re

from tgictl.plan.architectures import ModelDims
from tgictl.plan.memory import (CUDA_GRAPH_BYTES, RUNTIME_OVERHEAD_BYTES, Budget, RuleInputs, kv_dtype_bytes,
                                kv_heads_per_shard, prefill_activation_bytes)

# CUDA_MEMORY_FRACTION's default: TGI may use the whole device.
DEFAULT_MEMORY_FRACTION = 1.0


def tgi_wiggle_room(version: str) -> float:
    """TGI_WIGGLE_ROOM default by TGI release: 0.90 in the 3.x Python server
    (``models/globals.py``); 0.95 assumed before 3.0, as the warm-up comment
    "leave 5% for some wiggle room" records."""
    major = re.match(r"(\d+)", version)
    return 0.90 if not major or int(major.group(1)) >= 3 else 0.95


def tgi_kv_bytes_per_token(dims: ModelDims, shards: int, kv_cache_dtype: str | None) -> int:
    """Bytes one token's K and V take on one shard in TGI."""
    if dims.is_mla:
        # TGI's DeepSeek layers cache decompressed K and V for every head,
        # V padded to the K head size (nope + rope).
        heads = math.ceil(dims.heads / shards)
        return dims.layers * heads * dims.head_dim * 2 * kv_dtype_bytes(kv_cache_dtype)
    return dims.layers * kv_heads_per_shard(dims, shards) * dims.head_dim * 2 * kv_dtype_bytes(kv_cache_dtype)


# Bytes of one logit: the warm-up's logits and their log-softmax stay in the model's dtype.
LOGIT_BYTES = 2


def warmup_peak_bytes(dims: ModelDims, prefill_tokens: int, shards: int) -> int:
    """What the warm-up prefill leaves reserved: the larger of the forward pass's activations
    and its logits stage. The router's warm-up asks for prefill logprobs (``prefill_logprobs:
    true`` in every release, v1.0 to v3.3.5), so every prompt token gets full-vocabulary
    logits plus their log-softmax, and a sharded model all-gathers the logits once more
    (TensorParallelHead): large vocabularies (Llama 3's 128k, Gemma's 256k) cost here."""
    logits = prefill_tokens * dims.vocab * LOGIT_BYTES * (3 if shards > 1 else 2)
    return max(prefill_activation_bytes(dims, prefill_tokens, shards), logits)


def budget(dims: ModelDims, r: RuleInputs) -> Budget:
    """TGI's warm-up: after a max-size prefill, free memory minus (1 - fraction) of
    the device, times TGI_WIGGLE_ROOM, becomes KV blocks."""
    wiggle = tgi_wiggle_room(r.version)
    overhead = RUNTIME_OVERHEAD_BYTES + (CUDA_GRAPH_BYTES if r.cuda_graphs else 0)
    activations = warmup_peak_bytes(dims, r.prefill_tokens, r.shards)
    free = r.device_bytes - r.weights_per_shard - overhead - activations
    usable = max(0, int((free - (1 - r.memory_fraction) * r.device_bytes) * wiggle))
    return Budget(r.device_bytes, r.weights_per_shard, overhead, activations, usable,
                  tgi_kv_bytes_per_token(dims, r.shards, r.kv_cache_dtype), r.memory_fraction, wiggle)
