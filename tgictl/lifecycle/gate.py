"""The gate a canary passes before it takes more traffic: its engine-neutral llm: series
against the spec's thresholds and against the stable release's own figures.

The series are the recording rules' 5-minute windows, read once each step has run
for ``rollout.stepSeconds``. A series an engine does not export (llama.cpp counts no
failed requests and has no TTFT histogram; vLLM counts only the requests its queue
limit refuses) is named as not judged,
never read as zero; a canary that served nothing in the window fails: there is
nothing to judge it by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tgictl import monitor
from tgictl.spec.model import Spec

Figures = dict[str, float | None]  # one release's monitor.SLIS columns


@dataclass(frozen=True)
class Thresholds:
    ttft_p95_s: float
    error_ratio: float
    queue_size: float
    vs_stable: float
    vs_stable_slack_s: float = 0.0

    @classmethod
    def of(cls, spec: Spec) -> Thresholds:
        """The spec's rollout.gate, each unset one taken from monitoring.slo."""
        gate, slo = spec.spec.rollout.gate, spec.spec.monitoring.slo
        return cls(gate.ttft_p95_seconds or slo.ttft_p95_seconds,
                   gate.error_ratio if gate.error_ratio is not None else slo.error_ratio,
                   gate.queue_size if gate.queue_size is not None else slo.queue_size, gate.vs_stable,
                   gate.vs_stable_slack_seconds)


@dataclass(frozen=True)
class Check:
    name: str
    canary: float | None
    limit: float | None
    passed: bool | None  # None: not judged (the series is missing)
    why: str


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed is not False for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [c.why for c in self.checks if c.passed is False]

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def _limit(name: str, value: float | None, limit: float, unit: str = "") -> Check:
    if value is None:
        return Check(name, None, limit, None, f"{name}: not exported by this engine, not judged")
    passed = value <= limit
    return Check(name, value, limit, passed, f"{name} {value:.4g}{unit} {'<=' if passed else '>'} {limit:.4g}{unit}")


def _error_ratio(figures: Figures) -> float | None:
    errors, served = figures.get("errors_per_s"), figures.get("requests_per_s")
    if errors is None:
        return None
    total = errors + (served or 0.0)
    return errors / total if total else 0.0


def judge(canary: Figures | None, stable: Figures | None, limits: Thresholds) -> Verdict:
    """Whether the canary may take more traffic, with one check per figure."""
    served = canary and any((canary.get(k) or 0) > 0 for k in ("requests_per_s", "tokens_per_s", "errors_per_s"))
    if not canary or not served:
        return Verdict((Check("traffic", 0.0, None, False, "the canary served no request in the window: nothing to judge it by"),))
    ttft = canary.get("ttft_p95_s")
    checks = [Check("traffic", canary.get("requests_per_s") or canary.get("tokens_per_s"), None, True, "the canary served requests"),
              _limit("TTFT p95", ttft, limits.ttft_p95_s, " s"),
              _limit("error ratio", _error_ratio(canary), limits.error_ratio),
              _limit("queue", canary.get("waiting"), limits.queue_size)]
    stable_ttft = (stable or {}).get("ttft_p95_s")
    if ttft is not None and stable_ttft:
        checks.append(_against_stable(ttft, stable_ttft, limits))
    return Verdict(tuple(checks))


def _against_stable(ttft: float, stable_ttft: float, limits: Thresholds) -> Check:
    """The canary's TTFT p95 against vs_stable x the stable release's, never tighter than the slack."""
    ratio, slack = limits.vs_stable * stable_ttft, stable_ttft + limits.vs_stable_slack_s
    limit = max(ratio, slack)
    bound = (f"{limits.vs_stable:g} x the stable release's {stable_ttft:.4g} s" if ratio >= slack else
             f"the stable release's {stable_ttft:.4g} s + {limits.vs_stable_slack_s:g} s")
    passed = ttft <= limit
    return Check("TTFT p95 vs stable", ttft, limit, passed, f"TTFT p95 {ttft:.4g} s {'<=' if passed else '>'} {bound}")


def read(prometheus: monitor.PrometheusAccess, namespace: str, canary: str, stable: str) -> tuple[Figures | None, Figures | None]:
    """The canary's and the stable release's figures now (None: no series at all)."""
    rows = {row.deployment: row.values for row in monitor.read_slis(prometheus, namespace)}
    return rows.get(canary), rows.get(stable)
