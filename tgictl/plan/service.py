"""Planning for a spec: build the request, run the planner, fold the plan into the spec.

``render`` plans only from ``spec.model.files`` (a directory the user names),
never from whatever happens to sit in a local cache or on the Hub: the same
spec must render the same bytes on every machine. ``tgictl plan`` may also
look in the cache and, with ``--hub``, on the Hub.
"""

from __future__ import annotations

import re
from pathlib import Path

from tgictl import cost, hardware
from tgictl.engines import engine_for
from tgictl.errors import Problem, SpecError, UsageError
from tgictl.model import files as model_files
from tgictl.model.memory import host_memory, quantity_bytes
from tgictl.plan.planner import Plan, PlanRequest, UserLimits, check_limits, plan
from tgictl.spec.model import Spec


def engine_version(tag: str) -> str:
    """The release number at the front of an image tag ("3.3.5-rocm" → "3.3.5")."""
    match = re.match(r"v?(\d+(?:\.\d+)*)", tag)
    return match.group(1) if match else tag


def user_limits(spec: Spec) -> UserLimits:
    s = spec.spec.serving
    return UserLimits(s.max_input_tokens, s.max_total_tokens, s.max_batch_prefill_tokens, s.max_batch_total_tokens)


def request_for(spec: Spec, files: model_files.ModelFiles, *, fixed_count: bool = True) -> PlanRequest:
    """The planner's request for a spec and the model files read for it."""
    s = spec.spec
    engine = engine_for(spec)
    _, tag = engine.image(spec)
    graphs = s.serving.cuda_graphs
    return PlanRequest(
        files=files,
        accelerator=s.hardware.accelerator.type,
        count=(s.hardware.accelerator.count or 1) if fixed_count else None,
        engine=engine.name,
        engine_version=engine_version(tag),
        attention=s.features.attention,
        quantize=s.serving.quantize,
        kv_cache_dtype=s.serving.kv_cache_dtype,
        memory_fraction=s.serving.cuda_memory_fraction,
        cuda_graphs=not (graphs is not None and not any(graphs)),
        cpu_memory_bytes=quantity_bytes(s.hardware.memory) if s.hardware.memory else None,
        limits=user_limits(spec),
        download_bandwidth_mbps=s.cache.download_bandwidth_mbps,
        offline=s.cache.offline,
        compile_cache=s.cache.compile_cache and not s.cache.ephemeral,
        gpu_layers=s.features.gpu_layers,
    )


def plan_spec(spec: Spec, *, allow_cache: bool = True, allow_hub: bool = False) -> Plan:
    """Plan a spec from ``model.files``, else (when allowed) the local cache or the Hub."""
    m = spec.spec.model
    if m.files:
        files = model_files.read_path(m.files, m.revision)
    elif allow_cache:
        files = model_files.resolve(m.id, m.revision, allow_hub=allow_hub)
    else:
        raise SpecError([Problem("spec.model.files", "planning needs the model's files: set a local directory")])
    if problems := engine_for(spec).model_problems(spec, files):
        raise SpecError(problems)
    return plan(request_for(spec, files))


def pod_memory(spec: Spec, weights: int | None) -> str:
    """The pod's memory limit when the spec sets none: its weights (``None`` when not
    planned), what it keeps in CPU memory (offloaded weights, swap space) and one engine
    process per shard."""
    features = spec.spec.features
    offloaded = int(((features.cpu_offload_gb or 0) + (features.swap_space_gb or 0)) * 1e9)
    return host_memory(weights, engine_for(spec).shard_count(spec), offloaded)


