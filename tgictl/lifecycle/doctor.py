"""Pre-flight checks of a cluster against a spec: each passes, warns or fails,
and a failure says in one line how to fix it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from tgictl import hardware
from tgictl.adapters import helm
from tgictl.adapters.kube import Forbidden, Kube
from tgictl.errors import TgictlError
from tgictl.render.manifests import namespace_of
from tgictl.spec.model import Spec

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _crds(spec: Spec) -> dict[str, str]:
    """CRDs the spec's features need → the feature, for the message."""
    s = spec.spec
    needed = {}
    if s.monitoring.enabled:
        needed["servicemonitors.monitoring.coreos.com"] = "monitoring"
        needed["prometheusrules.monitoring.coreos.com"] = "monitoring"
    if s.monitoring.dashboards and s.monitoring.dashboard_kind == "GrafanaDashboard":
        needed["grafanadashboards.grafana.integreatly.org"] = "dashboards"
    if s.autoscaling.enabled and s.autoscaling.kind == "keda":
        needed["scaledobjects.keda.sh"] = "autoscaling (KEDA)"
    if s.exposure.kind == "httproute":
        needed["httproutes.gateway.networking.k8s.io"] = "exposure (Gateway API)"
    if s.rate_limit.enabled:
        needed["backendtrafficpolicies.gateway.envoyproxy.io"] = "rate limits (Envoy Gateway)"
    if s.inference_pool.enabled:
        needed["inferencepools.inference.networking.k8s.io"] = "the InferencePool"
    return needed


# What tgictl and helm do in the namespace: (verb, group, resource, subresource, required, why).
Permission = tuple[str, str, str, str, bool, str]
PERMISSIONS: tuple[Permission, ...] = (
    ("create", "apps", "deployments", "", True, "helm installs the Deployment"),
    ("create", "", "secrets", "", True, "helm keeps the release history in Secrets"),
    ("get", "apps", "deployments", "", True, "deploy follows the rollout's revision"),
    ("list", "apps", "replicasets", "", True, "deploy finds the current revision's pods"),
    ("list", "", "pods", "", True, "deploy, status and logs follow the pods"),
    ("watch", "", "pods", "", False, "deploy wakes on pod changes"),
    ("list", "", "events", "", False, "deploy explains scheduling, pull and probe failures from events"),
    ("watch", "", "events", "", False, "deploy wakes on new events"),
    ("get", "", "pods", "log", False, "deploy and logs read the engine's log"),
    ("get", "", "pods", "portforward", False, "deploy's smoke and --release reach the pod (a WebSocket GET)"),
)
# From Kubernetes 1.35 the API server also checks create on a WebSocket port-forward,
# as it always did for the SPDY POST.
PORTFORWARD_CREATE_FROM_MINOR = 35


@dataclass(frozen=True)
class _Target:
    """What every check looks at: the spec, the cluster, the namespace and the accelerator."""

    spec: Spec
    kube: Kube
    namespace: str
    accelerator: hardware.Accelerator
    minor: int = 0  # the server's Kubernetes minor version (0: unknown)


def _gpus(t: _Target) -> list[Check]:
    s, kube, accelerator = t.spec.spec, t.kube, t.accelerator
    if not s.hardware.accelerator.count:
        return [Check("accelerators", PASS, "CPU only: no accelerator needed")]
    nodes = kube.nodes()
    resource, count = accelerator.resource, s.hardware.accelerator.count
    fits = [n for n in nodes if int(str((n.get("status") or {}).get("allocatable", {}).get(resource, "0"))) >= count]
    out = [Check("accelerators", PASS, f"{len(fits)} node(s) offer {count} {resource}") if fits else
           Check("accelerators", FAIL, f"no node offers {count} {resource}",
                 f"install the {accelerator.vendor} device plugin, add GPU nodes, or lower hardware.accelerator.count")]
    if accelerator.product_label:
        key, value = accelerator.product_label
        value = s.hardware.accelerator.product_label or value
        labelled = [n for n in fits if (n["metadata"].get("labels") or {}).get(key) == value]
        out.append(Check("gpu product", PASS, f"{len(labelled)} node(s) labelled {key}={value}") if labelled else
                   Check("gpu product", FAIL, f"no node with enough {resource} is labelled {key}={value}",
                         "run GPU Feature Discovery, or set hardware.accelerator.productLabel to your nodes' value"))
    return out


