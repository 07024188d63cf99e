"""The render service: one entry point for every output format.

Each format is a small function registered by name, returning a
``Rendered`` that can be printed as one stream or written as a tree.
Everything is computed (and validated) before anything is written, so a
failing render leaves the target directory as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tgictl.errors import UsageError
from tgictl.plan.service import planned_for_render
from tgictl.render import manifests
from tgictl.render.values import chart_values
from tgictl.spec.model import Spec


@dataclass(frozen=True)
class Rendered:
    """Output of one render: a stream for stdout and files for a directory."""

    stream: str
    files: dict[str, str] = field(default_factory=dict)  # relative path → text

    def write(self, directory: Path) -> list[Path]:
        if not self.files:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / "values.yaml"
            path.write_text(self.stream)
            return [path]
        written = []
        for relative, text in sorted(self.files.items()):
            path = directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
        # Objects that no longer exist must not linger in a GitOps tree.
        for stale in directory.rglob("*.yaml"):
            if str(stale.relative_to(directory)) not in self.files:
                stale.unlink()
        return written


def dump_yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)


def _values(spec: Spec, weights_gb: float | None, include_tests: bool) -> Rendered:
    return Rendered(dump_yaml(chart_values(spec, weights_gb)))


def _manifests(spec: Spec, weights_gb: float | None, include_tests: bool) -> Rendered:
    objects = manifests.render(spec, include_tests=include_tests, weights_gb=weights_gb)
    return Rendered(manifests.as_stream(objects), {o.filename: o.text for o in objects})


FORMATS: dict[str, Callable[[Spec, float | None, bool], Rendered]] = {
    "values": _values,
    "manifests": _manifests,
}


def render(spec: Spec, format: str, *, include_tests: bool = False) -> Rendered:
    """Render ``spec`` in ``format`` (a key of ``FORMATS``), with limits planned
    from ``spec.model.files`` when the spec names them."""
    try:
        renderer = FORMATS[format]
    except KeyError:
        raise UsageError(f"unknown format {format!r}; allowed: {', '.join(FORMATS)}") from None
    planned, result = planned_for_render(spec)
    return renderer(planned, result.weight_bytes / 1e9 if result else None, include_tests)
