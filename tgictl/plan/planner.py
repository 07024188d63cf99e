"""The planner: from a model's own files and a GPU choice to the limits an engine
will find at warm-up, the GPU count that fits, and the cold-start budget.

``plan`` takes a ``PlanRequest`` (built from a spec or from command-line
flags) and returns a ``Plan``: plain data that ``render`` uses to fill empty
limits and that the CLI prints. Explicit limits in the request are checked
against the plan, never silently replaced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tgictl import engines, hardware
from tgictl.errors import Problem, SpecError
from tgictl.model import gguf, memory
from tgictl.model.architectures import ModelDims, active_parameter_count, dims_from_config, parameter_count
from tgictl.model.files import ModelFiles
from tgictl.plan.coldstart import ColdStart, estimate

# Shard counts an engine can use in one pod, smallest first.
SHARD_COUNTS = (1, 2, 4, 8)
# A deployment "fits" when one request this long (or the model's whole context,
# if shorter) fits in the KV cache beside the weights.
MIN_USEFUL_TOKENS = 4096
# TGI's fallback max_batch_prefill_tokens when it cannot size it from FLOPs.
DEFAULT_PREFILL_TOKENS = 4096
BLOCK = 16  # KV block granularity the token counts are rounded down to
# Share of the estimated KV cache one request may be planned to fill. Engines refuse to
# start when one full request does not fit the cache they find (TGI 3.x: "Not enough
# memory to handle `max_total_tokens=N`", backends/v3/src/lib.rs; vLLM: max_model_len
# larger than its KV cache), and the estimate runs up to +4.9 % over the engines' own
# figures (bench/planner.py): a planned limit keeps the 10 % goal band free.
REQUEST_HEADROOM = 0.9


@dataclass(frozen=True)
class UserLimits:
    """Limits the user set explicitly (None = plan it)."""

    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    max_batch_prefill_tokens: int | None = None
    max_batch_total_tokens: int | None = None


@dataclass(frozen=True)
class PlanRequest:
    files: ModelFiles
    accelerator: str  # catalog key
    count: int | None  # None: recommend the smallest that fits
    engine: str = "tgi"
    engine_version: str = "3.3.5"
    attention: str | None = None  # features.attention: whether TGI can chunk prefill depends on it
    quantize: str | None = None
    kv_cache_dtype: str | None = None
    memory_fraction: float | None = None  # None: the engine's default
    cuda_graphs: bool = True
    cpu_memory_bytes: int | None = None  # for accelerator "cpu": the pod's memory
    limits: UserLimits = UserLimits()
    download_bandwidth_mbps: float = 200.0
    offline: bool = False
    compile_cache: bool = True  # the engine's compile cache is kept on the cache volume
    gpu_layers: int | None = None  # layers kept on the GPUs, the rest on the CPU (llama.cpp)


@dataclass(frozen=True)
class Plan:
    model: str
    engine: str  # whose memory rule, at which release (engine_version)
    engine_version: str
    family: str
    parameters: int
    parameters_source: str  # "safetensors" or "config"
    active_parameters: int
    quantization: str | None
    weight_bytes: int
    kv_bytes_per_token: int  # whole model, all shards
    context: int  # usable context: position limit capped by tokenizer
    sliding_window: int | None
    accelerator: str
    count: int
    budget: memory.Budget
    fits: bool
    shortfall_bytes: int
    max_batch_total_tokens: int
    max_total_tokens: int
    max_input_tokens: int
    max_batch_prefill_tokens: int
    full_sequences: int
    cold_start: ColdStart
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["budget"] = {**asdict(self.budget), "kv_tokens": self.budget.kv_tokens}
        data["cold_start"] = self.cold_start.as_dict()
        return data


def _valid_shards(dims: ModelDims, shards: int) -> bool:
    """Tensor parallelism splits heads: both head counts must divide (MQA replicates its one KV head)."""
    heads_ok = dims.heads % shards == 0
    kv_ok = dims.kv_heads % shards == 0 or dims.kv_heads == 1 or dims.is_mla
    return heads_ok and kv_ok


def _context(dims: ModelDims, files: ModelFiles) -> int:
    limits = [dims.context]
    if files.model_max_length:
        limits.append(files.model_max_length)
    return min(limits)


def _round(tokens: int) -> int:
    return tokens // BLOCK * BLOCK


def _request_cap(max_batch_total: int, limits: UserLimits) -> int:
    """The longest request to plan: all of a batch limit the user set (the engine then
    checks against that number, not its measurement), else the estimate less its headroom."""
    if limits.max_batch_total_tokens and limits.max_batch_total_tokens == max_batch_total:
        return max_batch_total
    return _round(int(max_batch_total * REQUEST_HEADROOM))


def _served_limits(request: PlanRequest, accelerator: hardware.Accelerator, planned_total: int, prefill: int) -> tuple[int, int]:
    """The total and input limits the engine runs with: the user's where set (what plan prints is
    what render passes; check_limits says when one cannot work), else derived as the engine does.
    TGI's launcher takes max_input_tokens = max_total_tokens - 1 when only the total is given
    (shared/reference/tgi.md); without prefill chunking the longest prompt must prefill in one batch."""
    total = request.limits.max_total_tokens or planned_total
    derived = max(0, total - 1) if _chunking(request, accelerator) else max(0, min(total - 1, prefill))
    return total, request.limits.max_input_tokens or derived


def _device_bytes(request: PlanRequest, accelerator: hardware.Accelerator) -> int:
    if accelerator.vendor == "none":
        if not request.cpu_memory_bytes:
            raise SpecError([Problem("spec.hardware.memory", "planning for CPU needs the pod's memory (e.g. 16Gi)")])
        return request.cpu_memory_bytes
    return int(accelerator.memory_gib * memory.GiB)


def _chunking(request: PlanRequest, accelerator: hardware.Accelerator) -> bool:
    """Whether long prompts prefill in chunks: the engine's own rule (the one its validation applies)."""
    return engines.get(request.engine).chunks_prefill(accelerator, request.attention)


