"""The real control plane (scripts/cluster.sh: etcd, kube-apiserver, controller-manager,
scheduler, kwok's nodes) for the e2e tier, and per-test namespaces on it.

The cluster starts once per session (unless one is already up, which is left
running). Each test gets a namespace of its own; kwok routes that namespace's
port-forwards to a real local server and its container logs to a file the test
writes, through ClusterPortForward and ClusterLogs objects, so what tgictl reads
travels through the real API server and kwok's kubelet API.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from support import tools
from support.data import ROOT, document
from tgictl.adapters import toolchain

SCRIPT = ROOT / "scripts" / "cluster.sh"
# How the simulator (tgictl/sim, TGI's face) starts, logged by the container kwok runs.
TGI_START = ["Args { model_id: \"meta-llama/Llama-3.1-8B-Instruct\" }", "Starting download process.", "Successfully downloaded weights.",
             "Starting shard rank=0", "Shard ready in 12.2s rank=0", "Warming up model", "Connected"]


# The Prometheus operator's CRDs, for releases rendering a ServiceMonitor and PrometheusRule.
PROMETHEUS_OPERATOR_CRDS = ROOT.parent / "shared" / "crds" / "monitoring.coreos.com"


def built_dir() -> Path | None:
    """Where scripts/cluster.sh cached the control plane's binaries (and the autoscalers'); None if unbuilt."""
    done = subprocess.run(["bash", str(SCRIPT), "build", "--cached"], capture_output=True, text=True)
    return Path(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None


def built() -> bool:
    """Whether scripts/cluster.sh has built (and cached) the control plane."""
    return built_dir() is not None


@contextlib.contextmanager
def control_plane() -> Iterator[Path]:
    """The kubeconfig of a running control plane: one already up, or one started (and stopped) here."""
    if not built():
        tools.missing("the control plane", "bash scripts/cluster.sh build")
    up = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, text=True)
    if up.returncode == 0:
        yield Path(up.stdout.strip().splitlines()[-1])
        return
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    try:
        yield Path(started.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=120)


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([toolchain.find("kubectl"), "--kubeconfig", str(kubeconfig), *args], input=stdin,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


def apply_crds(kubeconfig: Path, *sources: Path) -> None:
    """Apply CRDs server-side and wait until every CRD is Established.

    Polled rather than ``kubectl wait``: a CRD made a moment ago may have no status yet,
    which kubectl reports as an error ("accessor error: <nil>") instead of waiting.
    """
    for source in sources:
        kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(source))

    def established() -> bool:
        crds = json.loads(kubectl(kubeconfig, "get", "crd", "-o", "json").stdout)["items"]
        return all(any(c["type"] == "Established" and c["status"] == "True" for c in (crd.get("status") or {}).get("conditions") or [])
                   for crd in crds)

    wait_for("the CRDs to be established", established)


def cri_log(lines: list[str], stream: str = "stdout") -> str:
    """Log lines in the CRI format a kubelet (and kwok) reads container logs in."""
    return "".join(f"2026-12-06T12:00:{i % 60:02d}.{i:09d}Z {stream} F {line}\n" for i, line in enumerate(lines))


@dataclass
class Namespace:
    """A namespace of the test's own on the real control plane, and kwok's routes for it."""

    name: str
    kubeconfig: Path
    scratch: Path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl(self.kubeconfig, *args, stdin=stdin, check=check)

    def get(self, kind: str, name: str = "", *, selector: str = "") -> Any:
        args = ["get", kind, *([name] if name else []), "-n", self.name, "-o", "json", *(["-l", selector] if selector else [])]
        return json.loads(self.kubectl(*args).stdout)

    def replicas(self, deployment: str = "demo") -> int:
        """The replicas the Deployment asks for now (an autoscaler's to set)."""
        return int(self.get("deployment", deployment)["spec"]["replicas"])

    def route_port_forwards(self, url: str) -> None:
        """Every port-forward to a pod of this namespace reaches the server at ``url``."""
        address = urlparse(url)
        self._apply_route("ClusterPortForward", {"forwards": [{"target": {"address": address.hostname, "port": address.port}}]})

    def route_logs(self, lines: list[str], previous: list[str] | None = None) -> Path:
        """Every container of this namespace logs ``lines`` (and ``previous`` for its last run)."""
        current = self.scratch / f"{self.name}.log"
        current.write_text(cri_log(lines))
        log: dict[str, Any] = {"logsFile": str(current)}
        if previous is not None:
            before = self.scratch / f"{self.name}.previous.log"
            before.write_text(cri_log(previous))
            log["previousLogsFile"] = str(before)
        self._apply_route("ClusterLogs", {"logs": [log]})
        return current

    def _apply_route(self, kind: str, spec: dict[str, Any]) -> None:
        route = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": kind, "metadata": {"name": self.name},
                 "spec": {"selector": {"matchNamespaces": [self.name]}, **spec}}
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(route))

    def delete(self) -> None:
        for kind in ("ClusterPortForward", "ClusterLogs"):
            self.kubectl("delete", kind, self.name, "--ignore-not-found", check=False)
        self.kubectl("delete", "namespace", self.name, "--wait=false", check=False)


@contextlib.contextmanager
def namespace(kubeconfig: Path, scratch: Path, prefix: str = "t") -> Iterator[Namespace]:
    made = Namespace(f"{prefix}-{uuid.uuid4().hex[:8]}", kubeconfig, scratch)
    made.kubectl("create", "namespace", made.name)
    try:
        yield made
    finally:
        made.delete()


def wait_for(what: str, check: Any, timeout: float = 60.0, every: float = 0.2) -> Any:
    """Poll ``check()`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def environment(kubeconfig: Path) -> dict[str, str]:
    """The environment for a tgictl subprocess against this cluster: the real helm and kubectl."""
    env = {k: v for k, v in os.environ.items() if k not in ("TGICTL_HELM", "TGICTL_KUBECTL")}
    return {**env, "KUBECONFIG": str(kubeconfig)}


def write_spec(ns: Namespace, tmp_path: Path, name: str = "demo", file: str = "", **spec: Any) -> str:
    """A spec file for a release ``name`` in the test's namespace (one A100 unless ``hardware`` says)."""
    doc = document(**{"hardware": {"accelerator": {"type": "a100-80gb", "count": 1}}, **spec})
    doc["metadata"] = {"name": name, "namespace": ns.name}
    path = tmp_path / (file or f"{name}.yaml")
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def kubelet_fails(failure: str, after_ms: int = 300) -> dict[str, str]:
    """Pod annotations asking kwok to fail the pod as a kubelet does (scripts/cluster/pod-stages.yaml)."""
    return {"kwok.tgictl.dev/kubelet": failure, "tgictl.dev/fail-after-ms": str(after_ms)}
