"""A fake Kubernetes API server at the HTTP level, for the cluster-facing code.

It serves the endpoints tgictl uses (version, nodes, storage classes, CRDs,
API groups, secrets, quotas, pods and events with their watches, logs, and
port-forward over WebSocket) from a scenario: a list of steps, each the pod,
events and log lines the API would show at that moment. Every pod list
advances one step (the cluster moves on after each look), and watches report
each step as it is reached, so a deploy replays a start-up (or a failure) as a
real cluster would show it. Port-forwards reach real local servers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from support.servers import app_in_thread


@dataclass
class Step:
    pod: dict[str, Any] | None
    events: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    previous_log: list[str] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)  # more pods listed beside ``pod`` (e.g. an old revision's)


@dataclass
class Cluster:
    steps: list[Step] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    storage_classes: list[dict[str, Any]] = field(default_factory=list)
    crds: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    secrets: set[tuple[str, str]] = field(default_factory=set)
    secret_data: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (ns, name) -> key -> plain value
    quotas: list[dict[str, Any]] = field(default_factory=list)
    # request path -> live object, or a list of them shown one per read (the last one stays)
    objects: dict[str, Any] = field(default_factory=dict)
    # collection path (e.g. /apis/apps/v1/namespaces/llm/replicasets) -> its objects
    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # (pod, container port) -> (host, port) of the real server a port-forward reaches
    forwards: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    position: int = 0
    watches: dict[str, int] = field(default_factory=dict)  # resource -> watch requests
    watch_events: dict[str, int] = field(default_factory=dict)  # resource -> events sent on watches
    tunnels: int = 0
    # What RBAC denies (403): "resource" for every verb, or "verb resource" for one, e.g.
    # {"events", "get pods/log", "list nodes"}. A SelfSubjectAccessReview answers the same.
    forbidden: set[str] = field(default_factory=set)
    minor: int = 35  # the server's Kubernetes minor version (port-forward's RBAC changed in 1.35)
    # Watches as a real API server ends them: early (load balancers and apiserver restarts cut
    # streams; None waits for timeoutSeconds), with BOOKMARKs when asked, and with an ERROR event
    # (a 410 Expired Status, on HTTP 200) for a resourceVersion older than ``expired_before``.
    watch_close_after: float | None = None
    bookmarks: bool = False
    expired_before: int = -1
    # Events recorded before this scenario (an earlier deploy's): they outlive what they
    # described, for the API server's --event-ttl (1h by default, cmd/kube-apiserver/app/options).
    past_events: list[dict[str, Any]] = field(default_factory=list)
    reached_at: dict[int, float] = field(default_factory=dict)  # step index -> wall-clock time it was reached

    @property
    def reached(self) -> int:
        """The index of the newest step the cluster has reached (the last step stays)."""
        return min(self.position, len(self.steps) - 1) if self.steps else 0

    def denies(self, verb: str, resource: str) -> bool:
        return resource in self.forbidden or f"{verb} {resource}" in self.forbidden

    def advance(self) -> None:
        """The cluster moves on one step (a pod list is a look: the next look sees the next step)."""
        self.reached_at.setdefault(self.reached, time.time())
        self.position += 1
        self.reached_at.setdefault(self.reached, time.time())

    def events_seen(self) -> list[dict[str, Any]]:
        """Events as a list shows them now: the past ones, then each reached step's, stamped with
        the time the step was reached. Repeats of one event (same object, reason and message) are
        one Event, as client-go aggregates them: core/v1 recorders (kubelet, controllers, the
        cluster autoscaler) count them with a moving lastTimestamp (tools/record/events_cache.go);
        the scheduler records through events.k8s.io (cmd/kube-scheduler/app/server.go), whose
        events read back with eventTime and a series, and no first/lastTimestamp."""
        merged: dict[tuple[str, str, str], dict[str, Any]] = {}
        for e in self.past_events:
            merged[_event_key(e)] = e
        for index, step in enumerate(self.steps[: min(self.position, len(self.steps))]):
            at = self.reached_at.get(index, time.time())
            for e in step.events:
                key = _event_key(e)
                merged[key] = _recorded(merged.get(key), e, at)
        return list(merged.values())

    def served(self, pod: dict[str, Any]) -> dict[str, Any]:
        """``pod`` as the API serves it now: an unscheduled pod's PodScheduled condition carries
        the time the scheduler first found no node (when the step it first appears in was reached)."""
        conditions = (pod.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "PodScheduled" and c.get("status") == "False" and "lastTransitionTime" not in c
                   for c in conditions):
            return pod
        first = next((i for i, step in enumerate(self.steps) if step.pod and step.pod["metadata"]["name"] == pod["metadata"]["name"]),
                     self.reached)
        since = _timestamp(self.reached_at.get(first, time.time()))
        stamped = [{**c, "lastTransitionTime": since} if c.get("type") == "PodScheduled" and "lastTransitionTime" not in c else c
                   for c in conditions]
        return {**pod, "status": {**pod["status"], "conditions": stamped}}

    @property
    def step(self) -> Step:
        return self.steps[min(self.position, len(self.steps) - 1)] if self.steps else Step(None)


def _timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _event_key(e: dict[str, Any]) -> tuple[str, str, str]:
    involved = e.get("involvedObject") or {}
    return f"{involved.get('kind')}/{involved.get('name')}", e.get("reason", ""), e.get("message", "")


# Reasons the scheduler records (through the events.k8s.io API).
_SCHEDULER_REASONS = {"FailedScheduling", "Scheduled"}


def _recorded(before: dict[str, Any] | None, e: dict[str, Any], at: float) -> dict[str, Any]:
    """Event ``e`` as the API holds it after it happened (again, when ``before``) at ``at``."""
    if e.get("reason") in _SCHEDULER_REASONS:
        micro = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}Z"
        if before is None:
            return {"eventTime": micro, "reportingComponent": "default-scheduler", "firstTimestamp": None, "lastTimestamp": None, **e}
        series = before.get("series") or {"count": 1}
        return {**before, "series": {"count": series["count"] + 1, "lastObservedTime": micro}}
    if before is None:
        stamp = _timestamp(at)
        return {"firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, **e}
    return {**before, "count": before.get("count", 1) + 1, "lastTimestamp": e.get("lastTimestamp") or _timestamp(at)}


def _list(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}


def _matching(items: list[dict[str, Any]], selector: str | None) -> list[dict[str, Any]]:
    """Objects whose labels satisfy an equality label selector (``k=v,k2=v2``)."""
    wanted = dict(term.split("=", 1) for term in selector.split(",")) if selector else {}
    return [i for i in items if all((i["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]


def request_attributes(method: str, path: str, query: dict[str, str], minor: int) -> tuple[list[str], str, str]:
    """The verbs RBAC checks for a request, its resource ("pods/log") and namespace, as the API
    server derives them (staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: GET of
    a collection is list, or watch with watch=true; of one object get; POST create). A port-forward
    over WebSocket is a GET, so get; 1.35 also checks create on it, as for the SPDY POST."""
    parts = [p for p in path.split("/") if p]
    parts = parts[1:] if parts[:1] == ["api"] else parts[2:]  # drop "api" or "apis/<group>"
    parts = parts[1:]  # the version
    namespace = ""
    if parts[:1] == ["namespaces"] and len(parts) >= 3:
        namespace, parts = parts[1], parts[2:]
    resource = "/".join(parts[:1] + parts[2:3])  # resource, and the subresource after the name
    if method == "POST":
        return ["create"], resource, namespace
    if len(parts) == 1:
        return ["watch" if query.get("watch") in ("true", "1") else "list"], resource, namespace
    if resource == "pods/portforward" and minor >= 35:
        return ["get", "create"], resource, namespace
    return ["get"], resource, namespace


def _forbidden(verb: str, resource: str, namespace: str) -> web.Response:
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
                              "message": f'{resource.split("/")[0]} is forbidden: User "dev" cannot {verb} resource "{resource}" '
                                         f'in API group ""{where}'}, status=403)


# Namespaced built-in resources (an empty list when the scenario has none of them).
BUILT_IN = {"deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs", "pods", "services", "configmaps",
            "secrets", "persistentvolumeclaims", "events", "resourcequotas", "horizontalpodautoscalers", "poddisruptionbudgets",
            "networkpolicies", "ingresses", "serviceaccounts", "roles", "rolebindings", "endpoints", "endpointslices", "leases"}

_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def canonical_quantity(text: str) -> str:
    """A quantity as the API server stores and returns it (apimachinery's resource.Quantity,
    CanonicalizeBytes): the largest suffix of the same family that keeps the number whole,
    so 65536Mi reads back 64Gi and 1000m reads back 1."""
    from tgictl.spec.quantity import parse_quantity

    value = parse_quantity(text)
    if text.endswith("i") and value == int(value):
        for suffix, size in _BINARY:
            if value % size == 0:
                return f"{int(value // size)}{suffix}"
        return str(int(value))
    if value != int(value):
        return f"{int(value * 1000)}m"
    for suffix, size in _DECIMAL:
        if value % size == 0:
            return f"{int(value // size)}{suffix}"
    return str(int(value))


def canonical(obj: Any, path: str = "") -> Any:
    """``obj`` with every quantity field (resources, quota, emptyDir and PVC sizes) canonical."""
    if isinstance(obj, dict):
        return {k: canonical(v, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, list):
        return [canonical(v, path) for v in obj]
    parent = path.rsplit(".", 2)[-2] if path.count(".") >= 2 else ""
    if isinstance(obj, (str, int)) and (parent in ("limits", "requests", "hard") or path.endswith(".sizeLimit")):
        return canonical_quantity(str(obj))
    return obj


# The field selectors events support (pkg/apis/core/v1/conversion.go, Event's field label
# conversion); any other is a 400, as the real API server answers.
EVENT_FIELDS = {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                "reportingComponent", "source", "type", "metadata.name", "metadata.namespace"}


def _field(obj: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        obj = (obj or {}).get(part) if isinstance(obj, dict) else None
    return obj


def _field_selector(selector: str | None, supported: set[str]) -> dict[str, str] | web.Response:
    """``k=v,k2=v2`` as a dict, or the API server's 400 for a field it cannot select on."""
    wanted = dict(term.split("=", 1) for term in selector.split(",")) if selector else {}
    unknown = next((k for k in wanted if k not in supported), None)
    if unknown:
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "BadRequest", "code": 400,
                                  "message": f'field label not supported: {unknown}'}, status=400)
    return wanted


