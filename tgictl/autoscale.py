"""What the autoscaler will do, in numbers: the query, thresholds, the
cold-start-derived behavior and the worst-case time to add one ready
replica; and the prometheus-adapter rule the HPA alternative needs."""

from __future__ import annotations

from typing import Any

from tgictl.errors import UsageError
from tgictl.render.prepare import prepare
from tgictl.render.service import objects
from tgictl.render.values import with_chart_defaults
from tgictl.spec.model import Spec

# The HPA controller re-evaluates every 15 s (kube-controller-manager default).
HPA_SYNC_S = 15


def explain(spec: Spec) -> dict[str, Any]:
    if not spec.spec.autoscaling.enabled:
        raise UsageError("spec.autoscaling.enabled is false: nothing to explain")
    prepared = prepare(spec)
    a = with_chart_defaults(prepared.values)["autoscaling"]
    budget = prepared.startup_window_s
    if a["kind"] == "keda":
        scaled = next(o.obj for o in objects(prepared) if o.kind == "ScaledObject")
        query = scaled["spec"]["triggers"][0]["metadata"]["query"]  # exactly what KEDA will run
    else:
        query = 'llm_queue_size (prometheus-adapter, from llm:queue_size:pod), averaged over pods'
    cold_start = a["scaleUpPeriodSeconds"]
    # Worst case: the signal crosses just after a poll, then the HPA's sync, then a cold start.
    detect = (a["pollingInterval"] if a["kind"] == "keda" else 0) + HPA_SYNC_S
    return {
        "kind": a["kind"],
        "query": query,
        "threshold_per_replica": a["target"],
        "activation_threshold": a["activationTarget"] if a["kind"] == "keda" else None,
        "replicas": {"min": a["minReplicas"], "max": a["maxReplicas"]},
        "scale_to_zero_signal": a["upstreamQuery"] or None,
        "behavior": {
            "scale_up": f"at most 1 pod per {cold_start}s (the planned cold start), no stabilization window",
            "scale_down": f"1 pod per 300s after {a['scaleDownStabilizationSeconds']}s of lower demand",
        },
        "cold_start_s": cold_start,
        "startup_probe_budget_s": budget,
        "worst_case_seconds_to_one_more_ready_replica": detect + cold_start,
        "seconds_to_max_replicas_from_min": detect + cold_start * max(0, a["maxReplicas"] - max(1, a["minReplicas"])),
    }


def adapter_values(spec: Spec) -> dict[str, Any]:
    """prometheus-adapter chart values serving llm:queue_size:pod as llm_queue_size (custom metrics).

    Only `rules.custom`: KEDA and the adapter both claim external.metrics.k8s.io,
    so tgictl never configures the adapter's external rules."""
    metric = spec.spec.autoscaling.metric.removeprefix("llm:")
    return {
        "rules": {
            "default": False,
            "custom": [{
                "seriesQuery": f'{{__name__="llm:{metric}:pod",namespace!="",pod!=""}}',
                "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
                "name": {"matches": f"^llm:{metric}:pod$", "as": f"llm_{metric}"},
                "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
            }],
            "external": [],
        }
    }
