"""Render one spec or many in one process, with helm started ahead of the Python work.

A ``helm template`` spends most of its time starting up, before it reads its
values (see ``helm.Waiting``). So each spec's helm is started as soon as the
spec's release and namespace can be read from its YAML, a few specs ahead
(one per core), and the spec is loaded, planned and turned into values while
those start. helm runs in its own processes, so several render side by side
while this process prepares the next spec. A spec that fails names its file
and the others still render.

This module imports no spec machinery at load time: the first helm must start
before pydantic and the spec models are imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from tgictl.adapters import helm
from tgictl.errors import TgictlError, UsageError
from tgictl.render.formats import THROUGH_HELM

if TYPE_CHECKING:
    from tgictl.render.service import Options, Rendered

SPEC_SUFFIXES = (".yaml", ".yml")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class SpecResult:
    """One spec's render, or the error that stopped it."""

    source: Path
    rendered: Rendered | None = None
    error: TgictlError | None = None


def spec_files(arguments: Sequence[str]) -> list[Path]:
    """The spec files named by ``-f`` arguments: a file as given, a directory as its *.yaml and
    *.yml files in name order (not recursive). The same file twice is rendered once."""
    files: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
            if not found:
                raise UsageError(f"{path}: no spec files (*.yaml, *.yml) in this directory")
            files += found
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def out_dir(base: Path, source: Path, several: bool) -> Path:
    """Where a spec's tree goes: ``base`` for one spec, ``base/<file stem>`` for each of several."""
    return base / source.stem if several else base


def check_distinct_outputs(files: Sequence[Path]) -> None:
    """Several specs write to one directory each, named by file stem: two stems alike would mix."""
    seen: dict[str, Path] = {}
    for path in files:
        if path.stem in seen:
            raise UsageError(f"{seen[path.stem]} and {path} would both render into {path.stem}/: rename one")
        seen[path.stem] = path


def _release_of(path: Path) -> tuple[str, str] | None:
    """The release and namespace the spec will render as, read from its YAML without validating
    it; None when they cannot be read (the spec's load will say why)."""
    try:
        document = yaml.load(path.read_text(), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace") or "default"
    return (name, namespace) if isinstance(name, str) and isinstance(namespace, str) else None


def _start_helm(path: Path, include_tests: bool, namespace: str | None) -> helm.Waiting | None:
    release = _release_of(path)
    if release is None:
        return None
    try:
        return helm.Waiting(release=release[0], namespace=namespace or release[1], include_tests=include_tests)
    except TgictlError:
        return None  # no helm: the render itself reports it


def render_files(files: Sequence[Path], format: str, options_for: Callable[[Path], Options],
                 include_tests: bool = False, ahead: int | None = None, namespace: str | None = None) -> Iterator[SpecResult]:
    """Render each spec file in ``format`` (in ``namespace`` when given), in order; helm runs up to
    ``ahead`` (default: one per core) specs in advance for the formats that go through it."""
    ahead = ahead or os.cpu_count() or 2
    through_helm = THROUGH_HELM.get(format, False)
    waiting: dict[int, helm.Waiting | None] = {}

    def start(index: int) -> None:
        if through_helm and index < len(files):
            waiting[index] = _start_helm(files[index], include_tests, namespace)

    for index in range(ahead):
        start(index)
    from tgictl.render import service  # after helm starts: these imports are what it overlaps with
    from tgictl.spec.load import in_namespace, load_file

    try:
        for index, source in enumerate(files):
            start(index + ahead)
            helm_started = waiting.pop(index, None)
            try:
                spec = in_namespace(load_file(source), namespace)
                rendered = service.render(spec, format, options=options_for(source), waiting=helm_started)
                yield SpecResult(source, rendered=rendered)
            except TgictlError as err:
                yield SpecResult(source, error=err)
            finally:
                if helm_started is not None:
                    helm_started.cancel()
    finally:  # a consumer that stops early leaves no helm behind
        for left in waiting.values():
            if left is not None:
                left.cancel()
