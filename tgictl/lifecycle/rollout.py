"""Canary and blue-green rollouts of a new spec beside the running release.

The new spec runs as a second release, ``<name>-canary``, with no route of its own;
the running (stable) release's HTTPRoute sends it a weighted share (the chart's
``exposure.canary``), changed with ``helm upgrade --reuse-values`` so nothing
else of the stable release moves. Each step holds its weight for
``rollout.stepSeconds``, then the gate (``gate.judge``) decides: on, or abort.

- abort: all weight back to the stable release, then the canary uninstalled;
- promote: the stable release upgraded to the new spec while the canary keeps its
  share (a failed upgrade is rolled back by deploy, the canary still serving),
  then all weight to it, then the canary uninstalled.

Weights always change before anything is deleted, so no request is routed to a
Service that is gone. Helm owns both releases; the cluster is only observed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tgictl.adapters import helm
from tgictl.adapters.kube import Kube
from tgictl.errors import TgictlError, UsageError
from tgictl.lifecycle import gate
from tgictl.lifecycle.deploy import DeployResult, Progress, deploy
from tgictl.render import manifests
from tgictl.spec.model import CanarySpec, Spec

SUFFIX = "-canary"
# Reads the gate's figures: (canary release, stable release) → their figures.
FigureSource = Callable[[str, str], tuple[gate.Figures | None, gate.Figures | None]]


def canary_name(spec: Spec) -> str:
    return spec.metadata.name + SUFFIX


def canary_spec(spec: Spec) -> Spec:
    """The new spec as the canary release: its own name, reached only through the stable release's route."""
    s = spec.spec
    return spec.model_copy(update={
        "metadata": spec.metadata.model_copy(update={"name": canary_name(spec)}),
        "spec": s.model_copy(update={"exposure": s.exposure.model_copy(update={"kind": "none"}),
                                     "rate_limit": s.rate_limit.model_copy(update={"enabled": False}),
                                     "rollout": s.rollout.model_copy(update={"canary": None})})})


@dataclass
class RolloutResult:
    release: str
    canary: str
    namespace: str
    outcome: str  # started | promoted | aborted
    steps: list[dict[str, Any]] = field(default_factory=list)  # {"weight", "verdict"} in order
    changes: list[str] = field(default_factory=list)  # what was done, in words, in order
    reason: str = ""  # why it was aborted

    def as_dict(self) -> dict[str, Any]:
        return {"release": self.release, "canary": self.canary, "namespace": self.namespace, "outcome": self.outcome,
                "steps": self.steps, "changes": self.changes, **({"reason": self.reason} if self.reason else {})}


def _stable_values(spec: Spec, context: str | None) -> dict[str, Any]:
    values = helm.get_values(spec.metadata.name, manifests.namespace_of(spec), context)
    if values is None:
        raise UsageError(f"no release {spec.metadata.name} in {manifests.namespace_of(spec)} to roll out beside: "
                         "deploy it first (tgictl deploy -f)")
    return values


def current_weight(spec: Spec, context: str | None) -> int | None:
    """The canary's share of the stable release's route now (None: no canary on it)."""
    canary = ((_stable_values(spec, context).get("exposure") or {}).get("canary") or {})
    return int(canary.get("weight", 0)) if canary.get("release") else None


def set_weight(spec: Spec, weight: int | None, context: str | None) -> str:
    """Give the canary ``weight`` percent of the stable release's route (None: take it off the route)."""
    canary = {"release": canary_name(spec), "weight": weight} if weight is not None else {"release": "", "weight": 0}
    helm.upgrade_reusing({"exposure": {"canary": canary}}, release=spec.metadata.name,
                         namespace=manifests.namespace_of(spec), kube_context=context)
    return f"{spec.metadata.name}'s route: {weight}% to {canary_name(spec)}" if weight is not None \
        else f"{spec.metadata.name}'s route: all traffic to {spec.metadata.name}"


