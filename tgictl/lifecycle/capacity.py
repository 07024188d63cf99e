"""The plan checked against the engine: what the engine logged it found at start-up (its KV
cache in tokens, the longest request it takes) beside what `tgictl plan` planned and the limits
the spec (or the plan) set, and which limit will fail when the engine found less."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tgictl.adapters.kube import ClusterError, Kube
from tgictl.engines import engine_for
from tgictl.engines.base import logged_capacity
from tgictl.spec.model import Spec

if TYPE_CHECKING:
    from tgictl.plan.planner import Plan


@dataclass(frozen=True)
class CapacityCheck:
    """The engine's own start-up figures beside the plan's, per pod the check read."""

    pod: str
    engine: str  # its title, as people write it
    planned_kv_tokens: int | None  # None when the spec names no model.files (nothing was planned)
    found_kv_tokens: int | None  # None when the engine does not log it
    request_limit: int | None  # serving.maxTotalTokens, the user's or the plan's
    found_request_tokens: int | None
    evidence: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def found_vs_plan(self) -> float | None:
        """What the engine found against the plan: −0.07 when it found 7 % less than planned."""
        if not self.planned_kv_tokens or self.found_kv_tokens is None:
            return None
        return self.found_kv_tokens / self.planned_kv_tokens - 1

    def summary(self) -> str:
        """One line: "KV cache: planned 14,864 tokens; TGI found 13,793 (-7.2 % against the plan)"."""
        parts = []
        if self.found_kv_tokens is not None:
            planned = f"planned {self.planned_kv_tokens:,} tokens; " if self.planned_kv_tokens else "not planned (no model.files); "
            error = f" ({self.found_vs_plan:+.1%} against the plan)" if self.found_vs_plan is not None else ""
            parts.append(f"KV cache: {planned}{self.engine} found {self.found_kv_tokens:,}{error}")
        if self.found_request_tokens is not None:
            parts.append(f"longest request: {self.found_request_tokens:,} tokens")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"pod": self.pod, "engine": self.engine, "planned_kv_tokens": self.planned_kv_tokens,
                "found_kv_tokens": self.found_kv_tokens,
                "found_vs_plan": None if self.found_vs_plan is None else round(self.found_vs_plan, 4),
                "request_limit": self.request_limit, "found_request_tokens": self.found_request_tokens,
                "evidence": list(self.evidence), "warnings": self.warnings}


def check(spec: Spec, plan: Plan | None, pod: str, log: list[str]) -> CapacityCheck | None:
    """The check of one pod's start-up log; None when the log reports no capacity."""
    engine = engine_for(spec)
    found = logged_capacity(engine.facts, log)
    if found is None:
        return None
    limit = spec.spec.serving.max_total_tokens
    return CapacityCheck(pod, engine.facts.title, plan.budget.kv_tokens if plan else None, found.kv_tokens, limit,
                         found.request_tokens, found.lines, _limits_that_fail(engine.facts.title, limit, found.kv_tokens,
                                                                              found.request_tokens))


def _limits_that_fail(engine: str, limit: int | None, kv_tokens: int | None, request_tokens: int | None) -> list[str]:
    """What the engine found less of than the spec (or plan) asked, in the words deploy prints."""
    if not limit:
        return []
    if request_tokens is not None and request_tokens < limit:
        return [f"serving.maxTotalTokens is {limit:,} but {engine} takes requests of at most {request_tokens:,} tokens: "
                f"longer ones fail; set serving.maxTotalTokens: {request_tokens}"]
    if kv_tokens is not None and kv_tokens < limit:
        return [f"serving.maxTotalTokens is {limit:,} but {engine}'s KV cache holds {kv_tokens:,} tokens: a request that "
                f"long can never run; set serving.maxTotalTokens: {kv_tokens} or give it more memory"]
    return []


def check_pods(kube: Kube, spec: Spec, plan: Plan | None, namespace: str, pods: list[dict[str, Any]]) -> list[CapacityCheck]:
    """The check of each pod whose log says what its engine found (a pod whose log cannot be
    read, or that says nothing of it yet, is left out)."""
    checks = []
    for pod in pods:
        name = pod["metadata"]["name"]
        try:
            log = kube.log(namespace, name)
        except ClusterError:
            continue
        if (found := check(spec, plan, name, log)) is not None:
            checks.append(found)
    return checks
