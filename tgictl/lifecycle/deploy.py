"""Deploy a spec: render, hand the release to Helm, watch the start in words,
and on failure explain it and undo it (roll back, or uninstall a first install).

Helm owns the release; the Kubernetes API is only observed. Progress goes to
a callback so the CLI can print it; the result is data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tgictl.adapters import helm
from tgictl.adapters.kube import ClusterError, Forbidden, Kube
from tgictl.engines import engine_for
from tgictl.errors import TgictlError, ToolFailedError, UsageError
from tgictl.lifecycle.capacity import CapacityCheck, check_pods
from tgictl.lifecycle.progress import NODE_WAIT_S, Assessment, assess, event_time
from tgictl.lifecycle.watch import Changes, release_owns
from tgictl.render import manifests
from tgictl.render.prepare import prepare
from tgictl.render.service import objects
from tgictl.spec.model import Spec

Progress = Callable[[Assessment], None]
# Waiting past the start-up budget by this much before giving up.
MARGIN_S = 60
# Looks at least this far apart (or poll_s, if shorter): a look is several API calls,
# and a busy pod can fire many events a second.
MIN_LOOK_S = 0.5


class DeployFailed(TgictlError):
    """The release did not become ready; the message says why and what was undone."""


@dataclass
class DeployResult:
    release: str
    namespace: str
    revision: int
    phases: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # When each phase began, seconds after the watch started: the measured cold start,
    # to hold against the planned start-up budget.
    timeline: list[tuple[str, float]] = field(default_factory=list)
    startup_budget_s: float = 0.0
    smoke: dict[str, Any] | None = None  # the closing smoke test's report, when one ran
    scaled_to_zero: bool = False  # the autoscaler took it to no pods: nothing ran to verify
    # What each ready pod's engine logged it found at start-up, beside the plan.
    capacity: list[CapacityCheck] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"release": self.release, "namespace": self.namespace, "revision": self.revision,
                                "phases": self.phases, "seconds": round(self.seconds, 1),
                                "timeline": [{"phase": phase, "at_s": at} for phase, at in self.timeline],
                                "startup_budget_s": self.startup_budget_s, "scaled_to_zero": self.scaled_to_zero,
                                "capacity": [c.as_dict() for c in self.capacity]}
        if self.smoke is not None:
            data["smoke"] = self.smoke
        return data


def selector(spec: Spec) -> str:
    return f"app.kubernetes.io/instance={spec.metadata.name}"


REVISION = "deployment.kubernetes.io/revision"


def rollout_selector(kube: Kube, spec: Spec) -> tuple[str | None, dict[str, Any] | None]:
    """The label selector of the pods of the Deployment's current revision, and the Deployment.

    Right after an upgrade the newest pod may still be the old revision's (with
    maxSurge 0 the new pod comes only once an old one has gone), so pods are
    matched by the pod-template-hash of the ReplicaSet of the Deployment's
    current revision. The selector is None while the Deployment controller has
    not acted on the new spec yet; without a Deployment every pod of the
    release counts."""
    namespace, base = manifests.namespace_of(spec), selector(spec)
    deployment = kube.get("apps/v1", "Deployment", namespace, spec.metadata.name)
    if deployment is None:
        return base, None
    meta, status = deployment["metadata"], deployment.get("status") or {}
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return None, deployment
    revision = (meta.get("annotations") or {}).get(REVISION)
    for replica_set in kube.list("apps/v1", "ReplicaSet", namespace, base):
        labels = replica_set["metadata"].get("labels") or {}
        if (replica_set["metadata"].get("annotations") or {}).get(REVISION) == revision and "pod-template-hash" in labels:
            return f"{base},pod-template-hash={labels['pod-template-hash']}", deployment
    return None, deployment


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def ready_pods(kube: Kube, spec: Spec) -> list[dict[str, Any]]:
    """The ready pods of the Deployment's current revision."""
    current, _ = rollout_selector(kube, spec)
    return [p for p in kube.pods(manifests.namespace_of(spec), current) if _ready(p)] if current else []


CLOCK_SKEW_S = 2


