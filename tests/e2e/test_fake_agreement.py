"""The fake API server (tests/support/fake_kube.py) against the real control plane, scenario by
scenario: the fake's reading of a kubelet failure, run through deploy, must name the same cause
as the real objects kwok and the controllers make for it. The fake stays for what kwok cannot
produce (tests/cluster/README.md); where both run, they may not disagree."""

from __future__ import annotations

import re
from pathlib import Path
import pytest
from typer.testing import CliRunner

from support.cluster_fixtures import fake_helm_environment, spec_file
from support.control_plane import Namespace, kubelet_fails, write_spec
from support.fake_kube import Cluster, Step, event, fake_cluster, pod
from tgictl.cli.main import app

runner = CliRunner()
SCHEDULED = pod("Pending", waiting="ContainerCreating")
PULL_FAILED = 'rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/x:nope": not found'
TGI_EXIT = ["Starting shard", "Error: ShardCannotStart",
            "2024-03-06T17:53:31.149443Z ERROR text_generation_launcher: Shard 0 failed to start",
            "2024-03-06T17:53:31.149481Z  INFO text_generation_launcher: Shutting down shards"]

# name -> (the fake's steps, the pod annotations and log that make kwok fail the pod so)
SCENARIOS: dict[str, tuple[list[Step], dict[str, str], list[str]]] = {
    # The kubelet shows ErrImagePull before it backs off (the fake once began at ImagePullBackOff).
    "image-pull": ([Step(SCHEDULED), Step(pod(waiting="ErrImagePull", waiting_message=PULL_FAILED)),
                    Step(pod(waiting="ImagePullBackOff", waiting_message=f'Back-off pulling image "ghcr.io/x:nope": ErrImagePull: '
                                                                         f"{PULL_FAILED}"))],
                   kubelet_fails("image-pull-fails"), []),
    "oom-killed": ([Step(pod(running=True), [], ["Starting shard rank=0"]),
                    Step(pod(waiting="CrashLoopBackOff", restarts=1, last_terminated="OOMKilled"))],
                   kubelet_fails("oom-killed"), []),
    "startup-probe": ([Step(pod(running=True), [event("Killing", "Container server failed startup probe, will be restarted")],
                            ["Download: [2/30] -- ETA: 1:10:00"])],
                      kubelet_fails("startup-probe-fails"), []),
    "crash-loop": ([Step(pod(running=True), [], ["Starting shard"]), Step(pod(waiting="CrashLoopBackOff", restarts=2), [], [], TGI_EXIT)],
                   kubelet_fails("crash-loop"), TGI_EXIT),
}


def cause(stderr: str) -> str:
    """deploy's verdict without what differs by cluster: its failure line, up to the evidence it quotes."""
    verdict = next(line for line in stderr.splitlines() if line.startswith("error: demo failed: "))
    return re.split(r" \(|: \"|; the kubelet", verdict)[0]


def fake_verdict(steps: list[Step], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """deploy's verdict on the fake API server showing ``steps``, with the recording fake helm."""
    tmp_path.mkdir()
    with monkeypatch.context() as patched, fake_cluster(Cluster(steps=steps), tmp_path) as kubeconfig:
        patched.setenv("KUBECONFIG", str(kubeconfig))
        for name, value in fake_helm_environment(tmp_path).items():
            patched.setenv(name, value)
        result = runner.invoke(app, ["deploy", "-f", spec_file(tmp_path), "--no-smoke", "--poll", "0.01"])
    assert result.exit_code == 1, result.output
    return cause(result.stderr)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_fake_and_the_real_control_plane_name_the_same_cause(scenario: str, ns: Namespace, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    steps, annotations, log = SCENARIOS[scenario]
    if log:
        ns.route_logs(log, previous=log)
    real = runner.invoke(app, ["deploy", "-f", write_spec(ns, tmp_path, podAnnotations=annotations),
                               "--no-smoke", "--poll", "0.5"])
    assert real.exit_code == 1, real.output
    fake = fake_verdict(steps, tmp_path / "fake", monkeypatch)
    assert fake == cause(real.stderr), (fake, real.stderr)
