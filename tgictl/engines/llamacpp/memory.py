"""llama.cpp's memory rule: a fixed ctx-size of f16 KV cache beside the weights."""

from __future__ import annotations

from tgictl.plan.architectures import ModelDims
from tgictl.plan.memory import RUNTIME_OVERHEAD_BYTES, Budget, RuleInputs, prefill_activation_bytes

# llama.cpp allocates what it is told: no fraction of the device is held back.
DEFAULT_MEMORY_FRACTION = 1.0


def budget(dims: ModelDims, r: RuleInputs) -> Budget:
    """llama.cpp allocates exactly ctx-size of f16 KV cache, split by layers over
    the GPUs like the weights; what fits beside the weights and the compute
    buffer (one ubatch of activations) bounds ctx-size."""
    overhead = RUNTIME_OVERHEAD_BYTES // 2
    activations = prefill_activation_bytes(dims, min(r.prefill_tokens, 512), r.shards)
    usable = max(0, r.device_bytes - r.weights_per_shard - overhead - activations)
    per_token = -(-dims.layers * dims.kv_heads * dims.head_dim * 2 * 2 // r.shards)
    return Budget(r.device_bytes, r.weights_per_shard, overhead, activations, usable, per_token, 1.0, 1.0)
