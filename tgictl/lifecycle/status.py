"""A release as it stands: Helm's record, the pods (phase, readiness, restarts,
node and the GPU model under them), the phase of the current revision, and
key SLIs when Prometheus is known."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tgictl import hardware
from tgictl.adapters import helm
from tgictl.adapters.kube import ClusterError, Kube
from tgictl.errors import TgictlError, UsageError
from tgictl.lifecycle.capacity import CapacityCheck, check_pods
from tgictl.lifecycle.deploy import observe, ready_pods, selector
from tgictl.monitor import PrometheusAccess
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


@dataclass(frozen=True)
class PodRow:
    pod: str
    phase: str | None
    ready: bool
    restarts: int
    node: str | None
    gpu: str | None  # the node's accelerator product label


@dataclass(frozen=True)
class ReleaseStatus:
    """What `tgictl status` reports: Helm's view of the release, the engine's phase, its pods,
    and the key SLIs when a Prometheus was named (empty when it has none for the release)."""

    release: str
    namespace: str
    revision: int | None
    status: str | None
    engine: str
    model: str
    gpus_per_pod: int
    phase: str
    pods: tuple[PodRow, ...]
    metrics: dict[str, float | None] | None = None
    capacity: tuple[CapacityCheck, ...] = ()  # what each ready pod's engine found at start-up, beside the plan

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["capacity"] = [c.as_dict() for c in self.capacity]
        if self.metrics is None:
            del data["metrics"]
        return data


def _pod_rows(kube: Kube, spec: Spec, namespace: str) -> tuple[PodRow, ...]:
    products = _gpu_products(kube, spec)
    rows = []
    for pod in kube.pods(namespace, selector(spec)):
        statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
        node = (pod.get("spec") or {}).get("nodeName")
        rows.append(PodRow(pod["metadata"]["name"], (pod.get("status") or {}).get("phase"), all(c.get("ready") for c in statuses),
                           sum(c.get("restartCount", 0) for c in statuses), node, products.get(node or "") or None))
    return tuple(rows)


def release_status(spec: Spec, kube: Kube, context: str | None = None,
                   prometheus: PrometheusAccess | None = None) -> ReleaseStatus:
    namespace = namespace_of(spec)
    release = helm.status(spec.metadata.name, namespace, context)
    if release is None:
        raise UsageError(f"{spec.metadata.name} is not installed in {namespace}")
    metrics = None
    if prometheus:
        from tgictl.monitor import read_slis

        found = read_slis(prometheus, namespace, spec.metadata.name)
        metrics = found[0].values if found else {}
    return ReleaseStatus(spec.metadata.name, namespace, release.get("version"), (release.get("info") or {}).get("status"),
                         spec.spec.engine.name, spec.spec.model.id, spec.spec.hardware.accelerator.count,
                         observe(kube, spec).phase, _pod_rows(kube, spec, namespace), metrics,
                         tuple(_capacity(kube, spec, namespace)))


def _capacity(kube: Kube, spec: Spec, namespace: str) -> list[CapacityCheck]:
    """Each ready pod's start-up figures beside the plan of the spec (with the limits the plan
    filled in); a spec whose model.files cannot be read here is shown unplanned."""
    from tgictl.plan.service import planned_for_render

    try:
        planned, plan = planned_for_render(spec)
    except TgictlError:
        planned, plan = spec, None
    return check_pods(kube, planned, plan, namespace, ready_pods(kube, spec))