def _evaluate(request: PlanRequest, dims: ModelDims, weights: int, count: int) -> tuple[memory.Budget, int, int]:
    """Budget for ``count`` shards, the prefill size it assumes, and the tokens one request needs."""
    accelerator = hardware.lookup(request.accelerator)
    assert accelerator is not None
    context = _context(dims, request.files)
    limits = request.limits
    if limits.max_batch_prefill_tokens:
        prefill = limits.max_batch_prefill_tokens
    elif _chunking(request, accelerator) or not limits.max_input_tokens:
        # Without chunking the longest prompt must prefill at once, so the
        # planned input limit is capped at this prefill size below.
        prefill = min(DEFAULT_PREFILL_TOKENS, context - 1)
    else:
        prefill = limits.max_input_tokens
    engine = engines.get(request.engine)
    budget = engine.memory_budget(dims, memory.RuleInputs(
        device_bytes=_device_bytes(request, accelerator),
        weights_per_shard=weights // count,
        shards=count,
        prefill_tokens=prefill,
        kv_cache_dtype=request.kv_cache_dtype,
        memory_fraction=request.memory_fraction or engine.default_memory_fraction,
        version=request.engine_version,
        cuda_graphs=request.cuda_graphs and accelerator.vendor in ("nvidia", "amd"),
        max_input_tokens=limits.max_input_tokens,
        max_total_tokens=limits.max_total_tokens,
        gpu_layers=request.gpu_layers,
        gguf=request.files.gguf,
        on_gpu=accelerator.vendor != "none",
    ))
    needed = limits.max_total_tokens or min(context, MIN_USEFUL_TOKENS)
    return budget, prefill, needed


def _weights(request: PlanRequest) -> tuple[ModelDims, int, str, str | None, int, list[str]]:
    """The model's dimensions, parameters (and where they were counted), quantization and
    weight bytes, with a note on where the weights' size came from."""
    files = request.files
    if files.gguf:  # llama.cpp's file: its tensors are the weights, as stored
        header = files.gguf
        return (gguf.dims(header, files.source), sum(t.elements for t in header.tensors), "gguf", gguf.file_type(header),
                header.bytes, [f"GGUF weights: {header.bytes / 1e9:.1f} GB as stored ({gguf.file_type(header) or 'mixed types'})"])
    dims = dims_from_config(files.config, f"{files.source}/config.json")  # its problems name the file
    method, qconfig = memory.quantization_of(files.config, request.quantize)
    tensors = files.tensors
    prequantized = bool(qconfig.get("quant_method"))
    if tensors and not prequantized:
        parameters, source = tensors.elements, "safetensors"
    else:
        parameters, source = parameter_count(dims), "config"
    weights = memory.weight_bytes(dims, parameters, method, qconfig, tensors.bytes if tensors else None)
    notes = []
    if tensors and prequantized:
        notes.append(f"pre-quantized ({qconfig.get('quant_method')}): weights are the checkpoint's {tensors.bytes / 1e9:.1f} GB")
    return dims, parameters, source, method, weights, notes


