"""vLLM's memory rule: its profile run's KV cache size."""

from __future__ import annotations

from tgictl.model.architectures import ModelDims
from tgictl.model.memory import (CUDA_GRAPH_BYTES, GiB, RUNTIME_OVERHEAD_BYTES, Budget, RuleInputs, prefill_activation_bytes,
                                standard_kv_bytes_per_token)

# --gpu-memory-utilization's default.
DEFAULT_MEMORY_FRACTION = 0.9

# What tensor parallelism adds to each device outside PyTorch (NCCL communicators and
# vLLM's custom all-reduce buffers). vLLM's own profile of Meta-Llama-3-8B on one H100
# logged non_torch_memory 1.79 GiB at -tp 1 and 3.58 GiB at -tp 2, the same build and GPU
# (vllm PR #10511, 2024-12-14; tests/fixtures/vllm-profiles.json).
TENSOR_PARALLEL_BYTES = int(1.79 * GiB)


def budget(dims: ModelDims, r: RuleInputs) -> Budget:
    """vLLM's profile run: of ``gpu_memory_utilization`` x device memory, what the
    weights, the profiled peak activations, the runtime (more when sharded) and CUDA
    graphs leave is KV cache. Checked against vLLM's logged terms in bench/planner.py.

    The KV bytes per token are exact: given vLLM's own KV space (its CPU backend's
    VLLM_CPU_KVCACHE_SPACE), they reproduce the "KV cache size: N tokens" vLLM 0.32
    logs for Llama, Mistral, Qwen2, Qwen3, Gemma2, Phi3 and Mixtral
    (tests/real/test_vllm_real.py). That figure counts whole 128-token blocks, and one
    block more per request for sliding-window layers, which is why it reads below
    KV space / bytes per token for Mistral and Gemma2."""
    overhead = (RUNTIME_OVERHEAD_BYTES + (CUDA_GRAPH_BYTES if r.cuda_graphs else 0)
                + (TENSOR_PARALLEL_BYTES if r.shards > 1 else 0))
    # Counted as if unsharded: the same A/B logged a 1.26 GiB activation peak at -tp 1 and at
    # -tp 2, so the profile's peak does not shrink with the shards.
    activations = prefill_activation_bytes(dims, r.prefill_tokens, 1)
    usable = max(0, int(r.device_bytes * r.memory_fraction) - r.weights_per_shard - overhead - activations)
    return Budget(r.device_bytes, r.weights_per_shard, overhead, activations, usable,
                  standard_kv_bytes_per_token(dims, r.shards, r.kv_cache_dtype), r.memory_fraction, 1.0)
