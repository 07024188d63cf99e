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

from tgictl.adapters import helm
from tgictl.errors import UsageError
from tgictl.render import gitops, manifests
from tgictl.render.prepare import Prepared, prepare
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
    prepared: Prepared
    options: Options
    waiting: helm.Waiting | None = None  # a helm started before the values were known


def _values(ctx: _Context) -> Rendered:
    return Rendered(dump_yaml(ctx.prepared.values))


def objects(prepared: Prepared, *, include_tests: bool = False, waiting: helm.Waiting | None = None) -> list[manifests.RenderedObject]:
    """The prepared spec's objects, as helm renders them, schema-checked."""
    return manifests.from_values(prepared.values, release=prepared.release, namespace=prepared.namespace,
                                 include_tests=include_tests, waiting=waiting)


def _manifests(ctx: _Context) -> Rendered:
    rendered = objects(ctx.prepared, include_tests=ctx.options.include_tests, waiting=ctx.waiting)
    return Rendered(manifests.as_stream(rendered), {o.filename: o.text for o in rendered}, manifests.unchecked(rendered))


def _kustomize(ctx: _Context) -> Rendered:
    rendered = objects(ctx.prepared, include_tests=ctx.options.include_tests, waiting=ctx.waiting)
    files = gitops.kustomize_tree(rendered, ctx.options.source)
    return Rendered("".join(f"# {name}\n{text}" for name, text in files.items()), files, manifests.unchecked(rendered))


def _gitops(kind: str) -> Callable[[_Context], Rendered]:
    def render_objects(ctx: _Context) -> Rendered:
        o, p = ctx.options, ctx.prepared
        if kind == "argocd":
            document = gitops.argocd_application(p.release, p.namespace, p.values, repo_url=o.repo_url, revision=o.revision,
                                                 path=o.path, cold_start_s=p.startup_budget_s, kustomize=o.kustomize_path)
        else:
            document = gitops.flux_object(p.release, p.namespace, p.values, source=o.flux_source,
                                          path=o.path, cold_start_s=p.startup_budget_s, kustomize=o.kustomize_path)
        stream = gitops.as_stream([document], o.source)
        documents = manifests.split(stream)
        manifests.validate(documents)
        return Rendered(stream, {documents[0].filename: stream}, manifests.unchecked(documents))

    return render_objects


FORMATS: dict[str, Callable[[_Context], Rendered]] = {
    "values": _values,
    "manifests": _manifests,
    "kustomize": _kustomize,
    "argocd": _gitops("argocd"),
    "flux": _gitops("flux"),
}


def render(spec: Spec | Prepared, format: str, *, include_tests: bool = False, options: Options | None = None,
           waiting: helm.Waiting | None = None) -> Rendered:
    """Render ``spec`` (prepared here unless it already is) in ``format``, a key of ``FORMATS``.
    ``waiting`` is a helm started early for the spec's release (see ``tgictl.render.batch``);
    a format that does not run helm, or a spec that names another release, cancels it."""
    try:
        renderer = FORMATS[format]
    except KeyError:
        raise UsageError(f"unknown format {format!r}; allowed: {', '.join(FORMATS)}") from None
    try:
        prepared = spec if isinstance(spec, Prepared) else prepare(spec)
        return renderer(_Context(prepared, options or Options(include_tests=include_tests), waiting))
    finally:
        if waiting is not None:
            waiting.cancel()  # a no-op once helm has answered