def plan(request: PlanRequest) -> Plan:
    """Size a deployment; see the module docstring."""
    files = request.files
    dims, parameters, source, method, weights, notes = _weights(request)

    candidates = [request.count] if request.count else [c for c in SHARD_COUNTS if _valid_shards(dims, c)]
    if request.count and not _valid_shards(dims, request.count):
        raise SpecError([Problem("spec.hardware.accelerator.count",
                                 f"{request.count} shards cannot split {dims.heads} attention heads and "
                                 f"{dims.kv_heads} KV heads evenly; use one of "
                                 f"{', '.join(str(c) for c in SHARD_COUNTS if _valid_shards(dims, c))}")])
    chosen = None
    for count in candidates:
        budget, prefill, needed = _evaluate(request, dims, weights, count)
        chosen = (count, budget, prefill, needed)
        if budget.kv_tokens >= needed:
            break
    assert chosen is not None
    count, budget, prefill, needed = chosen
    fits = budget.kv_tokens >= needed
    shortfall = budget.shortfall_bytes(needed)
    context = _context(dims, files)
    # A batch limit the user set caps everything planned from it (the engine checks
    # max total <= max batch total at start-up).
    max_batch_total = min(_round(budget.kv_tokens), request.limits.max_batch_total_tokens or budget.kv_tokens)
    planned_total = min(context, _request_cap(max_batch_total, request.limits)) if max_batch_total else 0
    if request.gpu_layers is not None and request.gpu_layers <= dims.layers:
        notes.append(f"{request.gpu_layers} of {dims.layers + 1} layers on the GPUs (features.gpuLayers): the weights per shard are "
                     "theirs; the rest stay in host memory")
    if dims.sliding_window and dims.sliding_window < context:
        notes.append(f"sliding window {dims.sliding_window}: each request's cache stops growing there")
    if not fits:
        what = f"on {count}x {request.accelerator}" if request.count else f"on up to {count}x {request.accelerator}"
        notes.append(f"does not fit {what}: each device is {shortfall / 1e9:.1f} GB short of weights plus one {needed}-token request")
    accelerator = hardware.lookup(request.accelerator)
    assert accelerator is not None
    max_total, max_input = _served_limits(request, accelerator, planned_total, prefill)
    cold = estimate(weights / 1e9, on_gpu=accelerator.vendor != "none", bandwidth_mbps=request.download_bandwidth_mbps,
                    offline=request.offline, model_id=files.source, compile_s=engines.get(request.engine).facts.compile_s,
                    compile_cached=request.compile_cache)
    return Plan(
        model=files.source, engine=request.engine, engine_version=request.engine_version, family=dims.family, parameters=parameters,
        parameters_source=source,
        active_parameters=active_parameter_count(dims) if dims.is_moe else parameters,
        quantization=method, weight_bytes=weights,
        kv_bytes_per_token=budget.kv_bytes_per_token * count,
        context=context, sliding_window=dims.sliding_window, accelerator=request.accelerator, count=count,
        budget=budget, fits=fits, shortfall_bytes=shortfall,
        max_batch_total_tokens=max_batch_total, max_total_tokens=max_total,
        max_input_tokens=max_input, max_batch_prefill_tokens=min(prefill, max_batch_total) if max_batch_total else prefill,
        full_sequences=max_batch_total // max_total if max_total else 0,
        cold_start=cold, notes=notes,
    )


def check_limits(result: Plan, limits: UserLimits) -> list[Problem]:
    """User limits that cannot work with this plan, each naming its spec field."""
    found = []

    def bad(name: str, message: str) -> None:
        found.append(Problem(f"spec.serving.{name}", message))

    if limits.max_total_tokens and limits.max_total_tokens > result.context:
        bad("maxTotalTokens", f"{limits.max_total_tokens} is beyond the model's context ({result.context} tokens)")
    elif limits.max_total_tokens and limits.max_total_tokens > result.max_batch_total_tokens:
        bad("maxTotalTokens", f"{limits.max_total_tokens} does not fit the KV cache: {result.count}x {result.accelerator} "
            f"holds {result.max_batch_total_tokens} tokens; {engines.get(result.engine).facts.title} would fail at start-up")
    if limits.max_input_tokens and limits.max_input_tokens >= result.context:
        bad("maxInputTokens", f"{limits.max_input_tokens} leaves no room to generate within the context ({result.context})")
    elif limits.max_input_tokens and not limits.max_total_tokens and limits.max_input_tokens >= result.max_total_tokens:
        bad("maxInputTokens", f"{limits.max_input_tokens} leaves no room to generate: {result.count}x {result.accelerator} "
            f"holds {result.max_total_tokens} tokens of one request")
    if limits.max_batch_total_tokens and limits.max_batch_total_tokens > result.budget.kv_tokens:
        bad("maxBatchTotalTokens", f"{limits.max_batch_total_tokens} exceeds the KV cache ({result.budget.kv_tokens} tokens "
            f"on {result.count}x {result.accelerator}); the engine would run out of memory")
    return found
