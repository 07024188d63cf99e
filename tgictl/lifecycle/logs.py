"""The engine's log in every pod of a release: the last lines of each, or all
of them followed at once (one thread per pod, lines handed to ``emit`` as
they arrive, one at a time, never torn)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tgictl.adapters.kube import ClusterError, Kube
from tgictl.lifecycle.deploy import selector
from tgictl.render.manifests import namespace_of
from tgictl.spec.model import Spec


def tails(kube: Kube, spec: Spec, tail: int, previous: bool = False) -> dict[str, list[str]]:
    """Pod name → its last ``tail`` log lines (of the crashed container with ``previous``)."""
    namespace = namespace_of(spec)
    return {pod["metadata"]["name"]: kube.log(namespace, pod["metadata"]["name"], tail=tail, previous=previous)
            for pod in kube.pods(namespace, selector(spec))}


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
