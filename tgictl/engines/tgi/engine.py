"""Hugging Face TGI: text-generation-launcher flags, env and TGI's own rules.

Flag names follow ``launcher/src/main.rs`` (TGI v3.3.x). The cross-flag rules
are the ones the launcher and router enforce at start-up ("Invalid
argument"), checked here so a bad spec fails before anything is rendered.
"""

from __future__ import annotations

from tgictl import hardware
from tgictl.engines.base import Engine, EngineFacts, FlagValue, field_value, stringify
from tgictl.engines.tgi import memory, model_types
from tgictl.errors import Problem
from tgictl.model.architectures import ModelDims
from tgictl.model.files import ModelFiles
from tgictl.model.memory import Budget, RuleInputs
from tgictl.spec.model import Spec

# Image tag suffix per accelerator vendor (TGI publishes one image per backend).
_VARIANTS = {"nvidia": "", "amd": "-rocm", "habana": "-gaudi", "none": "-intel-cpu"}
# Quantizations that cannot use CUDA graphs.
_NO_CUDA_GRAPHS = {"exl2", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4"}
# Launcher flags that carry one spec field as it is (dotted paths under spec.spec).
# The table also reads TGI args and env back into a spec (`tgictl migrate`).
DIRECT_FLAGS = {
    "model-id": "model.id", "revision": "model.revision", "trust-remote-code": "model.trust_remote_code",
    "tokenizer-config-path": "model.tokenizer_config_path", "num-shard": "serving.num_shard",
    "quantize": "serving.quantize", "dtype": "serving.dtype", "kv-cache-dtype": "serving.kv_cache_dtype",
    "max-input-tokens": "serving.max_input_tokens", "max-total-tokens": "serving.max_total_tokens",
    "max-batch-prefill-tokens": "serving.max_batch_prefill_tokens",
    "max-batch-total-tokens": "serving.max_batch_total_tokens",
    "max-concurrent-requests": "serving.max_concurrent_requests",
    "waiting-served-ratio": "serving.waiting_served_ratio", "max-waiting-tokens": "serving.max_waiting_tokens",
    "max-batch-size": "serving.max_batch_size", "max-best-of": "serving.max_best_of",
    "max-stop-sequences": "serving.max_stop_sequences", "max-top-n-tokens": "serving.max_top_n_tokens",
    "max-client-batch-size": "serving.max_client_batch_size", "payload-limit": "serving.payload_limit",
    "cuda-graphs": "serving.cuda_graphs", "cuda-memory-fraction": "serving.cuda_memory_fraction",
    "speculate": "serving.speculate", "rope-scaling": "serving.rope_scaling", "rope-factor": "serving.rope_factor",
    "disable-custom-kernels": "serving.disable_custom_kernels", "json-output": "serving.json_logs",
    "usage-stats": "usage_stats", "graceful-termination-timeout": "serving.graceful_termination_seconds",
}
# Engines that can offload weights to CPU memory, for the refusal message.
_OFFLOAD_ENGINES = "vllm (--cpu-offload-gb) or llamacpp (--n-gpu-layers)"


class TGI(Engine):
    default_memory_fraction = memory.DEFAULT_MEMORY_FRACTION
    facts = EngineFacts(
        name="tgi",
        title="TGI",
        image_repository="ghcr.io/huggingface/text-generation-inference",
        image_tag="3.3.5",
        port=8080,
        metrics_prefix="tgi_",
        runs_as_non_root=False,
        root_reason="from v3.0 it runs a Python installed under /root, which is mode 700",
        api_key_env="API_KEY",
        metrics_series="tgi_request_count",
        info_route="/info",  # present on /metrics once a request was served (smoke checks it)
        # Phrases of TGI 0.9 to 3.3 starts (tests/fixtures/tgi-logs, replayed by tests/unit/test_tgi_logs.py).
        log_phases=(
            (r"Starting check and download process|Download file:|Download: \[", "download"),
            (r"Successfully downloaded weights|already present|Starting shard|Waiting for shard to be ready|Server started at unix:|Shard "
             r"ready in", "load"),
            (r"Warming up model|KV-cache blocks|Setting max batch total tokens|\bwarmup\{", "warmup"),
            (r"\bConnected\b", "ready"),
        ),
        log_failures=(
            (r"ArgumentValidation\(",
             "TGI's launcher refused its limits: serving.maxInputTokens must be below serving.maxTotalTokens, and "
             "serving.maxBatchPrefillTokens at least serving.maxInputTokens (`tgictl plan` sets them together)"),
            (r"must be divisible by `num_shards`",
             "the model's attention heads do not divide among the shards: choose a hardware.accelerator.count that divides "
             "num_attention_heads (and num_key_value_heads)"),
            (r"Watchdog caught collective operation timeout",
             "a collective between the shards timed out (NCCL): the GPUs cannot reach each other fast enough; run on nodes whose "
             "GPUs are linked (hardware.nodeSelector), or add NCCL_P2P_DISABLE=1 to extraEnv to rule out peer-to-peer links"),
            (r"weight \S*(gptq_bits|gptq_groupsize|qweight|qzeros|scales|\.weight) does not exist",
             "the checkpoint's quantization does not match serving.quantize: set it to the method in the model's "
             "quantization_config (config.json), or leave it unset so TGI reads it"),
            (r"requires Flash Attention enabled models|[Ss]harded is not supported for this model",
             "TGI runs this model only without flash attention, and without it TGI cannot shard: serve it on one GPU "
             "(hardware.accelerator.count: 1), on a GPU flash attention supports, or with engine.name: vllm"),
            (r"failed to bind to \S*:29500|errno: 98 - Address already in use",
             "the shards' rendezvous port (29500) is taken in the pod's network namespace (another process, or hostNetwork "
             "beside another server): free it, or give TGI another one with extraArgs [--master-port, N]"),
            (r"FlashAttention only supports Ampere GPUs or newer",
             "flash attention needs an Ampere-or-newer GPU and this one is older (T4 and V100 are): choose another "
             "hardware.accelerator.type; features.flashAttention: false helps only models TGI can serve without it"),
            (r"signaled to shutdown with signal 4\b",
             "a shard died of SIGILL (signal 4): the node's CPU, or the CPU model its VM exposes, lacks instructions the "
             "image needs (AVX); run on other nodes (hardware.nodeSelector) or expose the host CPU's flags to the VM"),
            (r"error occurred while downloading using `hf_transfer`",
             "the weights download failed inside hf_transfer (network or disk): check the cache volume's free space "
             "(cache.size) and egress to the Hub; extraEnv HF_HUB_ENABLE_HF_TRANSFER=0 shows the underlying error"),
        ),
        # Last words before TGI exits: the launcher's (launcher/src/main.rs), the router's failed
        # warm-up, and the server's failed model load (server.py logs it, then raises); v0.9 to v3.3.5.
        log_fatal=r"Webserver Crashed|Shard \d+ (failed to start|crashed)|^Error: \w+|Server error: CANCELLED|Error when initializing "
                  r"model",
        # The router's words once warm-up measured the KV cache, in every TGI release public logs show:
        # router/src/main.rs (1.x, 2.0), router/src/server.rs (2.2), backends/v3/src/lib.rs (3.x); the
        # fixtures of tests/fixtures/tgi-warmups.json quote them.
        log_capacity=(r"Setting max batch total tokens to (?P<kv_tokens>\d+)",),
        # Logged on an OOM while capturing CUDA graphs; TGI goes on without them (flash_causal_lm.py).
        log_benign=r"Decode cuda graph warmup failed",
        # The recording rules in charts/tgi/files/rules/tgi.yaml (a test keeps them in step).
        neutral_series=frozenset({"llm:requests:rate5m", "llm:request_errors:rate5m", "llm:queue_size", "llm:running_requests",
                                  "llm:ttft_seconds:p95", "llm:e2e_seconds:p50", "llm:e2e_seconds:p95",
                                  "llm:time_per_output_token_seconds:p95", "llm:prompt_tokens:rate5m", "llm:generated_tokens:rate5m",
                                  "llm:kv_cache_utilization", "llm:queue_size:pod"}),
    )

    def image_variant_tag(self, spec: Spec) -> str:
        return self.facts.image_tag + _VARIANTS[self.accelerator(spec).vendor]

    def flags(self, spec: Spec) -> dict[str, FlagValue]:
        s = spec.spec
        values: dict[str, object] = {flag: field_value(spec, path) for flag, path in DIRECT_FLAGS.items()}
        # Always explicit: with NVIDIA_VISIBLE_DEVICES=all TGI < 3.3.7 counted one GPU.
        values["num-shard"] = self.shard_count(spec) if s.hardware.accelerator.count else None
        if s.serving.cuda_graphs is None:
            values["cuda-graphs"] = self._default_cuda_graphs(spec)
        # The pod's HOSTNAME env (the pod name) would otherwise become --hostname.
        values["hostname"] = "0.0.0.0"
        return stringify(dict(sorted(values.items())))

    def chunks_prefill(self, accelerator: hardware.Accelerator, attention: str | None) -> bool:
        """TGI splits a long prompt over several prefill batches only in its flash models on
        CUDA with flashinfer/flashdecoding attention, which it picks on compute capability
        8.0+; paged attention and ROCm images prefill each prompt at once."""
        return accelerator.vendor == "nvidia" and accelerator.compute_capability >= 8.0 and attention != "paged"

    def memory_budget(self, dims: ModelDims, inputs: RuleInputs) -> Budget:
        return memory.budget(dims, inputs)

    def _default_cuda_graphs(self, spec: Spec) -> list[int] | None:
        # CPU, Gaudi and graph-less quantizations run without CUDA graphs.
        if self.accelerator(spec).vendor in ("none", "habana") or spec.spec.serving.quantize in _NO_CUDA_GRAPHS:
            return [0]
        return None

    def env(self, spec: Spec) -> dict[str, str]:
        s = spec.spec
        env: dict[str, str] = {}
        if s.cache.offline:
            env["HF_HUB_OFFLINE"] = "1"
        if s.features.attention:
            env["ATTENTION"] = s.features.attention
        if s.features.prefix_caching is not None:
            env["PREFIX_CACHING"] = "1" if s.features.prefix_caching else "0"
        if s.features.flash_attention is False:
            env["USE_FLASH_ATTENTION"] = "false"  # clap and Python both want lowercase
        env.update({e.name: e.value for e in s.extra_env})
        return dict(sorted(env.items()))

    def drain_seconds(self, spec: Spec) -> int:
        # The launcher waits -g for the router, then up to -g for the shards.
        return 2 * spec.spec.serving.graceful_termination_seconds + 10

    def model_problems(self, spec: Spec, files: ModelFiles) -> list[Problem]:
        """What ``get_model`` at the pinned version refuses for this config.json (engines/tgi/model_types.py)."""
        kind = files.config.get("model_type")
        if not isinstance(kind, str) or kind in model_types.OWN or not self.image(spec)[1].startswith(model_types.VERSION):
            return []
        pinned = f"TGI {model_types.VERSION} has no model of its own for model type {kind!r} ({files.source})"
        remote = (files.config.get("auto_map") or {}) if spec.spec.model.trust_remote_code else {}
        causal = kind in model_types.TRANSFORMERS_CAUSAL_LM or "AutoModelForCausalLM" in remote
        if not causal and kind not in model_types.TRANSFORMERS_SEQ2SEQ and "AutoModelForSeq2SeqLM" not in remote:
            return [Problem("spec.engine.name", f"{pinned}, nor does transformers {model_types.TRANSFORMERS}, which it pins: "
                                                f"the shard would fail with 'Unsupported model type {kind}'; serve it with vllm")]
        quantize, field = self._effective_quantize(spec, files)
        if quantize in model_types.NOT_FOR_AUTOMODEL:
            return [Problem(field, f"{pinned} and loads it through transformers, which refuses {quantize}: "
                                   f"'{model_types.NOT_FOR_AUTOMODEL[quantize]}'; use an unquantized checkpoint or vllm")]
        return []

    def _effective_quantize(self, spec: Spec, files: ModelFiles) -> tuple[str | None, str]:
        """The quantize get_model applies, and the field that set it: the spec's, else the checkpoint's quant_method."""
        if spec.spec.serving.quantize:
            return spec.spec.serving.quantize, "spec.serving.quantize"
        config = files.config.get("quantization_config") or files.config.get("compression_config") or {}
        return model_types.AUTO_SELECTED.get(config.get("quant_method", "")), "spec.model.id"

    def engine_problems(self, spec: Spec) -> list[Problem]:
        s = spec.spec
        serving, features = s.serving, s.features
        found: list[Problem] = []

        def limit(field: str, message: str) -> None:
            found.append(Problem(f"spec.serving.{field}", message))

        mi, mt = serving.max_input_tokens, serving.max_total_tokens
        mp, mb = serving.max_batch_prefill_tokens, serving.max_batch_total_tokens
        if mi is not None and mt is not None and mi >= mt:
            limit("maxInputTokens", f"{mi} must be less than maxTotalTokens ({mt}): a request needs room for at least one new token")
        if mt is not None and mb is not None and mt > mb:
            limit("maxTotalTokens", f"{mt} must be at most maxBatchTotalTokens ({mb}): one full request must fit in a batch")
        if mp is not None and mb is not None and mp > mb:
            limit("maxBatchPrefillTokens", f"{mp} must be at most maxBatchTotalTokens ({mb})")
        if mp is not None and mi is not None and mp < mi and not self.prefill_chunking(spec):
            limit("maxBatchPrefillTokens", f"{mp} must be at least maxInputTokens ({mi}): without prefill chunking "
                  "(NVIDIA Ampere or newer, non-paged attention) the longest prompt must prefill in one batch")
        shards = self.shard_count(spec)
        if serving.quantize == "exl2" and shards > 1:
            limit("quantize", f"exl2 cannot be sharded; use 1 accelerator, not {shards}")
        if serving.quantize in _NO_CUDA_GRAPHS and serving.cuda_graphs and any(serving.cuda_graphs):
            limit("cudaGraphs", f"{serving.quantize} does not support CUDA graphs; remove cudaGraphs or set it to [0]")
        if serving.dtype and serving.quantize:
            limit("dtype", f"TGI does not combine dtype with quantize ({serving.quantize}); set one of them")
        vendor = self.accelerator(spec).vendor
        if serving.kv_cache_dtype and vendor != "nvidia":
            limit("kvCacheDtype", "an fp8 KV cache needs an NVIDIA GPU in TGI")
        if serving.cuda_graphs and any(serving.cuda_graphs) and vendor in ("none", "habana"):
            limit("cudaGraphs", "CUDA graphs need an NVIDIA or AMD GPU; set [0] or leave unset")
        if not features.continuous_batching:
            found.append(Problem("spec.features.continuousBatching", "TGI always batches continuously and cannot turn it off"))
        found += self.refuse_set(spec, {
            "features.cpu_offload_gb": f"cannot offload weights to CPU memory; use {_OFFLOAD_ENGINES}",
            "features.gpu_layers": f"cannot keep layers on the CPU; use {_OFFLOAD_ENGINES}",
            "features.swap_space_gb": "has no CPU swap space for preempted sequences; use vllm",
            "model.gguf_file": "does not serve GGUF files; use llamacpp",
            "model.url": "loads models from the Hub or a path, not a URL; use llamacpp for GGUF URLs",
        })
        if features.prefix_caching and features.attention == "paged":
            found.append(Problem("spec.features.prefixCaching",
                                 "TGI's prefix caching needs flashinfer or flashdecoding attention, not paged"))
        capability = self.accelerator(spec).compute_capability
        if features.flash_attention and (vendor == "none" or (vendor == "nvidia" and capability < 8.0)):
            found.append(Problem("spec.features.flashAttention",
                                 f"flash attention needs an Ampere-or-newer GPU; {self.accelerator(spec).key} cannot run it"))
        return found
