"""`tgictl plan`: size a deployment from the model's own files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from tgictl.cli.output import Format, OutputOption, handles_errors, print_data, print_table
from tgictl.errors import SpecError, UsageError

if TYPE_CHECKING:  # the planner imports pydantic models: keep `tgictl --help` fast
    from tgictl.cost import DeploymentCost
    from tgictl.plan.planner import Plan


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def _cost_row(p: Plan, cost: DeploymentCost | None) -> tuple[str, str]:
    if cost is None:
        return ("cost", f"no default price for {p.accelerator}: give --price (USD per accelerator-hour) or --prices FILE")
    price = cost.price
    replicas = (f"{cost.replicas_min} replica{'s' if cost.replicas_min != 1 else ''}" if cost.replicas_min == cost.replicas_max
                else f"{cost.replicas_min}-{cost.replicas_max} replicas")
    month = (f"${cost.per_month(cost.replicas_min):,.0f}" if cost.replicas_min == cost.replicas_max
             else f"${cost.per_month(cost.replicas_min):,.0f}-${cost.per_month(cost.replicas_max):,.0f}")
    return ("cost", f"${cost.per_replica_hour:.2f} per replica-hour ({cost.accelerators_per_replica}x ${price.usd_per_hour:g}/h: "
                    f"{price.describe()}); {month} a month for {replicas}")


def _rows(p: Plan, cost: DeploymentCost | None) -> list[tuple[str, str]]:
    b, c = p.budget, p.cold_start
    params = f"{p.parameters / 1e9:.2f} B ({p.parameters_source})"
    if p.active_parameters != p.parameters:
        params += f", {p.active_parameters / 1e9:.2f} B active"
    rows = [
        ("model", f"{p.model} ({p.family})"),
        ("engine", f"{p.engine} {p.engine_version}"),
        ("parameters", params),
        ("quantization", p.quantization or "none (16-bit)"),
        ("weights", f"{_gb(p.weight_bytes)} total, {_gb(b.weights_bytes)} per shard"),
        ("kv cache per token", f"{p.kv_bytes_per_token} B ({b.kv_bytes_per_token} B per shard)"),
        ("context", str(p.context)),
        ("hardware", f"{p.count}x {p.accelerator}, {_gb(b.device_bytes)} each"),
        ("per-device split", f"weights {_gb(b.weights_bytes)} + runtime {_gb(b.overhead_bytes)} + "
                             f"prefill activations {_gb(b.activation_bytes)}; KV budget {_gb(b.kv_budget_bytes)} "
                             f"(fraction {b.memory_fraction:.2f} x wiggle room {b.wiggle_room:.2f})"),
        ("fits", "yes" if p.fits else f"NO: {_gb(p.shortfall_bytes)} short per device"),
        ("max batch total tokens", str(p.max_batch_total_tokens)),
        ("max total tokens", str(p.max_total_tokens)),
        ("max input tokens", str(p.max_input_tokens)),
        ("max batch prefill tokens", str(p.max_batch_prefill_tokens)),
        ("full-length sequences at once", str(p.full_sequences)),
        ("cold start", f"pull {c.image_pull_s:.0f}s + download {c.download_s:.0f}s + load {c.load_s:.0f}s + "
                       + (f"compile {c.compile_s:.0f}s + " if c.compile_s else "")
                       + f"warm-up {c.warmup_s:.0f}s = {c.total_s:.0f}s; startup budget {c.budget_s}s; "
                       f"{c.warm_total_s:.0f}s for a pod finding the cache volume filled"),
        _cost_row(p, cost),
    ]
    rows += [("note", note) for note in p.notes]
    return rows


# The options that describe a MODEL's deployment, and the spec field that decides each with --file.
_SPEC_FIELDS = {
    "gpu": "spec.hardware.accelerator.type", "count": "spec.hardware.accelerator.count", "quantize": "spec.serving.quantize",
    "kv_cache_dtype": "spec.serving.kvCacheDtype", "memory": "spec.hardware.memory", "engine": "spec.engine.name",
    "engine_version": "spec.image.tag", "max_input_tokens": "spec.serving.maxInputTokens",
    "max_total_tokens": "spec.serving.maxTotalTokens", "max_batch_prefill_tokens": "spec.serving.maxBatchPrefillTokens",
}


def _refuse_model_options(given: dict[str, object]) -> None:
    """With --file the spec decides: an option that would be silently ignored is an error instead."""
    ignored = [f"--{name.replace('_', '-')} ({_SPEC_FIELDS[name]})" for name, value in given.items() if value is not None]
    if ignored:
        raise UsageError(f"with --file the spec decides; these options plan a MODEL and would be ignored: {', '.join(ignored)}; "
                         "edit those spec fields instead")


def _plan_model(model: str, hub: bool, *, gpu: str | None, engine: str | None, count: int | None, quantize: str | None,
                kv_cache_dtype: str | None, memory: str | None, engine_version: str | None, max_input_tokens: int | None,
                max_total_tokens: int | None, max_batch_prefill_tokens: int | None) -> Plan:
    """Plan MODEL's files on the options (a100-80gb and tgi when unset)."""
    from tgictl import hardware
    from tgictl.engines import REGISTRY
    from tgictl.model import files as model_files
    from tgictl.model.memory import quantity_bytes
    from tgictl.plan.planner import PlanRequest, UserLimits, plan as run_plan
    from tgictl.plan.service import engine_version as release_of

    gpu, engine = gpu or "a100-80gb", engine or "tgi"
    accelerator = hardware.lookup(gpu)
    if accelerator is None:
        raise UsageError(f"unknown --gpu {gpu!r}; allowed: {', '.join(hardware.CATALOG)}")
    if engine not in REGISTRY:
        raise UsageError(f"unknown --engine {engine!r}; allowed: {', '.join(REGISTRY)}")
    return run_plan(PlanRequest(
        files=model_files.resolve(model, allow_hub=hub), accelerator=accelerator.key, count=count,
        engine=engine, engine_version=engine_version or release_of(REGISTRY[engine].facts.image_tag),
        quantize=quantize, kv_cache_dtype=kv_cache_dtype, cpu_memory_bytes=quantity_bytes(memory) if memory else None,
        limits=UserLimits(max_input_tokens, max_total_tokens, max_batch_prefill_tokens),
    ))


