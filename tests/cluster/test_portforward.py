"""Port-forward cases the real control plane does not produce (tests/e2e/test_portforward_cluster.py
runs the rest): the API server refusing the forward outright, a tunnel thread dying mid-stream,
and the command line's refusals."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from support.cluster_fixtures import spec_file
from support.fake_kube import Cluster, Step, pod
from tgictl.cli.main import app

runner = CliRunner()


def test_refused_port_forward_names_the_pod_and_port(cluster: Cluster, tmp_path: Path) -> None:
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"])]  # no forward target: the API answers 404
    result = runner.invoke(app, ["bench", "--release", "-f", spec_file(tmp_path), "--requests", "1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("error: port-forward to llm/demo-7d9f-abcde:8080:")


def test_release_needs_a_spec_and_no_url(tmp_path: Path) -> None:
    for command in (["smoke", "--release", "http://x"], ["bench", "--release", "http://x", "-f", "tgi.yaml"], ["bench"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "-f tgi.yaml" in result.stderr and "Traceback" not in result.output, command


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