def planned_for_render(spec: Spec) -> tuple[Spec, Plan | None]:
    """The spec with every limit the user left empty filled from the plan, and the plan.

    Without ``model.files`` the spec is returned unchanged: the engine then sizes
    itself at warm-up. With them, a limit that cannot work, or a model that does
    not fit, is an error before anything renders."""
    if not spec.spec.model.files:
        return spec, None
    result = plan_spec(spec, allow_cache=False)
    problems = check_limits(result, user_limits(spec))
    if not result.fits:
        recommended = plan(request_for(spec, model_files.read_path(spec.spec.model.files, spec.spec.model.revision), fixed_count=False))
        advice = (f"; {recommended.count}x {recommended.accelerator} fits" if recommended.fits
                  else f"; it does not fit on up to {recommended.count}x {recommended.accelerator} either")
        # After the limits: a limit past the model's context is the cause, not the accelerators.
        problems.append(Problem("spec.hardware.accelerator.count",
                                   f"{result.family} model does not fit on {result.count}x {result.accelerator}: "
                                   f"{result.shortfall_bytes / 1e9:.1f} GB short{advice}"))
    if problems:
        raise SpecError(problems)
    s = spec.spec.serving
    engine = engine_for(spec)
    planned = engine.planned_limits(spec, result)
    filled = s.model_copy(update={name: getattr(s, name) or value for name, value in planned.items()})
    hardware = spec.spec.hardware
    if not hardware.memory:
        hardware = hardware.model_copy(update={"memory": pod_memory(spec, result.weight_bytes)})
    # The planned cold start sets the startup budget unless the user fixed it.
    return spec.model_copy(update={"spec": spec.spec.model_copy(update={"serving": filled, "hardware": hardware})}), result


def replica_range(spec: Spec) -> tuple[int, int]:
    """The replicas a spec runs: autoscaling's bounds, else its fixed count."""
    a = spec.spec.autoscaling
    return (a.min_replicas, a.max_replicas) if a.enabled else (spec.spec.replicas, spec.spec.replicas)


def deployment_cost(accelerator: str, count: int, replicas: tuple[int, int], *, price: float | None = None,
                    prices_file: Path | None = None) -> cost.DeploymentCost | None:
    """What ``replicas`` pods of ``count`` accelerators cost (None: no price known for it)."""
    found = cost.price_of(accelerator, override=price, prices_file=prices_file)
    return cost.DeploymentCost(found, count, *replicas) if found else None


def server_price(spec: Spec, *, price: float | None = None, prices_file: Path | None = None) -> cost.ServerPrice | None:
    """What a spec's running release costs per hour, for a load test against it: its
    accelerators at the price given, times its replicas (autoscaling: the minimum, the
    replicas that are always up)."""
    accelerator = spec.spec.hardware.accelerator
    replicas = max(1, replica_range(spec)[0])
    found = deployment_cost(accelerator.type, accelerator.count or 1, (replicas, replicas), price=price, prices_file=prices_file)
    if found is None:
        return None
    p = found.price
    return cost.ServerPrice(found.per_replica_hour * replicas,
                            f"{replicas} replica{'s' if replicas > 1 else ''} x {found.accelerators_per_replica}x {accelerator.type} "
                            f"at ${p.usd_per_hour:g}/h ({p.describe()})")


def url_price(gpu: str | None, count: int, *, price: float | None = None, prices_file: Path | None = None) -> cost.ServerPrice:
    """What ``count`` accelerators serving a URL cost per hour: ``gpu``'s price (or ``price``)."""
    accelerator = hardware.lookup(gpu) if gpu else None
    if gpu and accelerator is None:
        raise UsageError(f"unknown --gpu {gpu!r}; allowed: {', '.join(hardware.CATALOG)}")
    found = cost.price_of(accelerator.key, override=price, prices_file=prices_file) if accelerator else cost.Price(price or 0.0, "--price")
    if found is None:
        raise UsageError(f"no default price for {gpu}: give --price (USD per accelerator-hour) or --prices FILE")
    return cost.ServerPrice(found.usd_per_hour * count, f"{count}x {accelerator.key if accelerator else 'accelerator'} "
                                                        f"at ${found.usd_per_hour:g}/h ({found.describe()})")
