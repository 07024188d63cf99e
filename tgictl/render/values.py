"""Spec → values for the ``charts/tgi`` chart.

The engine supplies flags, env and image; this module supplies everything
engine-neutral: resources and GPU requests, node placement, cache volume,
shared memory for sharding, probe budgets from the cold-start estimate, and
termination grace from the engine's drain time. The output is plain data in
a fixed key order, so the same spec always gives the same bytes. Only what the
spec decides is emitted: everything else is the chart's own default (its
values.yaml), so a value has one home (``with_chart_defaults`` merges them for
code that reads the whole set).
"""

from __future__ import annotations

import math
from typing import Any

from tgictl.engines import engine_for
from tgictl.plan.coldstart import ColdStart, estimate
from tgictl.plan.service import pod_memory
from tgictl.spec.model import Spec

# Seconds the container sleeps in preStop so endpoints drop it before draining.
PRE_STOP_SLEEP_S = 10
# NCCL moves tensors through /dev/shm; TGI's README asks for 1Gi, more per shard helps large batches.
SHM_PER_SHARD_GI = 2


def cold_start(spec: Spec, weights_gb: float | None = None) -> ColdStart:
    """The cold-start estimate for a spec (weights from the planner when known)."""
    s = spec.spec
    return estimate(
        weights_gb,
        on_gpu=s.hardware.accelerator.count > 0,
        bandwidth_mbps=s.cache.download_bandwidth_mbps,
        offline=s.cache.offline,
        model_id=s.model.id,
    )


def _resources(spec: Spec) -> dict[str, Any]:
    hw = spec.spec.hardware
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if hw.cpu:
        requests["cpu"] = hw.cpu
    # Always a limit (planned from the weights when the spec sets none), equal to the
    # request: a loading model is the worst time to be evicted for overcommit.
    requests["memory"] = limits["memory"] = hw.memory or pod_memory(spec, None)
    if hw.ephemeral_storage:
        requests["ephemeral-storage"] = hw.ephemeral_storage
    accelerator = engine_for(spec).accelerator(spec)
    if hw.accelerator.count and accelerator.resource:
        # Extended resources cannot be overcommitted: the limit alone sets the request.
        limits[accelerator.resource] = hw.accelerator.count
    out: dict[str, Any] = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


def _placement(spec: Spec) -> tuple[dict[str, str], list[dict[str, object]]]:
    hw = spec.spec.hardware
    accelerator = engine_for(spec).accelerator(spec)
    selector = dict(hw.node_selector)
    if accelerator.product_label:
        key, value = accelerator.product_label
        selector.setdefault(key, hw.accelerator.product_label or value)
    tolerations = list(hw.tolerations)
    if accelerator.resource and not any(t.get("key") == accelerator.resource for t in tolerations):
        # GPU node pools are commonly tainted with the resource name.
        tolerations.append({"key": accelerator.resource, "operator": "Exists", "effect": "NoSchedule"})
    return dict(sorted(selector.items())), tolerations


def startup_window_s(spec: Spec, budget_s: int) -> int:
    """Seconds the startup probe allows: ``budget_s`` rounded up to whole probe periods."""
    period = spec.spec.probes.period_seconds
    return period * math.ceil(budget_s / period)


def chart_values(spec: Spec, start: ColdStart | None = None) -> dict[str, Any]:
    """The chart values for a validated spec; ``start`` is its cold-start estimate
    (``tgictl.render.prepare`` passes the planned one; without it, one from the spec alone)."""
    s = spec.spec
    engine = engine_for(spec)
    repository, tag = engine.image(spec)
    shards = engine.shard_count(spec)
    node_selector, tolerations = _placement(spec)
    start = start or cold_start(spec)
    budget_s = s.probes.startup_budget_seconds or start.budget_s
    return {
        "fullnameOverride": spec.metadata.name,
        "replicaCount": s.replicas,
        "image": {"repository": repository, "tag": tag, "pullPolicy": s.image.pull_policy},
        "imagePullSecrets": [{"name": name} for name in s.image.pull_secrets],
        "engine": _engine(spec),
        "apiKeySecret": {
            "name": s.serving.api_key_secret.name if s.serving.api_key_secret else "",
            "key": s.serving.api_key_secret.key if s.serving.api_key_secret else "api-key",
        },
        "model": {
            "id": s.model.id,
            "hfTokenSecret": {
                "name": s.cache.hf_token_secret.name if s.cache.hf_token_secret else "",
                "key": s.cache.hf_token_secret.key if s.cache.hf_token_secret else "token",
            },
        },
        "cache": {
            "ephemeral": s.cache.ephemeral,
            "existingClaim": s.cache.existing_claim or "",
            "size": s.cache.size,
            "storageClassName": s.cache.storage_class_name or "",
            "accessMode": s.cache.access_mode,
            "compileCache": s.cache.compile_cache,
        },
        "shm": {"enabled": shards > 1, "sizeLimit": f"{SHM_PER_SHARD_GI * shards}Gi"},
        "resources": _resources(spec),
        "nodeSelector": node_selector,
        "tolerations": tolerations,
        "affinity": dict(s.hardware.affinity),
        "runtimeClassName": s.hardware.runtime_class_name or "",
        "priorityClassName": s.hardware.priority_class_name or "",
        "podAnnotations": dict(sorted(s.pod_annotations.items())),
        "podLabels": dict(sorted(s.pod_labels.items())),
        "probes": _probes(spec, budget_s),
        "terminationGracePeriodSeconds": _pre_stop_s(spec) + engine.drain_seconds(spec),
        "preStopSleepSeconds": _pre_stop_s(spec),
        "strategy": {"maxSurge": s.rollout.max_surge, "maxUnavailable": s.rollout.max_unavailable},
        "service": {"type": s.service.type, "port": s.service.port},
        "podDisruptionBudget": {"enabled": s.pod_disruption_budget.enabled},
        "networkPolicy": {"enabled": s.network_policy.enabled},
        "monitoring": _monitoring(spec),
        "autoscaling": _autoscaling(spec, start.total_s, startup_window_s(spec, budget_s)),
        "exposure": _exposure(spec),
        "rateLimit": _rate_limit(spec),
        "inferencePool": {"enabled": s.inference_pool.enabled},
        **_security(spec),
    }