def _storage(t: _Target) -> list[Check]:
    s, kube = t.spec.spec, t.kube
    if s.cache.ephemeral or s.cache.existing_claim:
        return [Check("storage", PASS, "no PVC to provision")]
    classes = kube.storage_classes()
    wanted = s.cache.storage_class_name
    if wanted:
        ok = any(c["metadata"]["name"] == wanted for c in classes)
        return [Check("storage", PASS if ok else FAIL, f"storage class {wanted} {'exists' if ok else 'does not exist'}",
                      "" if ok else "create it or set cache.storageClassName to one of: "
                      + ", ".join(c["metadata"]["name"] for c in classes))]
    default = [c for c in classes if (c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    return [Check("storage", PASS, f"default storage class {default[0]['metadata']['name']}") if default else
            Check("storage", WARN, "no default storage class: the cache PVC will stay Pending", "set cache.storageClassName")]


def _crds_installed(t: _Target) -> list[Check]:
    kube = t.kube
    out = []
    for crd, feature in _crds(t.spec).items():
        ok = kube.crd_exists(crd)
        out.append(Check(f"crd {crd}", PASS if ok else FAIL, f"{'installed' if ok else 'missing'}: needed by {feature}",
                         "" if ok else f"install the operator that provides {crd.split('.', 1)[1]}, or turn off {feature}"))
    return out


def _metrics_apis(t: _Target) -> list[Check]:
    s, kube = t.spec.spec, t.kube
    if not s.autoscaling.enabled:
        return []
    group = "external.metrics.k8s.io" if s.autoscaling.kind == "keda" else "custom.metrics.k8s.io"
    ok = group in kube.api_groups()
    provider = "KEDA" if s.autoscaling.kind == "keda" else "prometheus-adapter (tgictl autoscale adapter-values)"
    return [Check("metrics api", PASS if ok else FAIL, f"{group} {'served' if ok else 'not served'}",
                  "" if ok else f"install {provider}")]


def _secrets(t: _Target) -> list[Check]:
    s, kube, namespace = t.spec.spec, t.kube, t.namespace
    out = []
    for field, ref in (("cache.hfTokenSecret", s.cache.hf_token_secret), ("serving.apiKeySecret", s.serving.api_key_secret)):
        if ref is None:
            continue
        ok = kube.secret_exists(namespace, ref.name)
        out.append(Check(f"secret {ref.name}", PASS if ok else FAIL, f"{field} {'exists' if ok else 'is missing'} in {namespace}",
                         "" if ok else f"kubectl -n {namespace} create secret generic {ref.name} --from-literal={ref.key}=..."))
    for name in s.image.pull_secrets:
        ok = kube.secret_exists(namespace, name)
        out.append(Check(f"secret {name}", PASS if ok else FAIL, f"image.pullSecrets {'exists' if ok else 'is missing'} in {namespace}",
                         "" if ok else f"kubectl -n {namespace} create secret docker-registry {name} --docker-server=... "
                                       "--docker-username=... --docker-password=..."))
    return out


def _quota(t: _Target) -> list[Check]:
    s, kube, namespace, accelerator = t.spec.spec, t.kube, t.namespace, t.accelerator
    if not s.hardware.accelerator.count:
        return []
    need = s.hardware.accelerator.count * max(1, s.replicas)
    for q in kube.quotas(namespace):
        hard = (q.get("status") or {}).get("hard") or (q.get("spec") or {}).get("hard") or {}
        used = (q.get("status") or {}).get("used") or {}
        key = f"requests.{accelerator.resource}"
        if key in hard:
            free = int(str(hard[key])) - int(str(used.get(key, "0")))
            if free < need:
                return [Check("quota", FAIL, f"quota {q['metadata']['name']} leaves {free} {accelerator.resource}, {need} needed",
                              "raise the quota or lower replicas/accelerator count")]
    return [Check("quota", PASS, f"no quota below {need} {accelerator.resource} in {namespace}")]


# What helm does to each object it applies: reads it, creates it on install, patches it on
# upgrade (a three-way merge or a server-side apply: both PATCH), deletes it when deploy undoes
# a failed first install, and lists and watches it while an uninstall waits for it to go
# (seen on the real API server: helm 4's uninstall fails on a Role without list).
APPLY_VERBS = ("get", "create", "patch", "delete", "list", "watch")
# Helm keeps a release's revisions in Secrets it lists, reads, writes and removes.
HELM_STORAGE_VERBS = ("list", "get", "create", "update", "delete")


def _apply_permissions(spec: Spec) -> tuple[Permission, ...]:
    """The verbs helm needs on each kind of object the spec renders, and on its release Secrets."""
    from tgictl.adapters.kube import plural
    from tgictl.render.prepare import prepare
    from tgictl.render.service import objects

    kinds = sorted({(o.obj["apiVersion"].rpartition("/")[0], plural(o.kind)) for o in objects(prepare(spec))})
    applied = tuple((verb, group, resource, "", True, f"helm applies the release's {resource}")
                    for group, resource in kinds for verb in APPLY_VERBS)
    return applied + tuple((verb, "", "secrets", "", True, "helm keeps the release history in Secrets") for verb in HELM_STORAGE_VERBS)


def needed_permissions(spec: Spec, minor: int = 0) -> tuple[Permission, ...]:
    """Every verb deploy, status, logs and port-forward use in the spec's namespace, each once,
    on a server of Kubernetes minor version ``minor`` (0: unknown)."""
    asked: dict[tuple[str, ...], Permission] = {}
    for permission in _apply_permissions(spec) + PERMISSIONS:
        asked.setdefault(permission[:4], permission)
    wanted = tuple(asked.values())
    if minor >= PORTFORWARD_CREATE_FROM_MINOR:
        wanted += (("create", "", "pods", "portforward", False, "port-forward also needs create from Kubernetes 1.35"),)
    return wanted


def _permissions(t: _Target) -> list[Check]:
    from concurrent.futures import ThreadPoolExecutor

    kube, namespace = t.kube, t.namespace
    wanted = needed_permissions(t.spec, t.minor)
    # One SelfSubjectAccessReview a verb, a few dozen in all: asked side by side.
    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(lambda p: kube.can(p[0], p[2], namespace, p[1], p[3]), wanted))
    denied = [(verb, resource + (f"/{sub}" if sub else ""), required, why)
              for (verb, group, resource, sub, required, why), ok in zip(wanted, allowed) if not ok]
    if not denied:
        return [Check("permissions", PASS, f"RBAC allows all {len(wanted)} verbs deploy, status, logs and port-forward use in {namespace}")]
    status = FAIL if any(required for _, _, required, _ in denied) else WARN
    detail = "; ".join(f"cannot {', '.join(verbs)} {resource} ({why})" for resource, verbs, why in _by_resource(denied))
    grant = "; ".join(f"{', '.join(verbs)} {resource}" for resource, verbs, _ in _by_resource(denied))
    return [Check("permissions", status, detail, f"ask for a Role in {namespace} granting: {grant}")]


def _by_resource(denied: list[tuple[str, str, bool, str]]) -> list[tuple[str, list[str], str]]:
    """Denied verbs grouped by resource, in the order first denied: one clause a resource."""
    grouped: dict[str, tuple[list[str], str]] = {}
    for verb, resource, _, why in denied:
        grouped.setdefault(resource, ([], why))[0].append(verb)
    return [(resource, verbs, why) for resource, (verbs, why) in grouped.items()]


ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def _pod_security(t: _Target) -> list[Check]:
    """The namespace's enforced Pod Security level against the level the rendered pod meets."""
    from tgictl.render import podsecurity
    from tgictl.render.prepare import prepare
    from tgictl.render.service import objects

    found = t.kube.namespace(t.namespace)
    enforced = ((found or {}).get("metadata", {}).get("labels") or {}).get(ENFORCE_LABEL, "")
    deployment = next(o.obj for o in objects(prepare(t.spec)) if o.kind == "Deployment")
    met, faults = podsecurity.level(deployment["spec"]["template"]["spec"])
    if podsecurity.allows(enforced or "privileged", met):
        return [Check("pod security", PASS, f"the pod meets Pod Security {met}; {t.namespace} enforces {enforced or 'nothing'}")]
    return [Check("pod security", FAIL, f"{t.namespace} enforces Pod Security {enforced}, the pod meets only {met}: "
                  + "; ".join(faults),
                  "set spec.security to meet it (the engine's chart partial says what its image allows), or label "
                  f"the namespace {ENFORCE_LABEL}={met}")]


# Each check by name; a cluster error inside one becomes that check's failure.
CHECKS: tuple[tuple[str, Callable[[_Target], list[Check]]], ...] = (
    ("permissions", _permissions), ("accelerators", _gpus), ("storage", _storage), ("crds", _crds_installed),
    ("metrics api", _metrics_apis), ("secrets", _secrets), ("quota", _quota), ("pod security", _pod_security),
)


# What deploy checks before helm applies anything: a failure of one of these would otherwise
# fail half-way (RBAC), or only once the pod is scheduled (a Secret, Pod Security, a class).
BLOCKERS = ("permissions", "storage", "secrets", "pod security")


def blockers(spec: Spec, kube: Kube) -> list[Check]:
    """The failed pre-flight checks that must stop a deploy; a check RBAC keeps us from making is
    left to doctor (it warns)."""
    accelerator = hardware.lookup(spec.spec.hardware.accelerator.type)
    assert accelerator is not None  # the spec model admits catalog keys only
    target = _Target(spec, kube, namespace_of(spec), accelerator)
    failed: list[Check] = []
    for name, check in CHECKS:
        if name not in BLOCKERS:
            continue
        try:
            failed.extend(c for c in check(target) if c.status == FAIL)
        except Forbidden:
            continue
    return failed


def run_doctor(spec: Spec, kube: Kube, context: str | None = None) -> list[Check]:
    try:
        version = kube.version()
    except TgictlError as err:  # nothing else can be asked
        return [Check("api", FAIL, str(err), "check the kubeconfig context and that the API server is reachable")]
    checks = [Check("api", PASS, f"Kubernetes {version.get('gitVersion', '?')} at {kube.server}")]
    try:
        checks.append(Check("helm", PASS, helm.version()))
    except TgictlError as err:
        checks.append(Check("helm", FAIL, str(err), "run scripts/setup.sh (installs helm)"))
    accelerator = hardware.lookup(spec.spec.hardware.accelerator.type)
    assert accelerator is not None  # the spec model admits catalog keys only
    minor = int(re.sub(r"\D", "", str(version.get("minor", ""))) or 0)
    target = _Target(spec, kube, namespace_of(spec), accelerator, minor)
    for name, check in CHECKS:
        try:
            checks.extend(check(target))
        except Forbidden as err:  # e.g. a namespace-scoped user and cluster-scoped nodes or CRDs
            checks.append(Check(name, WARN, f"not checked: RBAC denies it ({err})",
                                "ask a cluster admin to run `tgictl doctor`, or for read access to what it names"))
        except TgictlError as err:
            checks.append(Check(name, FAIL, str(err), "check the kubeconfig context and that the API server is reachable"))
    return checks
