"""Warm the model cache before the first deploy: a Job downloads the weights
into the cache PVC, so the engine's first start skips the download.

Engine-neutral: every engine here reads the Hugging Face hub cache layout
(llama.cpp too, since it moved to it), so one huggingface_hub download into
the directory the engine reads serves all three; the engine names the files.

The Job runs in a release of its own (`<name>-cache-warm`) that renders only
the Job and the PVC; the PVC is annotated for the model's release, which
adopts it on install, and is kept when the warm release is removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tgictl.adapters import helm
from tgictl.adapters.kube import ClusterError, Kube
from tgictl.engines import engine_for
from tgictl.errors import TgictlError, UsageError
from tgictl.lifecycle.deploy import namespace_missing, warm_release
from tgictl.render.prepare import prepare
from tgictl.spec.model import Spec

IMAGE = "ghcr.io/tgictl/tgictl:0.1.0"


class CacheWarmFailed(TgictlError):
    """The download Job failed; the message carries its last log lines."""


def check_warmable(spec: Spec) -> list[str]:
    """The Hub files to download; refuses, before touching the cluster, what has no cache to warm."""
    cache = spec.spec.cache
    if cache.ephemeral:
        raise UsageError("cache.ephemeral has no PVC to warm")
    if cache.offline:
        raise UsageError("cache.offline is set: the cache is expected to be filled already")
    return engine_for(spec).cached_files(spec)


def warm(spec: Spec, kube: Kube, *, context: str | None = None, progress: Callable[[str], None] | None = None,
         poll_s: float = 2.0, budget_s: float = 7200.0, image: str = IMAGE) -> str:
    """Run the Job to completion; returns its last log line."""
    files = check_warmable(spec)
    prepared = prepare(spec)
    namespace, name = prepared.namespace, prepared.release
    values = {**prepared.values, "cacheWarm": {"only": True, "image": image, "revision": spec.spec.model.revision or "",
                                               "files": files, "adoptingRelease": name}}
    release = job = warm_release(name)
    helm.upgrade_install(values, release=release, namespace=namespace, kube_context=context, timeout_s=int(budget_s),
                         create_namespace=namespace_missing(kube, namespace))
    started, last = time.monotonic(), ""
    try:
        while time.monotonic() - started < budget_s:
            status = (kube.get("batch/v1", "Job", namespace, job) or {}).get("status") or {}
            pods = kube.pods(namespace, f"job-name={job}")
            if pods:
                try:
                    # Lists come sorted by name: the newest attempt is the latest created.
                    newest = max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))
                    lines = kube.log(namespace, newest["metadata"]["name"], container="download", tail=20)
                except ClusterError:
                    lines = []  # not started yet
                if lines and lines[-1] != last:
                    last = lines[-1]
                    if progress:
                        progress(last)
            if status.get("succeeded"):
                return last
            if status.get("failed", 0) > 2:
                raise CacheWarmFailed(f"{job} failed: {last or 'no log'}")
            time.sleep(poll_s)
        raise CacheWarmFailed(f"{job} did not finish in {budget_s:.0f}s")
    finally:
        helm.uninstall(release, namespace, context)  # the PVC stays: resource-policy keep
