"""TGI's warm-up memory rule: what its KV cache gets after weights and one max-size
prefill, release by release (``server/text_generation_server/models/flash_causal_lm.py``
and the router's warm-up request, read at each tag; figures checked in bench/planner.py)."""

from __future__ import annotations

import math

from tgictl.engines.base import release_of
from tgictl.model.architectures import ModelDims
from tgictl.model.memory import (RUNTIME_OVERHEAD_BYTES, Budget, RuleInputs, kv_dtype_bytes, kv_heads_per_shard,
                                prefill_activation_bytes)

# CUDA_MEMORY_FRACTION's default: TGI may use the whole device.
DEFAULT_MEMORY_FRACTION = 1.0


# A version naming no release (latest) is read as the newest.
NEWEST = (99, 0, 0)


def _release(version: str) -> tuple[int, int, int]:
    return release_of(version) or NEWEST


# How each TGI release turns the free memory after its warm-up prefill into KV blocks
# (server/text_generation_server/models/flash_causal_lm.py, warmup(), at each tag):
# the first release of each row onwards; "scale" multiplies what the memory fraction
# leaves, "reserve" holds back (1 - fraction x wiggle) of the whole device.
_KV_RULES = (
    ((0, 0, 0), "scale", 1.00),  # v0.9-v1.4.0: free - (1 - fraction) x device, all of it
    ((1, 4, 1), "scale", 0.95),  # v1.4.1-v2.2.0: "Leave 5% for some wiggle room"
    ((2, 4, 0), "scale", 0.90),  # v2.3.0 made it TGI_WIGGLE_ROOM (0.95), v2.4.0 defaults it to 0.90
    ((3, 0, 0), "reserve", 0.95),  # v3.0: get_free_memory(device, MEMORY_FRACTION * TGI_WIGGLE_ROOM)
    ((3, 1, 0), "reserve", 0.93),
    ((3, 3, 0), "reserve", 0.90),
)


def kv_rule(version: str) -> tuple[str, float]:
    """How the release ``version`` sizes its KV cache: ("scale" | "reserve", TGI_WIGGLE_ROOM)."""
    release = _release(version)
    kind, wiggle = "scale", 1.0
    for first, rule_kind, rule_wiggle in _KV_RULES:
        if release >= first:
            kind, wiggle = rule_kind, rule_wiggle
    return kind, wiggle



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
BLOCK = 16  # paged-attention block: the warm-up batch's KV is counted in whole blocks


def warmup_kv_tokens(r: RuleInputs) -> int:
    """KV tokens of the router's warm-up batch (router client warmup(), v1.0-v3.3.5): requests of
    max-input tokens until the prefill budget is full, each asking for max-new tokens
    (2 before v2.0, the rest of max-total since), allocated before free memory is read and
    added back to the block count after."""
    prefill = r.prefill_tokens
    longest = r.max_input_tokens or prefill
    total = r.max_total_tokens or longest + 1
    tokens, requests = 0, 0
    while tokens < prefill:
        truncate = min(longest, prefill - tokens)
        new = 2 if _release(r.version) < (2, 0, 0) else max(1, total - truncate)
        requests += math.ceil((truncate + new) / BLOCK) * BLOCK
        tokens += longest
    return requests


def warmup_peak_bytes(dims: ModelDims, r: RuleInputs) -> int:
    """What the warm-up prefill leaves reserved when TGI reads free memory: its activations
    plus its logits stage. The router asks for prefill logprobs (prefill_logprobs: true), so
    every prompt token gets full-vocabulary logits plus their log-softmax; a sharded model also
    all-gathers the logits (TensorParallelHead) once more. The two add up rather than overlap:
    TGI empties PyTorch's cache before the prefill, not after it (warmup() at v1.0.0 and
    v2.0.0), and the caching allocator keeps the activations' freed blocks reserved, which are
    too small to hold the larger logits tensors.

    From v3.0.0 the server drops prefill logprobs unless REQUEST_LOGPROBS=1 (flash_causal_lm.py:298
    at v3.0.0, PR #2797), so the prompt's logits are no longer computed. They stay counted here
    until a logged 3.x warm-up is at hand: Llama-3.1-8B on one A10G would go from 14,864 planned
    tokens to 30,896, while TGI 2.2.0 on that card left about 1.6 GiB the source does not explain
    (tests/fixtures/tgi-warmups.json), and an over-estimate fails the start."""
    logits = r.prefill_tokens * dims.vocab * LOGIT_BYTES * (3 if r.shards > 1 else 2)
    return prefill_activation_bytes(dims, r.prefill_tokens, r.shards) + logits


def budget(dims: ModelDims, r: RuleInputs) -> Budget:
    """TGI's warm-up, by release: the free memory after weights, the CUDA runtime, the
    warm-up batch's KV blocks and the prefill's peak becomes KV blocks (``kv_rule``), and
    the warm-up blocks are added back. CUDA graphs are captured after the KV cache is
    sized, so they take nothing from it (a graph that no longer fits is skipped)."""
    kind, wiggle = kv_rule(r.version)
    per_token = tgi_kv_bytes_per_token(dims, r.shards, r.kv_cache_dtype)
    warmup = warmup_kv_tokens(r) * per_token
    peak = warmup_peak_bytes(dims, r)
    free = r.device_bytes - r.weights_per_shard - RUNTIME_OVERHEAD_BYTES - peak - warmup
    if kind == "scale":
        usable = (free - (1 - r.memory_fraction) * r.device_bytes) * wiggle
        fraction, room = r.memory_fraction, wiggle
    else:
        usable = free - (1 - r.memory_fraction * wiggle) * r.device_bytes
        fraction, room = r.memory_fraction * wiggle, 1.0
    # TGI keeps max(0, usable) and adds the warm-up's blocks back; if the weights and the warm-up
    # batch do not fit at all, the warm-up fails (CUDA OOM) and there is no cache.
    kv_budget = max(0, int(usable)) + warmup if free >= 0 else 0
    return Budget(r.device_bytes, r.weights_per_shard, RUNTIME_OVERHEAD_BYTES + warmup, peak, kv_budget, per_token, fraction, room)
