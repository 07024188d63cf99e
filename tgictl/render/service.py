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
from tgictl.render import gitops, manifests
from tgictl.render.values import chart_values, cold_start
from tgictl.spec.model import Spec


@dataclass(frozen=True)
class Rendered:
    """Output of one render: a stream for stdout and files for a directory."""

    stream: str
    files: dict[str, str] = field(default_factory=dict)  # relative path → text
    unchecked: list[str] = field(default_factory=list)  # kinds rendered without a schema to check them

    def write(self, directory: Path, *, force: bool = False) -> list[Path]:
        """Write the files into ``directory``; files an earlier render wrote there and this one
        does not make are removed (objects that no longer exist must not linger in a GitOps
        tree). Nothing tgictl did not write is replaced or removed unless ``force``."""
        from tgictl.adapters.files import write_files

        return write_files(directory, self.files or {"values.yaml": self.stream}, writer="render", force=force, prune=True)


def dump_yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)


@dataclass(frozen=True)
class Options:
    """How to render: test pods, and where GitOps controllers find the sources."""

    include_tests: bool = False
    source: str = "tgi.yaml"  # the spec file, named in generated headers
    repo_url: str = "https://git.example.com/platform/llm-deployments.git"
    revision: str = "main"
    path: str = "charts/tgi"  # chart path, or a Kustomize tree with kustomize_path
    kustomize_path: bool = False  # GitOps objects point at a committed Kustomize tree
    flux_source: str = "llm-deployments"  # the GitRepository Flux reads


@dataclass(frozen=True)
class _Context:
    spec: Spec
    weights_gb: float | None
    cold_start_s: int
    options: Options


def _values(ctx: _Context) -> Rendered:
    return Rendered(dump_yaml(chart_values(ctx.spec, ctx.weights_gb)))


def _objects(ctx: _Context) -> list[manifests.RenderedObject]:
    return manifests.render(ctx.spec, include_tests=ctx.options.include_tests, weights_gb=ctx.weights_gb)


def _manifests(ctx: _Context) -> Rendered:
    objects = _objects(ctx)
    return Rendered(manifests.as_stream(objects), {o.filename: o.text for o in objects}, manifests.unchecked(objects))


def _kustomize(ctx: _Context) -> Rendered:
    objects = _objects(ctx)
    files = gitops.kustomize_tree(objects, ctx.options.source)
    return Rendered("".join(f"# {name}\n{text}" for name, text in files.items()), files, manifests.unchecked(objects))


def _gitops(kind: str) -> Callable[[_Context], Rendered]:
    def render_objects(ctx: _Context) -> Rendered:
        o, spec = ctx.options, ctx.spec
        values = chart_values(spec, ctx.weights_gb)
        common = dict(cold_start_s=ctx.cold_start_s, kustomize=o.kustomize_path, path=o.path)
        if kind == "argocd":
            document = gitops.argocd_application(spec.metadata.name, manifests.namespace_of(spec), values,
                                                 repo_url=o.repo_url, revision=o.revision, **common)  # type: ignore[arg-type]
        else:
            document = gitops.flux_object(spec.metadata.name, manifests.namespace_of(spec), values,
                                          source=o.flux_source, **common)  # type: ignore[arg-type]
        stream = gitops.as_stream([document], o.source)
        objects = manifests.split(stream)
        manifests.validate(objects)
        return Rendered(stream, {objects[0].filename: stream}, manifests.unchecked(objects))

    return render_objects


FORMATS: dict[str, Callable[[_Context], Rendered]] = {
    "values": _values,
    "manifests": _manifests,
    "kustomize": _kustomize,
    "argocd": _gitops("argocd"),
    "flux": _gitops("flux"),
}


def render(spec: Spec, format: str, *, include_tests: bool = False, options: Options | None = None) -> Rendered:
    """Render ``spec`` in ``format`` (a key of ``FORMATS``), with limits planned
    from ``spec.model.files`` when the spec names them."""
    try:
        renderer = FORMATS[format]
    except KeyError:
        raise UsageError(f"unknown format {format!r}; allowed: {', '.join(FORMATS)}") from None
    options = options or Options(include_tests=include_tests)
    planned, result = planned_for_render(spec)
    weights_gb = result.weight_bytes / 1e9 if result else None
    cold_start_s = planned.spec.probes.startup_budget_seconds or cold_start(planned, weights_gb).budget_s
    return renderer(_Context(planned, weights_gb, cold_start_s, options))
