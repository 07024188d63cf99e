"""The Kubernetes API, read-only: what tgictl observes (Helm changes things).

A thin wrapper over the official client that returns plain dicts (parsed
from the raw responses, so no model mismatch across client versions) and
turns connection and API failures into ``ClusterError`` with the call named.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tgictl.errors import TgictlError


class ClusterError(TgictlError):
    """The cluster could not be reached or refused a request."""


class Forbidden(ClusterError):
    """RBAC denies this request (403): retrying will not help."""


def _refused(what: str, status: int, reason: str = "", body: Any = None) -> ClusterError:
    """The error for an answer other than 2xx, with the Status message the API server (or the
    kubelet behind it) gave, e.g. 'container "server" ... is waiting to start'."""
    kind = Forbidden if status == 403 else ClusterError
    try:
        message = json.loads(body).get("message") if body else None
    except (ValueError, AttributeError):
        message = None
    return kind(f"{what}: the API server answered {status}{f' {reason}' if reason else ''}{f': {message}' if message else ''}")


class Tunnel:
    """One port-forward stream pair. The kubelet accepts the upgrade first, then connects to
    the port inside the pod; when that fails it writes the reason on the port's error channel
    and closes the stream (pkg/kubelet/cri/streaming/portforward/websocket.go, portForward)."""

    def __init__(self, forward: Any, port: int) -> None:
        self.forward, self.port = forward, port
        self.socket = forward.socket(port)

    def error(self) -> str | None:
        """The kubelet's error for this port, once the client's proxy thread has read it."""
        found = self.forward.error(self.port)
        return found.decode(errors="replace") if isinstance(found, bytes) else found

    def close(self) -> None:
        self.socket.close()


def kubeconfig_paths() -> builtins.list[Path]:
    """Where the client (and helm, and kubectl) look: each file of $KUBECONFIG, else ~/.kube/config."""
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return [Path(p).expanduser() for p in listed or ["~/.kube/config"]]


def _tried(paths: builtins.list[Path]) -> str:
    return ", ".join(f"{path}{'' if path.is_file() else ' (missing)'}" for path in paths)


def api_client(context: str | None = None, kubeconfig: str | None = None) -> Any:
    """The API client for a kubeconfig context, or one message naming the files tried: the same
    whichever of helm or the client would meet the kubeconfig first (helm, without a usable one,
    reaches for http://localhost:8080)."""
    import yaml
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    # The client reads $KUBECONFIG once, at import: read it per call instead.
    kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    # The client's loader lets YAML, type and key errors of a malformed file through as they are.
    except (ConfigException, OSError, yaml.YAMLError, TypeError, KeyError, AttributeError, ValueError) as err:
        raise _kubeconfig_error(context, err) from None


def _kubeconfig_error(context: str | None, err: Exception) -> ClusterError:
    paths = kubeconfig_paths()
    tried = _tried(paths)
    if not any(path.is_file() for path in paths):
        return ClusterError(f"no kubeconfig: looked in {tried}; pass --kubeconfig FILE or set KUBECONFIG")
    reason = " ".join(str(err).split())  # a YAML error's lines, on one
    return ClusterError(f"no usable kubeconfig{f' context {context!r}' if context else ''} in {tried}: {reason}")


class Kube:
    def __init__(self, context: str | None = None, kubeconfig: str | None = None) -> None:
        from kubernetes import client

        self.api = api_client(context, kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.storage = client.StorageV1Api(self.api)
        self.extensions = client.ApiextensionsV1Api(self.api)
        self.apis = client.ApisApi(self.api)
        self.version_api = client.VersionApi(self.api)
        self.authorization = client.AuthorizationV1Api(self.api)
        self.server = self.api.configuration.host

    def _call(self, what: str, method: Any, *args: Any, missing_ok: bool = False, text: bool = False, **kwargs: Any) -> Any:
        """``method``'s response as JSON, or as text when ``text`` (a log is text even when a
        line of it is valid JSON, as every line of TGI's --json-output is)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, _request_timeout=10, **kwargs)
        except ApiException as err:
            if missing_ok and err.status == 404:
                return None
            raise _refused(what, err.status, err.reason, err.body) from None
        except HTTPError as err:
            raise ClusterError(f"{what}: cannot reach the API server at {self.server} ({type(err).__name__})") from None
        data = response.data
        if text:
            return data.decode(errors="replace")
        try:
            return json.loads(data)
        except ValueError:
            return data.decode(errors="replace")

    def version(self) -> dict[str, Any]:
        return self._call("read the server version", self.version_api.get_code)

    def nodes(self) -> list[dict[str, Any]]:
        return self._call("list nodes", self.core.list_node)["items"]

    def storage_classes(self) -> list[dict[str, Any]]:
        return self._call("list storage classes", self.storage.list_storage_class)["items"]

    def crd_exists(self, name: str) -> bool:
        return self._call(f"read CRD {name}", self.extensions.read_custom_resource_definition, name, missing_ok=True) is not None

    def api_groups(self) -> set[str]:
        groups = self._call("list API groups", self.apis.get_api_versions)["groups"]
        return {g["name"] for g in groups}

    def secret_exists(self, namespace: str, name: str) -> bool:
        return self._call(f"read secret {namespace}/{name}", self.core.read_namespaced_secret, name, namespace, missing_ok=True) is not None

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """One key of a Secret, decoded (None when the Secret or key is missing). Callers must
        never print it: it goes into request headers only."""
        import base64

        secret = self._call(f"read secret {namespace}/{name}", self.core.read_namespaced_secret, name, namespace, missing_ok=True)
        encoded = ((secret or {}).get("data") or {}).get(key)
        return base64.b64decode(encoded).decode() if encoded else None

    def can(self, verb: str, resource: str, namespace: str, group: str = "", subresource: str = "") -> bool:
        """Whether RBAC lets the current user do ``verb`` on ``resource`` here (a SelfSubjectAccessReview)."""
        attributes = {"verb": verb, "resource": resource, "group": group, "subresource": subresource, "namespace": namespace}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}}
        answer = self._call(f"review access to {verb} {resource}", self.authorization.create_self_subject_access_review, review)
        return bool(((answer or {}).get("status") or {}).get("allowed"))

    def quotas(self, namespace: str) -> list[dict[str, Any]]:
        return self._call("list resource quotas", self.core.list_namespaced_resource_quota, namespace)["items"]

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return self._call("list pods", self.core.list_namespaced_pod, namespace, label_selector=selector)["items"]

    def watch(self, resource: str, namespace: str, *, selector: str | None = None, resource_version: str | None = None,
              timeout_s: int = 30) -> Iterator[dict[str, Any]]:
        """Yield the watch events ({type, object}) of ``pods`` or ``events`` until the server ends the watch.

        Without ``resource_version`` the server first replays what exists (as ADDED)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        method = {"pods": self.core.list_namespaced_pod, "events": self.core.list_namespaced_event}[resource]
        try:
            response = method(namespace, label_selector=selector, resource_version=resource_version, watch=True,
                              allow_watch_bookmarks=True, timeout_seconds=timeout_s,
                              _preload_content=False, _request_timeout=timeout_s + 5)
        except ApiException as err:
            raise _refused(f"watch {resource}", err.status, err.reason, err.body) from None
        except HTTPError as err:
            raise ClusterError(f"watch {resource}: cannot reach the API server at {self.server} ({type(err).__name__})") from None
        for line in _lines(response, f"watch {resource}"):
            if line.strip():
                yield json.loads(line)

    def open_port(self, namespace: str, pod: str, port: int) -> Tunnel:
        """A tunnel to ``port`` of ``pod`` through the API server's port-forward (WebSocket,
        channel protocol): its socket, and what the kubelet reported on the error channel."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream.ws_client import portforward_call

        # Serialise the request ourselves (auth headers, refreshed tokens) and open the
        # WebSocket directly: kubernetes.stream.portforward swaps the shared client's
        # transport while it runs, which is unsafe with watches on other threads.
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/portforward"
        _, url, headers, _, _ = self.api.param_serialize("GET", path, query_params=[("ports", str(port))],
                                                         auth_settings=["BearerToken"])
        try:
            forward = portforward_call(self.api.configuration, "GET", url, headers=headers)
        except ApiException as err:
            raise ClusterError(f"port-forward to {namespace}/{pod}:{port}: {err.reason}") from None
        return Tunnel(forward, port)

    def events(self, namespace: str, object_name: str | None = None) -> list[dict[str, Any]]:
        selector = f"involvedObject.name={object_name}" if object_name else None
        items = self._call("list events", self.core.list_namespaced_event, namespace, field_selector=selector)["items"]
        return items

    def namespace(self, name: str) -> dict[str, Any] | None:
        """The Namespace object (its labels carry the Pod Security levels); None when absent."""
        return self._raw(f"/api/v1/namespaces/{name}", f"read namespace {name}")

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Any namespaced object by apiVersion and kind (None when it does not exist)."""
        return self._raw(f"{_collection(api_version, namespace, kind)}/{name}", f"read {kind} {namespace}/{name}")

    def list(self, api_version: str, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Namespaced objects of any kind, optionally by label selector."""
        found = self._raw(_collection(api_version, namespace, kind), f"list {plural(kind)}",
                          [("labelSelector", selector)] if selector else None)
        return (found or {}).get("items") or []

    def _raw(self, path: str, what: str, query: builtins.list[tuple[str, str]] | None = None) -> dict[str, Any] | None:
        """GET a path of the API as JSON, for kinds the typed client has no method for (None on 404)."""
        from urllib3.exceptions import HTTPError

        method, url, headers, _, _ = self.api.param_serialize("GET", path, query_params=query, auth_settings=["BearerToken"])
        try:
            response = self.api.call_api(method, url, header_params=headers, _request_timeout=10)
            response.read()
        except HTTPError as err:
            raise ClusterError(f"{what}: cannot reach the API server at {self.server} ({type(err).__name__})") from None
        if response.status == 404:
            return None
        if response.status >= 400:
            raise _refused(what, response.status, body=response.data)
        return json.loads(response.data)

    def follow_log(self, namespace: str, pod: str, container: str = "server", tail: int = 100) -> Iterator[str]:
        """The container's log lines as they are written, until the container stops."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        what = f"follow the log of {pod}"
        try:
            response = self.core.read_namespaced_pod_log(pod, namespace, container=container, tail_lines=tail, follow=True,
                                                         _preload_content=False)
        except ApiException as err:
            raise _refused(what, err.status, err.reason, err.body) from None
        except HTTPError as err:
            raise ClusterError(f"{what}: cannot reach the API server at {self.server} ({type(err).__name__})") from None
        for line in _lines(response, what):
            yield line.decode(errors="replace").rstrip("\r")

    def log(self, namespace: str, pod: str, container: str = "server", tail: int = 200, previous: bool = False) -> builtins.list[str]:
        text = self._call(f"read the log of {pod}", self.core.read_namespaced_pod_log, pod, namespace,
                          container=container, tail_lines=tail, previous=previous, missing_ok=True, text=True)
        return text.splitlines() if text else []


def _lines(response: Any, what: str) -> Iterator[bytes]:
    """The lines of a streamed response (a watch, a followed log) as they arrive; the last one
    only when the stream ends with it."""
    from urllib3.exceptions import HTTPError

    try:
        pending = b""
        for chunk in response.stream(amt=None):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            yield from lines
        if pending:
            yield pending
    except HTTPError as err:
        raise ClusterError(f"{what}: the stream broke ({type(err).__name__})") from None
    finally:
        response.release_conn()


def _collection(api_version: str, namespace: str, kind: str) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    return f"{base}/namespaces/{quote(namespace)}/{plural(kind)}"


def plural(kind: str) -> str:
    """The resource name of a kind (Kubernetes' own pluralisation for the kinds we render)."""
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x")):
        return lower + "es"
    return lower + "s"