def _replica_set_events(events: list[dict[str, Any]], spec: Spec, current: str, since: float | None) -> list[dict[str, Any]]:
    """Events of the current revision's ReplicaSet (named deployment-<pod-template-hash>, as
    pkg/controller/deployment/sync.go names it) that happened after ``since``: a FailedCreate from
    before a quota was raised lives on for an hour, and must not fail the next deploy."""
    template_hash = current.rpartition("pod-template-hash=")[2] if "pod-template-hash=" in current else None
    # Event times are whole seconds of the API server's clock: allow for that and a little skew.
    since = None if since is None else math.floor(since) - CLOCK_SKEW_S
    return [e for e in events if (e.get("involvedObject") or {}).get("kind") == "ReplicaSet"
            and release_owns((e.get("involvedObject") or {}).get("name", ""), spec.metadata.name)
            and (template_hash is None or (e.get("involvedObject") or {}).get("name") == f"{spec.metadata.name}-{template_hash}")
            and (since is None or (event_time(e) or since) >= since)]


SCALED_TO_ZERO = "scaled to zero"  # deploy's end with no pod to watch: the autoscaler's minReplicas 0


def scaled_to_zero(spec: Spec, deployment: dict[str, Any]) -> bool:
    """Whether the release's autoscaler may and did take the Deployment to no replicas (KEDA does)."""
    scaling = spec.spec.autoscaling
    return scaling.enabled and scaling.min_replicas == 0 and (deployment.get("spec") or {}).get("replicas") == 0


def observe(kube: Kube, spec: Spec, since: float | None = None, node_wait_s: float = NODE_WAIT_S) -> Assessment:
    """One look at the newest pod of the release's current revision; ``since`` (epoch seconds)
    is when this deploy began: older events of the ReplicaSet no longer count."""
    namespace = manifests.namespace_of(spec)
    current, deployment = rollout_selector(kube, spec)
    if deployment is not None and scaled_to_zero(spec, deployment):
        return Assessment(SCALED_TO_ZERO, "its autoscaler scaled it to zero replicas (no demand): a pod starts on the first "
                          "demand, and the new revision is not verified until then")
    if current is None:
        return Assessment("scheduling", "waiting for the Deployment controller to start the new revision")
    pods = sorted(kube.pods(namespace, current), key=lambda p: p["metadata"].get("creationTimestamp", ""))
    # An evicted pod stays Failed while the ReplicaSet starts its replacement: until one is
    # ready, the newest pod would hide why the first one went (and the next goes the same way).
    evicted = [p for p in pods if (p.get("status") or {}).get("reason") == "Evicted"]
    pod = evicted[-1] if evicted and not any(_ready(p) for p in pods) else pods[-1] if pods else None
    try:
        events = kube.events(namespace)
    except Forbidden:
        events = []  # RBAC may hide events; pod status and logs still tell most of the story
    if pod is None:  # nothing to see but why the ReplicaSet makes no pod (quota, admission)
        events = _replica_set_events(events, spec, current, since)
    log: list[str] = []
    previous: list[str] = []
    if pod is not None:
        try:
            log = kube.log(namespace, pod["metadata"]["name"])
            restarts = sum(c.get("restartCount", 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])
            if restarts:
                previous = kube.log(namespace, pod["metadata"]["name"], previous=True)
        except ClusterError:
            pass  # the container has not started: there is no log yet
    state = assess(pod, events, log, engine_for(spec).facts, previous, node_wait_s=node_wait_s)
    waiting = rollout_waiting(deployment) if deployment is not None else None
    if state.phase == "ready" and waiting:  # the newest pod is ready; the rollout is not done
        return Assessment("warmup", waiting)
    return state


def rollout_waiting(deployment: dict[str, Any]) -> str | None:
    """What an unfinished rollout waits for, as `kubectl rollout status` judges it; None when done."""
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    status = deployment.get("status") or {}
    updated, total, available = (status.get(k, 0) for k in ("updatedReplicas", "replicas", "availableReplicas"))
    if updated < wanted:
        return f"{updated} of {wanted} replicas updated"
    if total > updated:
        return f"{total - updated} old replicas pending termination"
    if available < updated:
        return f"{available} of {updated} updated replicas available"
    return None


