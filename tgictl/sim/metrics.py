"""Prometheus text exposition with each engine's own metric names, types and buckets.

We write the format ourselves rather than use prometheus_client because the
engines break its conventions on purpose: TGI's counters have no ``_total``
suffix and its series appear only after their first observation. Each engine's
metrics class (in ``tgictl/engines/<name>/simulator.py``) is a scheduler
observer plus a request recorder that renders ``/metrics`` like its engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field


Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{v}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return repr(int(value)) if float(value).is_integer() else repr(value)


@dataclass
class Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str = ""
    buckets: tuple[float, ...] = ()
    values: dict[Labels, float] = field(default_factory=dict)
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=dict)

    def inc(self, amount: float = 1.0, labels: Labels = ()) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def set(self, value: float, labels: Labels = ()) -> None:
        self.values[labels] = value

    def observe(self, value: float, labels: Labels = ()) -> None:
        counts = self.counts.setdefault(labels, [0] * (len(self.buckets) + 1))
        # Cumulative buckets are built at exposition time; here count per slot.
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                counts[index] += 1
                break
        else:
            counts[-1] += 1
        self.sums[labels] = self.sums.get(labels, 0.0) + value

    def expose(self) -> Iterable[str]:
        if not self.values and not self.counts:
            return  # like TGI's exporter: no series before the first observation
        if self.help:
            yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(labels)} {_num(value)}"
        for labels, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts):
                running += count
                yield f"{self.name}_bucket{_labels(labels, f'le={_q(_num(bound))}')} {running}"
            yield f"{self.name}_sum{_labels(labels)} {_num(self.sums[labels])}"
            yield f"{self.name}_count{_labels(labels)} {running}"


def _q(text: str) -> str:
    return f'"{text}"'


class Registry:
    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def family(self, name: str, kind: str, help: str = "", buckets: Iterable[float] = ()) -> Family:
        if name not in self.families:
            self.families[name] = Family(name, kind, help, tuple(buckets))
        return self.families[name]

    def expose(self) -> str:
        lines: list[str] = []
        for family in self.families.values():
            block = list(family.expose())
            if block:
                lines.extend(block)
                lines.append("")
        return "\n".join(lines)


class EngineSideOnly:
    """For engines whose metrics come from the engine loop only: no per-request
    counters at admission (vLLM, llama.cpp count requests when they finish)."""

    registry: Registry

    def on_request(self, input_tokens: int, max_new_tokens: int, validation_seconds: float) -> None:
        pass

    def on_error(self, kind: str) -> None:
        pass

    def expose(self) -> str:
        return self.registry.expose()
