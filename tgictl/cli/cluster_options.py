"""What every cluster command shares, declared once: ``-f``, ``--kubeconfig``,
``--context`` and ``-n``, resolved into the ``Release`` the command acts on
(``@release_command``)."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Optional

import typer

from tgictl.cli.output import SpecOption


def _use_kubeconfig(path: Optional[str]) -> Optional[str]:
    """--kubeconfig becomes $KUBECONFIG for this process: the API client reads it per call
    and helm, a child process, inherits it, so both talk to the same cluster."""
    if path:
        os.environ["KUBECONFIG"] = path
    return path


KubeconfigOption = Annotated[Optional[str], typer.Option("--kubeconfig", callback=_use_kubeconfig, expose_value=False,
                                                          help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")]
ContextOption = Annotated[Optional[str], typer.Option("--context", help="kubeconfig context (the current one when unset).")]
NamespaceOption = Annotated[Optional[str], typer.Option("--namespace", "-n", help="Namespace (overrides metadata.namespace).")]


def spec_in(file: str, namespace: str | None) -> Any:
    """The spec, with the namespace the command line asks for."""
    from tgictl.spec.load import in_namespace, load_file

    return in_namespace(load_file(file), namespace)


def kube_for(context: str | None) -> Any:
    from tgictl.adapters.kube import Kube

    return Kube(context=context)


@dataclass(frozen=True)
class Release:
    """The release a cluster command acts on: its spec (with ``-n`` applied), the kubeconfig
    context helm is given, and the API client for that context (made on first use)."""

    spec: Any
    context: str | None

    @property
    def name(self) -> str:
        return str(self.spec.metadata.name)

    @property
    def namespace(self) -> str:
        from tgictl.render.manifests import namespace_of

        return namespace_of(self.spec)

    @cached_property
    def kube(self) -> Any:
        return kube_for(self.context)


_SHARED = [
    inspect.Parameter("file", inspect.Parameter.KEYWORD_ONLY, default="tgi.yaml", annotation=SpecOption),
    inspect.Parameter("context", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ContextOption),
    inspect.Parameter("kubeconfig", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=KubeconfigOption),
    inspect.Parameter("namespace", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=NamespaceOption),
]


def release_command(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command(release: Release, ...)`` the shared cluster options: typer sees them
    in the signature (first, so ``--help`` lists them alike everywhere), and the command
    gets the Release they name instead."""
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
           for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "release"]

    @functools.wraps(command)
    def with_release(*, file: str, context: str | None, namespace: str | None, kubeconfig: None = None, **options: Any) -> None:
        command(Release(spec_in(file, namespace), context), **options)

    parameters = [*_SHARED, *own]
    with_release.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    with_release.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_release
