"""Which server `smoke` and `bench` talk to: the URL given, or with --release a
port-forward to a ready pod of the spec's release (held open by the caller's
ExitStack), with the API key to send."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Optional

import typer

from tgictl.cli.cluster_options import KubeconfigOption
from tgictl.errors import UsageError

__all__ = ["KubeconfigOption", "ReleaseContextOption", "ReleaseNamespaceOption", "ReleaseOption", "URLArgument", "server"]

URLArgument = Annotated[Optional[str], typer.Argument(help="Base URL of the server, e.g. http://127.0.0.1:8080.")]
ReleaseOption = Annotated[bool, typer.Option("--release", help="Reach the spec's deployed release through a port-forward instead of URL.")]
ReleaseContextOption = Annotated[Optional[str], typer.Option("--context", help="kubeconfig context, with --release.")]
ReleaseNamespaceOption = Annotated[Optional[str], typer.Option("--namespace", "-n",
                                                               help="Namespace, with --release (overrides metadata.namespace).")]


def server(stack: contextlib.ExitStack, url: str | None, release: bool, file: str | None, namespace: str | None,
           context: str | None, api_key: str | None, spec: Any = None) -> tuple[str, dict[str, str]]:
    """The base URL and the headers to send. With --release the key, when not given, comes from
    the Secret the spec names (serving.apiKeySecret); ``spec`` is the spec when already loaded."""
    if release:
        if not file or url:
            raise UsageError("--release reaches the release of a spec: give -f tgi.yaml and no URL")
        from tgictl.cli.cluster_options import Release, spec_in
        from tgictl.lifecycle.portforward import api_key_headers, forwarded

        target = Release(spec or spec_in(file, namespace), context)
        headers = api_key_headers(target.spec, target.kube, api_key)
        return stack.enter_context(forwarded(target.spec, target.kube)), headers
    if not url:
        raise UsageError("give the server's URL, or --release -f tgi.yaml")
    return url, {"Authorization": f"Bearer {api_key}"} if api_key else {}
