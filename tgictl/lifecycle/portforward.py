"""Reach a release from this machine: a local TCP port whose every connection
is tunnelled to a ready pod's serving port through the API server (the
`kubernetes` client's port-forward), then smoke or bench it there.

Each accepted connection gets its own tunnel, as `kubectl port-forward` does,
so a load test's concurrent connections do not share one stream.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from tgictl.adapters.kube import ClusterError, Kube
from tgictl.render.manifests import namespace_of
from tgictl.spec.model import Spec

CHUNK = 64 * 1024
# The first tunnel's request for /health must be answered within this; the kubelet's error
# frame may trail the stream's close by this much.
PROBE_TIMEOUT_S = 30.0
ERROR_GRACE_S = 0.5


def ready_pod(kube: Kube, namespace: str, selector: str) -> tuple[str, int]:
    """A ready pod of the release and the container port its Service targets (named ``http``)."""
    for pod in kube.pods(namespace, selector):
        conditions = (pod.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            continue
        for container in (pod.get("spec") or {}).get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == "http":
                    return pod["metadata"]["name"], int(port["containerPort"])
        raise ClusterError(f"pod {namespace}/{pod['metadata']['name']} has no container port named http")
    raise ClusterError(f"no ready pod matches {selector} in namespace {namespace}")


def _quiet_tunnel_threads() -> None:
    """Keep the client's tunnel threads' tracebacks off stderr.

    The kubernetes client runs one proxy thread per tunnel, which raises (e.g.
    ConnectionResetError) when the API server drops the tunnel; the tunnel's
    connection then closes, and that is what the HTTP client sees and reports."""
    previous = threading.excepthook
    if getattr(previous, "tgictl_quiet", False):
        return

    def hook(args: Any) -> None:
        if args.thread is not None and args.thread.name.startswith("Kubernetes port forward proxy"):
            return
        previous(args)

    hook.tgictl_quiet = True  # type: ignore[attr-defined]  # a marker on our hook: a second install leaves it alone
    threading.excepthook = hook


class PortForward:
    """Listen on 127.0.0.1 (a free port) and tunnel each connection to ``pod:port``."""

    def __init__(self, kube: Kube, namespace: str, pod: str, port: int, local_port: int = 0) -> None:
        self.kube, self.namespace, self.pod, self.port = kube, namespace, pod, port
        try:
            self.listener = socket.create_server(("127.0.0.1", local_port))
        except OSError as err:
            raise ClusterError(f"cannot listen on 127.0.0.1:{local_port}: {err.strerror}") from None
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.errors: list[str] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> PortForward:
        _quiet_tunnel_threads()
        # One tunnel up front, so a refused port-forward (by the API server, or by the kubelet
        # when nothing listens on the port) fails here with its reason, not later as a
        # connection reset inside the smoke test.
        try:
            self._probe()
        except ClusterError:
            self.listener.close()
            raise
        threading.Thread(target=self._accept, name="port-forward accept", daemon=True).start()
        return self

    def _probe(self) -> None:
        """Send one request for /health (open on every engine) through a first tunnel: any answer
        means the port is reached; none means the kubelet's error channel says why."""
        tunnel = self.kube.open_port(self.namespace, self.pod, self.port)
        try:
            tunnel.socket.settimeout(PROBE_TIMEOUT_S)
            tunnel.socket.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            answered = bool(tunnel.socket.recv(1))
        except OSError:
            answered = False
        finally:
            tunnel.close()
        if not answered:
            raise ClusterError(f"port-forward to {self.namespace}/{self.pod}:{self.port}: {self._kubelet_error(tunnel)}")

    def _kubelet_error(self, tunnel: Any) -> str:
        deadline = time.monotonic() + ERROR_GRACE_S  # the error frame may trail the close by a moment
        while (error := tunnel.error()) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if error:
            return f"the kubelet could not reach the port ({error.strip()}); is the engine listening on {self.port}?"
        return f"no answer from port {self.port} within {PROBE_TIMEOUT_S:.0f}s"

    def __exit__(self, *_: object) -> None:
        self.listener.close()
        with self._lock:
            for sock in list(self._open):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                local, _ = self.listener.accept()
            except OSError:
                return  # closed by __exit__
            threading.Thread(target=self._serve, args=(local,), name="port-forward pipe", daemon=True).start()

    def _serve(self, local: socket.socket) -> None:
        try:
            tunnel = self.kube.open_port(self.namespace, self.pod, self.port)
        except ClusterError as err:
            self.errors.append(str(err))
            local.close()
            return
        remote = tunnel.socket
        with self._lock:
            self._open.update((local, remote))
        try:
            _pipe(local, remote)
        finally:
            with self._lock:
                self._open.difference_update((local, remote))
            local.close()
            tunnel.close()
            if error := tunnel.error():  # the kubelet lost the port (the engine stopped listening)
                self.errors.append(error.strip())


def _pipe(a: Any, b: Any) -> None:
    """Copy bytes both ways until either side closes (HTTP needs no half-close)."""
    own, peer = {a.fileno(): a, b.fileno(): b}, {a.fileno(): b, b.fileno(): a}
    with selectors.DefaultSelector() as selector:
        selector.register(a, selectors.EVENT_READ)
        selector.register(b, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                try:
                    data = own[key.fd].recv(CHUNK)
                    if not data:
                        return
                    peer[key.fd].sendall(data)
                except OSError:
                    return


@contextlib.contextmanager
def forwarded(spec: Spec, kube: Kube, local_port: int = 0) -> Iterator[str]:
    """The base URL of a local port-forward to a ready pod of the spec's release."""
    from tgictl.lifecycle.deploy import selector

    namespace = namespace_of(spec)
    pod, port = ready_pod(kube, namespace, selector(spec))
    with PortForward(kube, namespace, pod, port, local_port) as forward:
        yield forward.url


def api_key_headers(spec: Spec, kube: Kube, api_key: str | None = None) -> dict[str, str]:
    """The Authorization header a release with ``serving.apiKeySecret`` wants: ``api_key`` when
    given, else the key read from that Secret. Every engine here takes a bearer token."""
    ref = spec.spec.serving.api_key_secret
    if api_key is None and ref is not None:
        api_key = kube.secret_value(namespace_of(spec), ref.name, ref.key)
        if api_key is None:
            raise ClusterError(f"serving.apiKeySecret: Secret {namespace_of(spec)}/{ref.name} has no key {ref.key!r}")
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def smoke_release(spec: Spec, kube: Kube, timeout_s: float = 30.0, api_key: str | None = None) -> dict[str, Any]:
    import asyncio

    from tgictl.smoke.runner import Expectations, run_smoke

    serving = spec.spec.serving
    headers = api_key_headers(spec, kube, api_key)
    with forwarded(spec, kube) as url:
        report = asyncio.run(run_smoke(url, Expectations(serving.max_input_tokens, serving.max_total_tokens),
                                       check_timeout=timeout_s, headers=headers))
    return report.as_dict()
