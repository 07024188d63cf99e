"""What every cluster command shares: --context, --namespace, and loading the
spec and the API client they name."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

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
