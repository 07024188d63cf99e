"""Render a spec into Kubernetes objects through the chart, validate them, write them.

The chart is the only template set: this module never builds an object
itself. It keeps helm's bytes for each object (so output is exactly what
``helm template`` prints), drops helm's ``# Source`` comments, and names
files after kind and object name so one spec always gives the same tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from tgictl.adapters import helm
from tgictl.errors import ValidationFailedError
from tgictl.render import schemas
from tgictl.render.values import chart_values
from tgictl.spec.model import Spec

# libyaml's parser when built in: several times faster on large renders.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SOURCE_COMMENT = re.compile(r"^# Source: .*\n", re.MULTILINE)


@dataclass(frozen=True)
class RenderedObject:
    """One rendered object: its parsed form and its exact YAML text."""

    obj: dict[str, Any]
    text: str

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def filename(self) -> str:
        return f"{self.kind.lower()}-{self.name}.yaml"


def split(stream: str) -> list[RenderedObject]:
    """Split helm's multi-document output into objects, skipping empty documents."""
    objects = []
    for chunk in re.split(r"^---\s*$", stream, flags=re.MULTILINE):
        text = _SOURCE_COMMENT.sub("", chunk).strip("\n")
        if not text.strip():
            continue
        obj = yaml.load(text, Loader=_Loader)
        if obj:
            objects.append(RenderedObject(obj, text + "\n"))
    return objects


def validate(objects: list[RenderedObject]) -> None:
    """Raise with every schema violation of every object, if any."""
    lines = [f"{o.kind}/{o.name}: {p}" for o in objects for p in schemas.problems(o.obj)]
    if lines:
        raise ValidationFailedError("rendered objects fail their schemas:\n" + "\n".join(lines))


def unchecked(objects: list[RenderedObject]) -> list[str]:
    """The kinds among ``objects`` no schema here could check (see schemas.checkable)."""
    return sorted({f"{o.kind} ({o.obj.get('apiVersion')})" for o in objects if not schemas.checkable(o.obj)})


def namespace_of(spec: Spec) -> str:
    return spec.metadata.namespace or "default"


def from_values(values: dict[str, Any], *, release: str, namespace: str, include_tests: bool = False,
                waiting: helm.Waiting | None = None) -> list[RenderedObject]:
    """Chart values → ``helm template`` (``waiting`` when started early) → validated objects."""
    running = helm.start_template(values, release=release, namespace=namespace, include_tests=include_tests, waiting=waiting)
    schemas.prepare()  # load the schema machinery while helm renders
    objects = split(running.result())
    validate(objects)
    return objects


def render(spec: Spec, *, include_tests: bool = False) -> list[RenderedObject]:
    """Spec → chart values → validated objects, exactly as written (no planning: see
    ``tgictl.render.prepare`` for what the commands render)."""
    return from_values(chart_values(spec), release=spec.metadata.name, namespace=namespace_of(spec), include_tests=include_tests)


def as_stream(objects: list[RenderedObject]) -> str:
    """All objects as one multi-document YAML stream."""
    return "".join(f"---\n{o.text}" for o in objects)

