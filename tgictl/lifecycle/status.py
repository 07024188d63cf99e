"""A release as it stands: Helm's record, the pods (phase, readiness, restarts,
node and the GPU model under them), the phase of the current revision, and
key SLIs when Prometheus is known."""

from __future__ import annotations

from typing import Any

from tgictl import hardware
from tgictl.adapters import helm
from tgictl.adapters.kube import ClusterError, Kube
from tgictl.lifecycle.deploy import observe, selector
from tgictl.render.manifests import namespace_of
from tgictl.spec.model import Spec


def _gpu_products(kube: Kube, spec: Spec) -> dict[str, str]:
    """Node name → the accelerator product label the spec's hardware selects on (empty when the
    accelerator has none, or RBAC hides nodes: they are cluster-scoped)."""
    accelerator = hardware.lookup(spec.spec.hardware.accelerator.type)
    if accelerator is None or accelerator.product_label is None or not spec.spec.hardware.accelerator.count:
        return {}
    key = accelerator.product_label[0]
    try:
        nodes = kube.nodes()
    except ClusterError:
        return {}
    return {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(key, "") for n in nodes}


def release_status(spec: Spec, kube: Kube, context: str | None = None, prometheus: str | None = None) -> dict[str, Any]:
    namespace = namespace_of(spec)
    release = helm.status(spec.metadata.name, namespace, context)
    products = _gpu_products(kube, spec)
    rows = []
    for pod in kube.pods(namespace, selector(spec)):
        statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
        node = (pod.get("spec") or {}).get("nodeName")
        rows.append({"pod": pod["metadata"]["name"], "phase": (pod.get("status") or {}).get("phase"),
                     "ready": all(c.get("ready") for c in statuses), "restarts": sum(c.get("restartCount", 0) for c in statuses),
                     "node": node, "gpu": products.get(node or "") or None})
    data: dict[str, Any] = {
        "release": spec.metadata.name, "namespace": namespace, "revision": release.get("version"),
        "status": (release.get("info") or {}).get("status"), "engine": spec.spec.engine.name, "model": spec.spec.model.id,
        "gpus_per_pod": spec.spec.hardware.accelerator.count, "phase": observe(kube, spec).phase, "pods": rows,
    }
    if prometheus:
        from tgictl.monitor import read_slis

        found = read_slis(prometheus, namespace, spec.metadata.name)
        data["metrics"] = found[0].values if found else None
    return data