def _missing(what: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                              "message": f"{what} not found", "code": 404}, status=404)


def app(cluster: Cluster) -> web.Application:
    routes = web.RouteTableDef()

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        cluster.requests.append(f"{request.method} {request.path_qs}")
        return await handler(request)

    @web.middleware
    async def rbac(request: web.Request, handler: Any) -> web.StreamResponse:
        """Deny what ``cluster.forbidden`` names, per verb and resource, as an authorizer would."""
        if request.path.startswith(("/api/", "/apis/")) and request.path.count("/") > 2 and "selfsubjectaccessreviews" not in request.path:
            verbs, resource, namespace = request_attributes(request.method, request.path, dict(request.query), cluster.minor)
            denied = next((v for v in verbs if cluster.denies(v, resource)), None)
            if denied:
                if denied == "watch":
                    cluster.watches[resource] = cluster.watches.get(resource, 0) + 1
                return _forbidden(denied, resource, namespace)
        return await handler(request)

    @routes.get("/version/")
    @routes.get("/version")
    async def version(_: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": str(cluster.minor), "gitVersion": f"v1.{cluster.minor}.0",
                                  "platform": "linux/amd64"})

    @routes.get("/api/v1/nodes")
    async def nodes(_: web.Request) -> web.Response:
        return web.json_response(_list("NodeList", cluster.nodes))

    @routes.get("/apis/storage.k8s.io/v1/storageclasses")
    async def classes(_: web.Request) -> web.Response:
        return web.json_response(_list("StorageClassList", cluster.storage_classes))

    @routes.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
    async def crd(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in cluster.crds:
            return _missing(f"customresourcedefinitions {name}")
        return web.json_response({"kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1", "metadata": {"name": name}})

    @routes.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    async def access_review(request: web.Request) -> web.Response:
        review = await request.json()
        wanted = review["spec"]["resourceAttributes"]
        resource = wanted["resource"] + (f"/{wanted['subresource']}" if wanted.get("subresource") else "")
        return web.json_response({**review, "status": {"allowed": not cluster.denies(wanted["verb"], resource)}}, status=201)

    @routes.get("/apis/")
    async def apis(_: web.Request) -> web.Response:
        groups = [{"name": g, "versions": [{"groupVersion": f"{g}/v1beta1", "version": "v1beta1"}],
                   "preferredVersion": {"groupVersion": f"{g}/v1beta1", "version": "v1beta1"}} for g in sorted(cluster.groups)]
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    @routes.get("/api/v1/namespaces/{ns}/secrets/{name}")
    async def secret(request: web.Request) -> web.Response:
        key = (request.match_info["ns"], request.match_info["name"])
        if key not in cluster.secrets and key not in cluster.secret_data:
            return _missing(f"secrets {key[1]}")
        data = {k: base64.b64encode(v.encode()).decode() for k, v in cluster.secret_data.get(key, {}).items()}
        return web.json_response({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": key[1], "namespace": key[0]}, "data": data})

    @routes.get("/api/v1/namespaces/{ns}/resourcequotas")
    async def quotas(_: web.Request) -> web.Response:
        return web.json_response(_list("ResourceQuotaList", cluster.quotas))

    async def watch(request: web.Request, resource: str) -> web.StreamResponse:
        """Stream changes after ``resourceVersion`` (each step's index is its version) until the timeout;
        without one, first what exists now, as ADDED."""
        cluster.watches[resource] = cluster.watches.get(resource, 0) + 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        since = int(request.query.get("resourceVersion") or -1)
        if 0 <= since < cluster.expired_before:
            # The watch cache no longer holds that version: 410 inside a 200 stream
            # (staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go, "too old resource version").
            expired = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired", "code": 410,
                       "message": f"too old resource version: {since} ({cluster.expired_before})"}
            await response.write((json.dumps({"type": "ERROR", "object": expired}) + "\n").encode())
            return response
        timeout = float(request.query.get("timeoutSeconds", "30"))
        deadline = time.monotonic() + min(timeout, cluster.watch_close_after if cluster.watch_close_after is not None else timeout)
        bookmarks = cluster.bookmarks and request.query.get("allowWatchBookmarks") in ("true", "1")
        sent = since
        while time.monotonic() < deadline:
            now = cluster.reached
            if now > sent:
                for kind, obj in _changes(resource, sent, now):
                    versioned = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(now)}}
                    await response.write((json.dumps({"type": kind, "object": versioned}) + "\n").encode())
                    cluster.watch_events[resource] = cluster.watch_events.get(resource, 0) + 1
                sent = now
            elif bookmarks:  # only the resourceVersion, nothing changed (KEP-956)
                kind_name = "Pod" if resource == "pods" else "Event"
                await response.write((json.dumps({"type": "BOOKMARK", "object": {"kind": kind_name, "apiVersion": "v1",
                                      "metadata": {"resourceVersion": str(max(sent, 0))}}}) + "\n").encode())
            await asyncio.sleep(0.005 if not bookmarks else 0.05)
        return response

    def _changes(resource: str, sent: int, now: int) -> list[tuple[str, dict[str, Any]]]:
        """What a watch reports between two steps: the pod when it differs (log lines alone are no
        change to the API), and each step's new events."""
        if resource == "pods":
            pod = cluster.steps[now].pod if cluster.steps else None
            before = cluster.steps[sent].pod if sent >= 0 else None
            return [("ADDED" if before is None else "MODIFIED", cluster.served(pod))] if pod and pod != before else []
        stamped = {_event_key(e): e for e in cluster.events_seen()}
        return [("ADDED", stamped.get(_event_key(e), e)) for step in cluster.steps[sent + 1: now + 1] for e in step.events]

    @routes.get("/api/v1/namespaces/{ns}/pods")
    async def pods(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") in ("true", "1"):
            return await watch(request, "pods")
        step = cluster.step
        cluster.advance()
        # Lists are in key order (namespace/name), as etcd and the watch cache return them.
        listed = sorted((cluster.served(p) for p in ([step.pod] if step.pod else []) + step.others), key=lambda p: p["metadata"]["name"])
        return web.json_response(_list("PodList", _matching(listed, request.query.get("labelSelector"))))

    @routes.get("/api/v1/namespaces/{ns}/events")
    async def events(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") in ("true", "1"):
            return await watch(request, "events")
        wanted = _field_selector(request.query.get("fieldSelector"), EVENT_FIELDS)
        if isinstance(wanted, web.Response):
            return wanted
        seen = [e for e in cluster.events_seen() if all(_field(e, k) == v for k, v in wanted.items())]
        return web.json_response(_list("EventList", seen))

    @routes.get("/api/v1/namespaces/{ns}/pods/{name}/portforward")
    async def portforward(request: web.Request) -> web.StreamResponse:
        """The API server's WebSocket port-forward: channel 0 carries data, 1 errors; each
        channel opens with its port number (uint16, little endian)."""
        port = int(request.query["ports"])
        upstream = cluster.forwards.get((request.match_info["name"], port))
        if upstream is None:
            return _missing(f"pods {request.match_info['name']} port {port}")
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io",))
        await ws.prepare(request)
        cluster.tunnels += 1
        for channel in (0, 1):
            await ws.send_bytes(bytes([channel]) + port.to_bytes(2, "little"))
        try:
            reader, writer = await asyncio.open_connection(*upstream)
        except OSError as err:
            # The kubelet has accepted the stream; it reports a failed dial on the port's error
            # channel and closes (pkg/kubelet/cri/streaming/portforward/websocket.go, portForward).
            reason = "connection refused" if isinstance(err, ConnectionRefusedError) else (err.strerror or str(err)).lower()
            dial = f"dial tcp4 127.0.0.1:{port}: connect: {reason}"
            await ws.send_bytes(b"\x01" + (f"error forwarding port {port} to pod 0f4c1e, uid : failed to execute portforward in "
                                           f"network namespace \"/var/run/netns/cni-1\": failed to connect to localhost:{port} "
                                           f"inside namespace \"0f4c1e\", IPv4: {dial} ").encode())
            await ws.close()
            return ws

        async def to_client() -> None:
            while data := await reader.read(65536):
                await ws.send_bytes(b"\x00" + data)
            await ws.close()

        copying = asyncio.create_task(to_client())
        async for message in ws:
            if message.type == web.WSMsgType.BINARY and message.data[:1] == b"\x00":
                writer.write(message.data[1:])
                await writer.drain()
        copying.cancel()
        writer.close()
        return ws

    @routes.get("/api/v1/namespaces/{ns}/pods/{name}/log")
    async def log(request: web.Request) -> web.Response:
        step = cluster.steps[min(max(cluster.position - 1, 0), len(cluster.steps) - 1)]
        name = request.match_info["name"]
        pod_ = next((p for p in (step.pod, *step.others) if p and p["metadata"]["name"] == name), None)
        previous = request.query.get("previous") == "true"
        refusal = _no_log(pod_, name, request.query.get("container", "server"), previous)
        if refusal:
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": refusal,
                                      "reason": "BadRequest", "code": 400}, status=400)
        lines = step.previous_log if previous else step.log
        if request.query.get("follow") == "true":
            # A followed log streams each line as the container writes it, then ends when it stops.
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            for line in lines:
                await response.write((line + "\n").encode())
                await asyncio.sleep(0.01)
            return response
        return web.Response(text="".join(line + "\n" for line in lines))

    async def any_object(request: web.Request) -> web.Response:
        found = cluster.objects.get(request.path)
        if isinstance(found, list):
            found = found.pop(0) if len(found) > 1 else found[0]
        return web.json_response(canonical(found)) if found is not None else _missing(request.path)

    async def any_collection(request: web.Request) -> web.Response:
        if request.path not in cluster.collections and request.match_info["plural"] not in BUILT_IN:
            # A resource no API group serves (a CRD not installed): the server has no such path.
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                                      "message": "the server could not find the requested resource"}, status=404)
        items = cluster.collections.get(request.path, [])
        return web.json_response(_list("List", _matching(items, request.query.get("labelSelector"))))

    routes.get("/apis/{group}/{version}/namespaces/{ns}/{plural}")(any_collection)
    routes.get("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}")(any_object)
    routes.get("/api/v1/namespaces/{ns}/{plural}/{name}")(any_object)
    routes.get("/api/v1/namespaces/{name}")(any_object)
    application = web.Application(middlewares=[record, rbac])
    application.add_routes(routes)
    return application