def deploy(spec: Spec, kube: Kube, *, context: str | None = None, progress: Progress | None = None,
           poll_s: float = 2.0, budget_s: float | None = None, node_wait_s: float = NODE_WAIT_S) -> DeployResult:
    """Install or upgrade the release and watch its newest pod until ready, or until it fails or
    runs out of time: the start-up budget (+ margin) once it has a node, ``node_wait_s`` for one
    before (``budget_s``, when given, bounds the whole wait). A failure is explained and undone."""
    prepared = prepare(spec)
    namespace, release, values = prepared.namespace, prepared.release, prepared.values
    rendered = objects(prepared)  # every object schema-checked before anything is applied
    _refuse_kept_claim_changes(kube, namespace, rendered)
    _refuse_what_would_fail(spec, kube)
    startup = prepared.startup_window_s
    budget = budget_s if budget_s is not None else startup + MARGIN_S
    before = helm.history(release, namespace, context)
    try:
        helm.upgrade_install(values, release=release, namespace=namespace, kube_context=context, timeout_s=max(60, int(budget)),
                             create_namespace=namespace_missing(kube, namespace),
                             take_ownership=_adopts_warmed_claim(kube, release, namespace, rendered))
    except ToolFailedError as err:
        # Helm may have applied some objects before failing (a webhook, a quota): undo them too.
        raise DeployFailed(f"{err}\n{_undo(release, namespace, before, context)}") from None
    revision = (before[-1]["revision"] + 1) if before else 1
    result = DeployResult(release, namespace, revision, startup_budget_s=startup)
    started, since = time.monotonic(), time.time()
    waiting_for_node = 0.0  # seconds spent in "scheduling": the start-up budget starts at a node
    with Changes(kube, namespace, selector(spec), release) as changes:
        last, looked_at = None, started
        while True:
            if last is not None and last.phase == "scheduling" and budget_s is None:
                waiting_for_node = min(node_wait_s, waiting_for_node + time.monotonic() - looked_at)
            looked_at = time.monotonic()
            try:
                state = observe(kube, spec, since, node_wait_s)
            except Forbidden as err:  # helm may apply what RBAC then hides from us: undo it all the same
                state = Assessment("failed", str(err), f"RBAC denies what deploy must read ({err}); `tgictl doctor` lists "
                                   "every permission deploy uses")
            except ClusterError as err:  # an API server restarting or a connection cut: the budget bounds the wait
                state = Assessment(last.phase if last else "scheduling", f"the API server did not answer ({err}); looking again")
            if progress and (last is None or (state.phase, state.detail) != (last.phase, last.detail)):
                progress(state)
            if not result.phases or result.phases[-1] != state.phase:
                result.phases.append(state.phase)
                result.timeline.append((state.phase, round(time.monotonic() - started, 1)))
            last = state
            if state.phase in ("ready", SCALED_TO_ZERO):
                result.seconds = time.monotonic() - started
                result.scaled_to_zero = state.phase == SCALED_TO_ZERO
                if not result.scaled_to_zero:
                    result.capacity = check_pods(kube, prepared.spec, prepared.plan, namespace, ready_pods(kube, spec))
                return result
            if state.failed or time.monotonic() - started - waiting_for_node > budget:
                cause = state.failure or f"not ready after {budget:.0f}s (last phase: {state.phase}: {state.detail})"
                undone = _undo(release, namespace, before, context)
                evidence = "".join(f"\n  | {line}" for line in state.evidence)
                raise DeployFailed(f"{release} failed: {cause}{evidence}\n{undone}")
            # Look again when a pod or event changes, or after poll_s at the latest
            # (log lines move without either), but not more often than MIN_LOOK_S.
            looked = time.monotonic()
            changes.wait(poll_s)
            time.sleep(max(0.0, min(poll_s, MIN_LOOK_S) - (time.monotonic() - looked)))


# The kept cache PVC's fields the API server will not change once it is bound, and the spec
# field that sets each (PersistentVolumeClaim validation: spec is immutable after creation
# except resources.requests and volumeAttributesClassName).
IMMUTABLE_CLAIM_FIELDS = (("storageClassName", "spec.cache.storageClassName"), ("accessModes", "spec.cache.accessMode"))