def _security(spec: Spec) -> dict[str, Any]:
    """Only what spec.security sets: the chart merges it over the engine's hardened defaults."""
    sec = spec.spec.security
    pod = {"runAsNonRoot": sec.run_as_non_root, "runAsUser": sec.run_as_user, "runAsGroup": sec.run_as_group,
           "fsGroup": sec.fs_group, "seccompProfile": {"type": sec.seccomp_profile} if sec.seccomp_profile else None}
    container: dict[str, Any] = {"readOnlyRootFilesystem": sec.read_only_root_filesystem}
    if sec.add_capabilities:
        container["capabilities"] = {"add": list(sec.add_capabilities)}
    pod = {key: value for key, value in pod.items() if value is not None}
    container = {key: value for key, value in container.items() if value is not None}
    return {**({"podSecurityContext": pod} if pod else {}), **({"securityContext": container} if container else {})}


def _engine(spec: Spec) -> dict[str, Any]:
    engine = engine_for(spec)
    return {
        "name": engine.name,
        "positionalArgs": engine.positional_args(spec),
        "flags": engine.flags(spec),
        "extraArgs": list(spec.spec.extra_args),
        "env": engine.env(spec),
    }


def _pre_stop_s(spec: Spec) -> int:
    """The preStop sleep: endpoints drop the pod, then, for an engine that cannot drain after
    SIGTERM, its in-flight requests finish before the signal."""
    return PRE_STOP_SLEEP_S + engine_for(spec).pre_stop_drain_seconds(spec)


def _probes(spec: Spec, budget_s: int) -> dict[str, Any]:
    """The startup probe allows the start-up budget in whole periods; the chart's defaults
    set its timeout, and readiness and liveness."""
    period = spec.spec.probes.period_seconds
    return {"startup": {"periodSeconds": period, "failureThreshold": startup_window_s(spec, budget_s) // period}}


# An HPA scaling policy's period may not exceed 30 minutes.
MAX_POLICY_PERIOD_S = 1800


def _autoscaling(spec: Spec, cold_start_s: float, startup_window: int) -> dict[str, Any]:
    a = spec.spec.autoscaling
    return {
        "enabled": a.enabled, "kind": a.kind, "minReplicas": a.min_replicas, "maxReplicas": a.max_replicas,
        "metric": a.metric, "target": a.target, "activationTarget": a.activation_target,
        "prometheusAddress": a.prometheus_address, "cooldownPeriod": a.cooldown_seconds,
        # KEDA scales a new ScaledObject's target to zero at once unless told to wait (seen with
        # KEDA 2.21 on the e2e control plane): the first pod gets its start-up window, then the cooldown.
        "initialCooldownPeriod": startup_window + a.cooldown_seconds,
        "fallbackReplicas": a.fallback_replicas, "upstreamQuery": a.upstream_query or "",
        # One new pod per planned cold start: a loading pod does not shrink the queue.
        "scaleUpPeriodSeconds": min(MAX_POLICY_PERIOD_S, max(60, math.ceil(cold_start_s))),
        "scaleDownStabilizationSeconds": a.scale_down_window_seconds,
    }


def _exposure(spec: Spec) -> dict[str, Any]:
    e = spec.spec.exposure
    gateway = e.gateway
    return {
        "kind": e.kind, "hostnames": list(e.hostnames),
        "gateway": {"name": gateway.name if gateway else "", "namespace": (gateway.namespace or "") if gateway else "",
                    "sectionName": (gateway.section_name or "") if gateway else ""},
        "ingressClassName": e.ingress_class_name or "", "timeoutSeconds": e.timeout_seconds,
        **({"canary": {"release": canary.release, "weight": canary.weight}} if (canary := spec.spec.rollout.canary) else {}),
    }


def _rate_limit(spec: Spec) -> dict[str, Any]:
    r = spec.spec.rate_limit
    return {"enabled": r.enabled, "type": r.type, "requests": r.requests, "unit": r.unit, "by": r.by, "header": r.header}


def _monitoring(spec: Spec) -> dict[str, Any]:
    m = spec.spec.monitoring
    return {
        "serviceMonitor": {"enabled": m.enabled, "release": m.release, "interval": m.interval},
        "rules": {"enabled": m.enabled, "ttftP95Seconds": m.slo.ttft_p95_seconds,
                  "errorRatio": m.slo.error_ratio, "queueSize": m.slo.queue_size},
        "dashboards": {"enabled": m.dashboards, "kind": m.dashboard_kind},
    }


def _merged(defaults: Any, overrides: Any) -> Any:
    """Helm's coalescing: maps merge key by key, anything else the override replaces."""
    if isinstance(defaults, dict) and isinstance(overrides, dict):
        return {**defaults, **{k: _merged(defaults.get(k), v) for k, v in overrides.items()}}
    return overrides


def with_chart_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` over the chart's values.yaml: the values Helm renders with."""
    from tgictl.adapters.helm import chart_defaults

    return _merged(chart_defaults(), values)
