"""Wake the deploy loop when the cluster moves: watches on the release's pods
and on the namespace's events, each on a thread, set one flag.

A watch is an optimisation over sleeping between looks: the loop still lists
(a list is the consistent view) and still looks at least every poll interval,
since log lines change without any watch firing.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from tgictl.adapters.kube import ClusterError, Forbidden, Kube

# Seconds a single watch runs before it is renewed (the server ends it then);
# also how long a stopped watcher thread may linger.
WATCH_S = 20
# A watch that ends sooner than this (a stream cut early, an error, a 410) is renewed after a
# pause that doubles up to MAX_RETRY_S, jittered: streams an API server restart cuts at once
# must not all come back at once, nor spin.
HEALTHY_WATCH_S = 5.0
RETRY_S = 0.5
MAX_RETRY_S = 10.0


def release_owns(name: str, release: str) -> bool:
    """Whether an object name is one of the release's: the chart names them after it (the
    Deployment, its ReplicaSets ``<release>-<hash>`` and pods, the cache PVC)."""
    return name == release or name.startswith(release + "-")


class Changes:
    def __init__(self, kube: Kube, namespace: str, selector: str, release: str) -> None:
        self.kube, self.namespace, self.selector, self.release = kube, namespace, selector, release
        self._changed = threading.Event()
        self._stop = threading.Event()

    def __enter__(self) -> Changes:
        for resource in ("pods", "events"):
            threading.Thread(target=self._follow, args=(resource,), name=f"watch {resource}", daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def wait(self, timeout_s: float) -> bool:
        """Block until something changed since the last call, or ``timeout_s``; True on a change."""
        changed = self._changed.wait(timeout_s)
        self._changed.clear()
        return changed

    def _relevant(self, resource: str, obj: dict[str, Any]) -> bool:
        if resource == "pods":
            return True  # the server filtered by the release's label selector
        # Events of the whole namespace arrive; only the release's objects (pods are named after it) matter.
        involved = obj.get("involvedObject") or {}
        return release_owns(str(involved.get("name", "")), self.release)

    def _follow(self, resource: str) -> None:
        version: str | None = None
        pause = RETRY_S
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                version = self._watch_once(resource, version)
            except Forbidden:
                return  # RBAC does not let us watch this: polling alone will do
            except (ClusterError, ValueError):
                version = None  # the API hiccuped: the loop keeps listing meanwhile; start afresh
            if time.monotonic() - began >= HEALTHY_WATCH_S:
                pause = RETRY_S
                continue
            self._stop.wait(pause * random.uniform(0.5, 1.5))
            pause = min(MAX_RETRY_S, pause * 2)

    def _watch_once(self, resource: str, version: str | None) -> str | None:
        """One watch from ``version`` until the server ends it; the version to resume from (None:
        start afresh, as after a 410 ERROR event: ours is older than the server keeps)."""
        for change in self.kube.watch(resource, self.namespace, selector=self.selector if resource == "pods" else None,
                                      resource_version=version, timeout_s=WATCH_S):
            if self._stop.is_set():
                return version
            kind, obj = change.get("type"), change.get("object") or {}
            if kind == "ERROR":
                return None
            version = (obj.get("metadata") or {}).get("resourceVersion") or version
            if kind != "BOOKMARK" and self._relevant(resource, obj):  # a bookmark only moves the version
                self._changed.set()
        return version