@contextlib.contextmanager
def fake_cluster(cluster: Cluster, workdir: Path) -> Iterator[Path]:
    """Serve ``cluster``; yields a kubeconfig file pointing at it."""
    with app_in_thread(app(cluster)) as url:
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": url}}],
            "users": [{"name": "fake", "user": {"token": "not-a-secret"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        yield kubeconfig


# --- pods as the API shows them along a start-up ----------------------------------------


def _no_log(pod: dict[str, Any] | None, name: str, container: str, previous: bool) -> str | None:
    """Why the kubelet has no log to give (it answers 400 with this message), as
    validateContainerLogStatus words it (pkg/kubelet/kubelet_pods.go): no status yet, no
    earlier container for previous=true, or a container still waiting with none before it
    (a restarted one serves its last terminated container's log)."""
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or []
    status = next((s for s in statuses if s.get("name") == container), None)
    if status is None:
        return f'container "{container}" in pod "{name}" is waiting to start - no logs yet'
    terminated = (status.get("lastState") or {}).get("terminated")
    if previous:
        return None if terminated else f'previous terminated container "{container}" in pod "{name}" not found'
    waiting = (status.get("state") or {}).get("waiting")
    if waiting and not terminated:
        return f'container "{container}" in pod "{name}" is waiting to start: {waiting.get("reason")}'
    return None


def pod(phase: str = "Running", *, scheduled: bool = True, waiting: str | None = None, waiting_message: str = "",
        running: bool = False, ready: bool = False, restarts: int = 0, last_terminated: str | None = None,
        name: str = "demo-7d9f-abcde", template_hash: str = "7d9f", created: str = "2026-11-28T00:00:00Z",
        unschedulable_since: float | None = None, instance: str = "demo") -> dict[str, Any]:
    """A pod of the release as the API shows it. An unscheduled pod's PodScheduled condition
    is False with reason Unschedulable from the scheduler's first failed attempt
    (``unschedulable_since``, epoch seconds; default: when the scenario first shows the pod),
    as pkg/scheduler sets it."""
    if waiting == "CrashLoopBackOff" and last_terminated is None:
        last_terminated = "Error"  # a container backs off only after it terminated: the kubelet keeps that state
    scheduling = {"type": "PodScheduled", "status": "True"} if scheduled else {
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        **({"lastTransitionTime": _timestamp(unschedulable_since)} if unschedulable_since is not None else {})}
    conditions = [scheduling, {"type": "Ready", "status": "True" if ready else "False"}]
    status: dict[str, Any] = {"phase": phase, "conditions": conditions}
    if scheduled and (waiting or running):
        state: dict[str, Any] = {"waiting": {"reason": waiting,
                                             "message": waiting_message}} if waiting else {"running": {"startedAt": "2026-11-28T00:00:00Z"}}
        container: dict[str, Any] = {"name": "server", "ready": ready, "restartCount": restarts, "image": "img", "state": state}
        if last_terminated:
            container["lastState"] = {"terminated": {"reason": last_terminated, "exitCode": 137 if last_terminated == "OOMKilled" else 1,
                                                     "containerID": "containerd://0123"}}
        status["containerStatuses"] = [container]
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": "llm", "creationTimestamp": created,
            "labels": {"app.kubernetes.io/instance": instance, "pod-template-hash": template_hash}},
            "spec": {"nodeName": "gpu-node-1" if scheduled else None,
                     "containers": [{"name": "server", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": status}


def event(reason: str, message: str, kind: str = "Normal") -> dict[str, Any]:
    return {"kind": "Event", "apiVersion": "v1", "metadata": {"name": f"demo.{reason}", "namespace": "llm"},
            "involvedObject": {"kind": "Pod", "name": "demo-7d9f-abcde", "namespace": "llm"},
            "reason": reason, "message": message, "type": kind}


def rollout(revision: int, template_hash: str, *, replicas: int = 1, observed: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Deployment at ``revision`` (rolled out) and its ReplicaSet, as the Deployment controller labels them."""
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    deployment = {"kind": "Deployment", "apiVersion": "apps/v1",
                  "metadata": {"name": "demo", "namespace": "llm", "generation": revision + 1, "annotations": annotations},
                  "spec": {"replicas": replicas},
                  "status": {"observedGeneration": revision + 1 if observed else revision, "replicas": replicas,
                             "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}}
    replica_set = {"kind": "ReplicaSet", "apiVersion": "apps/v1",
                   "metadata": {"name": f"demo-{template_hash}", "namespace": "llm", "annotations": annotations,
                                "labels": {"app.kubernetes.io/instance": "demo", "pod-template-hash": template_hash}}}
    return deployment, replica_set
