"""The engine's log in every pod of a release: the last lines of each, or all
of them followed at once (one thread per pod, lines handed to ``emit`` as
they arrive, one at a time, never torn)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tgictl.adapters.kube import ClusterError, Forbidden, Kube
from tgictl.lifecycle.deploy import selector
from tgictl.render.manifests import namespace_of
from tgictl.spec.model import Spec


@dataclass(frozen=True)
class PodLog:
    """One pod's last log lines, or why it has none to show (a container still waiting to
    start, no earlier container for ``previous``: the kubelet answers 400 for those)."""

    pod: str
    lines: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def tails(kube: Kube, spec: Spec, tail: int, previous: bool = False) -> list[PodLog]:
    """Each pod's last ``tail`` log lines (of the crashed container with ``previous``); one
    pod without a log does not hide the others'. RBAC refusing pods/log still fails."""
    namespace = namespace_of(spec)
    found = []
    for pod in kube.pods(namespace, selector(spec)):
        name = pod["metadata"]["name"]
        try:
            found.append(PodLog(name, kube.log(namespace, name, tail=tail, previous=previous)))
        except Forbidden:
            raise
        except ClusterError as err:
            found.append(PodLog(name, error=str(err)))
    return found


def follow(kube: Kube, spec: Spec, tail: int, emit: Callable[[str, str], None]) -> list[str]:
    """Stream each pod's log until every stream ends; returns the streams' errors, one line each."""
    namespace = namespace_of(spec)
    pods = [pod["metadata"]["name"] for pod in kube.pods(namespace, selector(spec))]
    lock = threading.Lock()
    errors: list[str] = []

    def one(pod: str) -> None:
        try:
            for line in kube.follow_log(namespace, pod, tail=tail):
                with lock:
                    emit(pod, line)
        except ClusterError as err:
            with lock:
                errors.append(str(err))

    threads = [threading.Thread(target=one, args=(pod,), name=f"log {pod}", daemon=True) for pod in pods]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)  # wake now and then, so Ctrl-C reaches the main thread
    return errors