@handles_errors
def plan(
    model: Annotated[Optional[str], typer.Argument(help="Model directory, cache entry, or Hub id (with --hub).")] = None,
    file: Annotated[Optional[str], typer.Option("--file", "-f",
                                                help="Plan this spec instead of MODEL (tgi.yaml when neither is given).")] = None,
    gpu: Annotated[Optional[str], typer.Option(help="Accelerator catalog key (h100, l4, cpu, ...); a100-80gb when unset.")] = None,
    count: Annotated[Optional[int], typer.Option(min=1, help="Accelerators per pod; the smallest that fits when unset.")] = None,
    quantize: Annotated[Optional[str], typer.Option(help="Quantize at load (awq, fp8, bitsandbytes-nf4, ...).")] = None,
    kv_cache_dtype: Annotated[Optional[str], typer.Option(help="KV cache dtype (fp8_e4m3fn, fp8_e5m2).")] = None,
    memory: Annotated[Optional[str], typer.Option(help="Pod memory for CPU plans, e.g. 16Gi.")] = None,
    engine: Annotated[Optional[str], typer.Option(help="Whose memory rule to plan with: tgi, vllm or llamacpp (tgi when unset).")] = None,
    engine_version: Annotated[Optional[str],
                              typer.Option(help="The engine release whose warm-up to follow (default: the one tgictl deploys).")] = None,
    max_input_tokens: Annotated[Optional[int], typer.Option(min=1, help="The launcher's --max-input-tokens, when set.")] = None,
    max_total_tokens: Annotated[Optional[int], typer.Option(min=2, help="The launcher's --max-total-tokens, when set.")] = None,
    max_batch_prefill_tokens: Annotated[Optional[int],
                                        typer.Option(min=1, help="The launcher's --max-batch-prefill-tokens (warm-up prefill).")] = None,
    hub: Annotated[bool, typer.Option(help="Read configs and safetensors headers from the Hub when not cached.")] = False,
    price: Annotated[Optional[float], typer.Option(min=0.0, help="USD per accelerator-hour (default: the catalog's dated price).")] = None,
    prices: Annotated[Optional[Path], typer.Option(help="YAML of accelerator: USD per accelerator-hour, over the catalog's.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Size a deployment: weights, KV cache, limits, GPU count and cold start."""
    from tgictl.plan.service import deployment_cost, plan_spec, replica_range
    from tgictl.spec.load import load_file

    if model is not None and file is not None:
        raise UsageError("give either MODEL or --file, not both")
    if model is None and file is None:
        if not Path("tgi.yaml").exists():
            raise UsageError("give a MODEL (directory, cache entry or Hub id) or --file SPEC; no tgi.yaml here to plan")
        file = "tgi.yaml"
    options: dict[str, Any] = {"gpu": gpu, "count": count, "quantize": quantize, "kv_cache_dtype": kv_cache_dtype, "memory": memory,
                               "engine": engine, "engine_version": engine_version, "max_input_tokens": max_input_tokens,
                               "max_total_tokens": max_total_tokens, "max_batch_prefill_tokens": max_batch_prefill_tokens}
    replicas = (1, 1)
    if file:
        _refuse_model_options(options)
        spec = load_file(file)
        try:
            result, replicas = plan_spec(spec, allow_hub=hub), replica_range(spec)
        except SpecError as err:
            raise err.in_file(file) from None
    else:
        assert model is not None
        result = _plan_model(model, hub, **options)
    cost = deployment_cost(result.accelerator, result.count, replicas, price=price, prices_file=prices)
    if output is not Format.table:
        print_data({**result.as_dict(), "cost": cost.as_dict() if cost else None}, output)
    else:
        print_table(["PLAN", "VALUE"], _rows(result, cost))
    if not result.fits:
        raise typer.Exit(3)
