"""The API server's port-forward on the real control plane (kwok's kubelet API dials the target a
ClusterPortForward names): HTTP both ways, `tgictl port-forward` serving until stopped, and the
errors when no pod can be reached. Moved from the fake's tier (tests/cluster/test_portforward.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from support.control_plane import Namespace, wait_for, write_spec
from support.servers import TGICTL, free_port, simulator
from tgictl.cli.main import app

runner = CliRunner()
CPU = {"cpu": "1", "memory": "1Gi"}


@pytest.fixture
def release(ns: Namespace, tmp_path: Path) -> Iterator[str]:
    """A deployed release whose pods' port 8080 is a real simulator; its spec file."""
    path = write_spec(ns, tmp_path, hardware=CPU, cache={"ephemeral": True})
    with simulator() as url:
        ns.route_port_forwards(url)
        deployed = runner.invoke(app, ["deploy", "-f", path, "--no-smoke"])
        assert deployed.exit_code == 0, deployed.output
        yield path


def _pod(ns: Namespace) -> str:
    [pod] = ns.get("pods", selector="app.kubernetes.io/instance=demo")["items"]
    return str(pod["metadata"]["name"])


def test_port_forward_carries_http_both_ways(ns: Namespace, release: str) -> None:
    from tgictl.adapters.kube import Kube
    from tgictl.lifecycle.portforward import PortForward

    with PortForward(Kube(), ns.name, _pod(ns), 8080) as forward:
        info = requests.get(f"{forward.url}/info", timeout=10).json()
        generated = requests.post(f"{forward.url}/generate", json={"inputs": "x " * 2000, "parameters": {"max_new_tokens": 5}},
                                  timeout=10)  # a request body larger than one WebSocket frame
    assert info["model_id"] == "tgictl/sim"
    assert generated.status_code == 200 and generated.json()["generated_text"]


def test_port_forward_command_serves_until_stopped(ns: Namespace, release: str) -> None:
    process = subprocess.Popen([TGICTL, "port-forward", "-f", release], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "KUBECONFIG": str(ns.kubeconfig)})
    try:
        url = (process.stdout.readline() if process.stdout else "").strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.stderr else ""
        assert requests.get(f"{url}/info", timeout=10).json()["model_id"] == "tgictl/sim"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    assert code == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/info", timeout=2)  # the listener is gone with the command


def test_no_ready_pod_is_one_clear_line(ns: Namespace, release: str) -> None:
    ns.kubectl("scale", "deployment/demo", "--replicas=0", "-n", ns.name)
    wait_for("the pod to go", lambda: not ns.get("pods", selector="app.kubernetes.io/instance=demo")["items"])
    result = runner.invoke(app, ["smoke", "--release", "-f", release])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: no ready pod matches app.kubernetes.io/instance=demo in namespace {ns.name}"


def test_a_port_nothing_listens_on_is_named_with_the_kubelets_reason(ns: Namespace, release: str) -> None:
    """The API server upgrades the stream; the kubelet's dial fails and its error channel says so."""
    ns.route_port_forwards(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    result = runner.invoke(app, ["smoke", "--release", "-f", release])
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "RemoteDisconnected" not in result.output
    assert result.stderr.startswith(f"error: port-forward to {ns.name}/{_pod(ns)}:8080:"), result.stderr
    assert "the kubelet could not reach the port" in result.stderr and "connect: connection refused" in result.stderr
    assert "is the engine listening on 8080?" in result.stderr, result.stderr