def start(spec: Spec, kube: Kube, weight: int, *, context: str | None = None, progress: Progress | None = None) -> RolloutResult:
    """Deploy the new spec as the canary (watched to ready, undone on failure), then give it ``weight``%."""
    if spec.spec.exposure.kind != "httproute":
        raise UsageError("a canary takes its share on the HTTPRoute: the spec needs exposure.kind httproute")
    stable = _stable_values(spec, context)
    if (stable.get("exposure") or {}).get("kind") != "httproute":
        raise UsageError(f"{spec.metadata.name} has no HTTPRoute to share: deploy it with exposure.kind httproute first")
    result = RolloutResult(spec.metadata.name, canary_name(spec), manifests.namespace_of(spec), "started")
    deployed: DeployResult = deploy(canary_spec(spec), kube, context=context, progress=progress)
    result.changes.append(f"{result.canary} deployed (revision {deployed.revision}), ready in {deployed.seconds:.0f}s")
    result.changes.append(set_weight(spec, weight, context))
    return result


def abort(spec: Spec, context: str | None = None, result: RolloutResult | None = None, reason: str = "") -> RolloutResult:
    """All traffic back to the stable release, then the canary uninstalled."""
    result = result or RolloutResult(spec.metadata.name, canary_name(spec), manifests.namespace_of(spec), "aborted")
    result.outcome, result.reason = "aborted", reason
    _stable_values(spec, context)  # the stable release must be there to take the traffic back
    result.changes.append(set_weight(spec, None, context))
    result.changes.append(_uninstall_canary(spec, context))
    return result


def promote(spec: Spec, kube: Kube, *, context: str | None = None, progress: Progress | None = None,
            result: RolloutResult | None = None) -> RolloutResult:
    """The stable release upgraded to the new spec (the canary keeping its share meanwhile), then all
    traffic to it, then the canary uninstalled."""
    result = result or RolloutResult(spec.metadata.name, canary_name(spec), manifests.namespace_of(spec), "promoted")
    weight = current_weight(spec, context)
    keeping = spec
    if weight is not None:  # the route keeps the canary's share while the stable pods roll over
        rollout = spec.spec.rollout.model_copy(update={"canary": CanarySpec(release=canary_name(spec), weight=weight)})
        keeping = spec.model_copy(update={"spec": spec.spec.model_copy(update={"rollout": rollout})})
    deployed = deploy(keeping, kube, context=context, progress=progress)
    result.changes.append(f"{spec.metadata.name} upgraded to the new spec (revision {deployed.revision})")
    if weight is not None:
        result.changes.append(set_weight(spec, None, context))
    result.changes.append(_uninstall_canary(spec, context))
    result.outcome = "promoted"
    return result


def _uninstall_canary(spec: Spec, context: str | None) -> str:
    try:
        helm.uninstall(canary_name(spec), manifests.namespace_of(spec), context)
    except TgictlError as err:
        if "not found" in str(err):
            return f"{canary_name(spec)} was not installed"
        raise
    return f"{canary_name(spec)} uninstalled"


def run_steps(spec: Spec, kube: Kube, figures: FigureSource, first: int, *, context: str | None = None,
              step_seconds: float | None = None, wait: Callable[[float], None] = time.sleep,
              progress: Progress | None = None, on_step: Callable[[int, gate.Verdict], None] | None = None) -> RolloutResult:
    """Canary at ``first``%, then each of rollout.steps above it: hold, judge, go on; a failed gate
    aborts, and passing the last (100%) promotes."""
    result = start(spec, kube, first, context=context, progress=progress)
    limits, hold = gate.Thresholds.of(spec), step_seconds if step_seconds is not None else spec.spec.rollout.step_seconds
    weights = [first, *(w for w in spec.spec.rollout.steps if w > first)]
    for index, weight in enumerate(weights):
        if index:
            result.changes.append(set_weight(spec, weight, context))
        try:
            wait(hold)
            verdict = gate.judge(*figures(result.canary, result.release), limits)
        except TgictlError as err:  # no figures, no verdict: the canary does not keep its share unjudged
            return abort(spec, context, result, f"no figures for the gate at {weight}%: {err}")
        except KeyboardInterrupt:
            return abort(spec, context, result, f"interrupted at {weight}%")
        result.steps.append({"weight": weight, "verdict": verdict.as_dict()})
        if on_step:
            on_step(weight, verdict)
        if not verdict.passed:
            return abort(spec, context, result, f"the gate failed at {weight}%: " + "; ".join(verdict.reasons))
    return promote(spec, kube, context=context, progress=progress, result=result)
