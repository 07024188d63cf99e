"""llama.cpp's memory rule: a fixed ctx-size of f16 KV cache beside the weights,
and which weights ``--n-gpu-layers`` puts on the GPUs."""

from __future__ import annotations

from tgictl.model.architectures import ModelDims
from tgictl.model.gguf import Header
from tgictl.model.memory import RUNTIME_OVERHEAD_BYTES, Budget, RuleInputs, prefill_activation_bytes

# llama.cpp allocates what it is told: no fraction of the device is held back.
DEFAULT_MEMORY_FRACTION = 1.0
# One ubatch of activations is the compute buffer (--ubatch-size defaults to 512).
UBATCH_TOKENS = 512


def reserved_bytes(dims: ModelDims, prefill_tokens: int, shards: int) -> int:
    """What a device holds besides weights and KV cache: the runtime and the compute buffer."""
    return RUNTIME_OVERHEAD_BYTES // 2 + _compute_buffer_bytes(dims, prefill_tokens, shards)


def _compute_buffer_bytes(dims: ModelDims, prefill_tokens: int, shards: int) -> int:
    return prefill_activation_bytes(dims, min(prefill_tokens, UBATCH_TOKENS), shards)


def budget(dims: ModelDims, r: RuleInputs) -> Budget:
    """llama.cpp allocates exactly ctx-size of f16 KV cache, split by layers over
    the GPUs like the weights; what fits beside the weights and the compute
    buffer (one ubatch of activations) bounds ctx-size."""
    weights, kv_layers = r.weights_per_shard, dims.layers
    if r.gpu_layers is not None and r.gguf is not None and r.on_gpu:  # the rest stay on the CPU, cache and all
        weights, kv_layers = offloaded_weight_bytes(r.gguf, r.gpu_layers) // r.shards, min(max(r.gpu_layers - 1, 0), dims.layers)
    overhead = RUNTIME_OVERHEAD_BYTES // 2
    activations = _compute_buffer_bytes(dims, r.prefill_tokens, r.shards)
    usable = max(0, r.device_bytes - weights - overhead - activations)
    per_token = -(-kv_layers * kv_bytes_per_layer_token(dims) // r.shards)
    return Budget(r.device_bytes, weights, overhead, activations, usable, per_token, 1.0, 1.0)


def kv_bytes_per_layer_token(dims: ModelDims) -> int:
    """K and V of one token in one layer, f16 (llama.cpp's default cache type)."""
    return dims.kv_heads * dims.head_dim * 2 * 2


def offloaded_weight_bytes(header: Header, gpu_layers: int) -> int:
    """The weights ``--n-gpu-layers N`` puts on the GPUs. At build b11434
    (src/llama-model.cpp) layer ``il`` of ``0..n_layer`` (n_layer being the output
    layer) goes to a GPU when ``il >= n_layer + 1 - N``: the output layer first,
    then the last N-1 repeating layers; the input embedding stays on the CPU."""
    layers = header.layer_bytes()
    if gpu_layers <= 0:
        return 0
    repeating = min(gpu_layers - 1, len(layers))
    return header.output_bytes() + sum(layers[len(layers) - repeating:])


def offloaded_bytes(header: Header, gpu_layers: int, cache_per_layer: int) -> int:
    """Weights and KV cache ``--n-gpu-layers`` puts on the GPUs (a layer's cache goes with it)."""
    layers = len(header.layer_bytes())
    return offloaded_weight_bytes(header, gpu_layers) + min(max(gpu_layers - 1, 0), layers) * cache_per_layer


def most_layers_fitting(header: Header, room: int, cache_per_layer: int) -> int:
    """The largest ``--n-gpu-layers`` whose weights and cache fit in ``room`` bytes."""
    fitting = 0
    for count in range(1, len(header.layer_bytes()) + 2):
        if offloaded_bytes(header, count, cache_per_layer) > room:
            break
        fitting = count
    return fitting
