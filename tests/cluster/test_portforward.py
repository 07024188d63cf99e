"""Reaching a release through the API server's port-forward (WebSocket, channel
protocol) of the fake API server, which tunnels to a real simulator: smoke
and bench by release, deploy's closing smoke, and the errors when no pod can
be reached."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from typer.testing import CliRunner

from support.cluster_fixtures import spec_file
from support.fake_kube import Cluster, Step, pod
from support.servers import TGICTL, simulator
from tgictl.cli.main import app

runner = CliRunner()
POD = "demo-7d9f-abcde"  # the fake pod's name; its container port "http" is 8080


@pytest.fixture
def served(cluster: Cluster) -> Iterator[Cluster]:
    """A ready pod whose port 8080 is a real simulator."""
    with simulator() as url:
        address = urlparse(url)
        cluster.forwards[(POD, 8080)] = (address.hostname or "127.0.0.1", int(address.port or 0))
        cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"])]
        yield cluster


def test_port_forward_carries_http_both_ways(served: Cluster) -> None:
    from tgictl.adapters.kube import Kube
    from tgictl.lifecycle.portforward import PortForward

    with PortForward(Kube(), "llm", POD, 8080) as forward:
        session = requests.Session()
        info = session.get(f"{forward.url}/info", timeout=10).json()
        generated = requests.post(f"{forward.url}/generate", json={"inputs": "x " * 2000, "parameters": {"max_new_tokens": 5}},
                                  timeout=10)
    assert info["model_id"] == "tgictl/sim"
    assert generated.status_code == 200 and generated.json()["generated_text"]
    # One tunnel to check the port up front, then one per client connection.
    assert served.tunnels == 3
    assert any(r.startswith("GET /api/v1/namespaces/llm/pods/demo-7d9f-abcde/portforward?ports=8080") for r in served.requests)


def test_smoke_release_through_the_port_forward(served: Cluster, tmp_path: Path) -> None:
    result = runner.invoke(app, ["smoke", "--release", "-f", spec_file(tmp_path), "--ttft-p95-ms", "5000", "--slo-requests", "4",
                                 "-o", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and report["engine"] == "tgi"
    assert {c["name"] for c in report["checks"] if c["status"] == "pass"} >= {"health", "generate", "stream", "slo"}
    assert served.tunnels >= 2


def test_bench_release_through_the_port_forward(served: Cluster, tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "--release", "-f", spec_file(tmp_path), "--requests", "12", "--concurrency", "4",
                                 "--output-len", "fixed:8", "--input-len", "fixed:16", "-o", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["succeeded"], report["requests"]) == (12, 12)
    assert report["ttft_ms"]["p50"] > 0
    assert served.tunnels >= 5  # the up-front check and at least one per concurrent connection


def test_deploy_ends_with_a_smoke_through_the_port_forward(served: Cluster, helm_log: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["deploy", "-f", spec_file(tmp_path), "--poll", "0.01", "-o", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["phases"] == ["ready"] and report["smoke"]["passed"]
    assert served.tunnels >= 2


def test_no_ready_pod_is_one_clear_line(cluster: Cluster, tmp_path: Path) -> None:
    cluster.steps = [Step(pod(running=True, ready=False), [], ["Warming up model"])]
    result = runner.invoke(app, ["smoke", "--release", "-f", spec_file(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no ready pod matches app.kubernetes.io/instance=demo in namespace llm"


def test_refused_port_forward_names_the_pod_and_port(cluster: Cluster, tmp_path: Path) -> None:
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"])]  # no forward target: the API answers 404
    result = runner.invoke(app, ["bench", "--release", "-f", spec_file(tmp_path), "--requests", "1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("error: port-forward to llm/demo-7d9f-abcde:8080:")


def test_release_needs_a_spec_and_no_url(tmp_path: Path) -> None:
    for command in (["smoke", "--release", "http://x"], ["bench", "--release", "http://x", "-f", "tgi.yaml"], ["bench"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "-f tgi.yaml" in result.stderr and "Traceback" not in result.output, command


def test_port_forward_command_serves_until_stopped(served: Cluster, tmp_path: Path) -> None:
    process = subprocess.Popen([TGICTL, "port-forward", "-f", spec_file(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ})
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


def test_a_dropped_tunnel_leaves_no_traceback() -> None:
    # The API server going away mid-tunnel kills the client's proxy thread; the user sees
    # the connection error, not a thread traceback.
    import threading

    from tgictl.lifecycle.portforward import _quiet_tunnel_threads

    seen: list[str] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.thread.name if args.thread else "?")
    try:
        _quiet_tunnel_threads()
        for name in ("Kubernetes port forward proxy: 8080", "some other thread"):
            thread = threading.Thread(target=lambda: 1 / 0, name=name)
            thread.start()
            thread.join()
    finally:
        threading.excepthook = previous
    assert seen == ["some other thread"]


def test_a_port_nothing_listens_on_is_named_with_the_kubelets_reason(cluster: Cluster, tmp_path: Path) -> None:
    """The API server upgrades the stream; the kubelet's dial fails and its error channel says so."""
    from support.servers import free_port

    cluster.forwards[(POD, 8080)] = ("127.0.0.1", free_port())  # nothing listens there
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"])]
    result = runner.invoke(app, ["smoke", "--release", "-f", spec_file(tmp_path)])
    assert result.exit_code != 0
    assert "the kubelet could not reach the port" in result.stderr
    assert "connect: connection refused" in result.stderr and "is the engine listening on 8080?" in result.stderr
    assert "Traceback" not in result.output and "RemoteDisconnected" not in result.output