def _refuse_kept_claim_changes(kube: Kube, namespace: str, rendered: list[manifests.RenderedObject]) -> None:
    """Refuse, before helm applies anything, a spec whose cache PVC differs from the one an earlier
    install kept (delete keeps it) in a field the API server will not change: helm would fail
    half-way with a page of Go struct diff."""
    for claim in (o.obj for o in rendered if o.kind == "PersistentVolumeClaim"):
        name = claim["metadata"]["name"]
        live = kube.get("v1", "PersistentVolumeClaim", namespace, name)
        if live is None:
            continue
        for key, field_path in IMMUTABLE_CLAIM_FIELDS:
            wanted, kept = claim["spec"].get(key), (live.get("spec") or {}).get(key)
            if wanted is not None and kept is not None and wanted != kept:
                raise UsageError(f"{field_path}: the cache PVC {name} kept from an earlier install has {key} {_shown(kept)}, "
                                 f"the spec asks {_shown(wanted)}, and a claim's {key} cannot change: set it to {_shown(kept)}, "
                                 f"or delete the PVC (and the weights it holds) to start over: "
                                 f"kubectl delete pvc {name} -n {namespace}")


OWNER = "meta.helm.sh/release-name"


def _adopts_warmed_claim(kube: Kube, release: str, namespace: str, rendered: list[manifests.RenderedObject]) -> bool:
    """Whether helm must take the cache PVC over from `cache warm`'s release: helm stamps every
    object it creates with its own release's name, so the claim the warm release keeps says
    ``<release>-cache-warm`` and helm refuses to import it (seen with the real helm 4). Only when
    no other object of the render exists under another owner: a user's objects are never taken."""
    def owner(o: manifests.RenderedObject) -> str | None:
        return _owner(kube.get(o.obj["apiVersion"], o.kind, namespace, o.name))

    claims = [o for o in rendered if o.kind == "PersistentVolumeClaim"]
    if not any(owner(c) == warm_release(release) for c in claims):
        return False
    try:
        return all(owner(o) in (None, release) for o in rendered if o.kind != "PersistentVolumeClaim")
    except Forbidden:
        return False  # what we cannot see may be a user's: helm's own check stays on


def warm_release(release: str) -> str:
    """The name of the release `cache warm` runs its Job in."""
    return f"{release}-cache-warm"


def _owner(live: dict[str, Any] | None) -> str | None:
    """The helm release an existing object belongs to ("" when it is no release's); None when absent."""
    if live is None:
        return None
    return str(((live.get("metadata") or {}).get("annotations") or {}).get(OWNER, ""))


def namespace_missing(kube: Kube, namespace: str) -> bool:
    """Whether helm must create the namespace. A user RBAC keeps from reading namespaces works
    inside one that exists (seen on the real API server: helm's --create-namespace then fails
    on a PATCH of the namespace, though it exists)."""
    try:
        return kube.namespace(namespace) is None
    except Forbidden:
        return False


def _refuse_what_would_fail(spec: Spec, kube: Kube) -> None:
    """Refuse, before helm applies anything, what doctor's checks say must fail: RBAC denying a
    verb helm uses (helm would stop half-way), a Secret or storage class that does not exist, a
    pod the namespace's Pod Security level refuses (each would fail only once the pod is made)."""
    from tgictl.lifecycle.doctor import blockers

    failed = blockers(spec, kube)
    if failed:
        lines = "".join(f"\n  {c.name}: {c.detail}" + (f"\n    fix: {c.fix}" if c.fix else "") for c in failed)
        raise UsageError(f"{spec.metadata.name}: not deployed, nothing applied: {len(failed)} check(s) "
                         f"of `tgictl doctor` fail:{lines}")


def _shown(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _undo(release: str, namespace: str, before: list[dict[str, object]], context: str | None) -> str:
    """Roll back to the last good revision, or uninstall a first install."""
    deployed = [r for r in before if r.get("status") in ("deployed", "superseded")]
    try:
        if deployed:
            revision = int(str(deployed[-1]["revision"]))
            helm.rollback(release, namespace, revision, context)
            return f"rolled back to revision {revision}"
        helm.uninstall(release, namespace, context)
        return "uninstalled (it was the first install)"
    except TgictlError as err:
        if not deployed and "not found" in str(err):
            return "nothing to undo: helm created no release"
        return f"could not undo: {err}"
