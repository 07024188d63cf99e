"""What every cluster command shares: --kubeconfig, --context, --namespace, and
loading the spec and the API client they name."""

from __future__ import annotations

import os
from typing import Annotated, Any, Optional

import typer


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
    from tgictl.spec.load import load_file

    spec = load_file(file)
    if namespace:
        spec = spec.model_copy(update={"metadata": spec.metadata.model_copy(update={"namespace": namespace})})
    return spec


def kube_for(context: str | None) -> Any:
    from tgictl.adapters.kube import Kube

    return Kube(context=context)
