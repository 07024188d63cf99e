"""Deploy while a GPU pod waits for a node, as real clusters make it wait: events that outlive
what they reported (an hour, the API server's --event-ttl), a cluster autoscaler adding a node
from zero, a maxSurge-0 upgrade whose new pod waits for the old one's GPU, and a ResourceQuota
raised between two deploys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from support.cluster_fixtures import PREVIOUS, spec_file
from support.fake_kube import Cluster, Step, event, pod, rollout
from tgictl.cli.main import app

runner = CliRunner()
NO_GPU = event("FailedScheduling", "0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available: "
               "4 No preemption victims found for incoming pod.", "Warning")
# cluster-autoscaler's pod events (cluster-autoscaler/core/scaleup/orchestrator: "pod triggered scale-up").
SCALE_UP = event("TriggeredScaleUp", "pod triggered scale-up: [{gpu-pool 0->1 (max: 4)}]")
NO_SCALE_UP = event("NotTriggerScaleUp", "pod didn't trigger scale-up: 2 Insufficient nvidia.com/gpu, 1 max node group size reached",
                    "Warning")
STARTED = [Step(pod("Pending", waiting="ContainerCreating")), Step(pod(running=True), [], ["Warming up model"]),
           Step(pod(running=True, ready=True), [], ["Connected"])]


def deploy(path: str, *extra: str) -> Any:
    return runner.invoke(app, ["deploy", "-f", path, "--no-smoke", "--poll", "0.01", "-o", "json", *extra])


def test_a_failed_scheduling_event_outlives_its_condition_and_does_not_fail_a_scheduled_pod(
        cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    """The event stays listed (count 1, an hour's TTL) after the pod got its node: it no longer counts."""
    cluster.steps = [Step(pod("Pending", scheduled=False), [NO_GPU]), *STARTED]
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["phases"] == ["scheduling", "image pull", "warmup", "ready"]


def test_a_gpu_node_pool_scaling_from_zero_is_waited_for(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    """Minutes of FailedScheduling (one Event, its count growing) while the autoscaler adds a node."""
    waiting = pod("Pending", scheduled=False, unschedulable_since=time.time() - 3600)  # longer than --node-wait
    cluster.steps = [Step(waiting, [NO_GPU, SCALE_UP]), *[Step(waiting, [NO_GPU]) for _ in range(5)], *STARTED]
    result = runner.invoke(app, ["deploy", "-f", spec_file(tmp_path), "--no-smoke", "--poll", "0.01"])  # progress on stderr
    assert result.exit_code == 0, result.output
    from tgictl.adapters.kube import Kube

    scheduler = next(e for e in Kube().events("llm") if e["reason"] == "FailedScheduling")
    assert scheduler["lastTimestamp"] is None and scheduler["series"]["count"] == 6  # read back as the scheduler records it
    assert "scheduling  waiting for a new node: pod triggered scale-up: [{gpu-pool 0->1 (max: 4)}]" in result.stderr
    assert "(scheduling → image pull → warmup → ready)" in result.stdout


def test_an_autoscaler_that_cannot_add_a_node_fails_at_once(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = [Step(pod("Pending", scheduled=False), [NO_GPU, NO_SCALE_UP])]
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 1, result.output
    assert "the cluster autoscaler cannot add a node that fits" in result.stderr
    assert "max node group size reached" in result.stderr


def test_a_max_surge_zero_upgrade_waits_for_the_old_pods_gpu(cluster: Cluster, helm_log: Path, tmp_path: Path,
                                                             monkeypatch: Any) -> None:
    """The new pod is created while the old one still drains and holds the node's only GPU."""
    monkeypatch.setenv("FAKE_HELM_HISTORY", PREVIOUS)
    deployment, new_set = rollout(3, "new3")
    _, old_set = rollout(2, "old2")
    cluster.objects = {"/apis/apps/v1/namespaces/llm/deployments/demo": deployment}
    cluster.collections = {"/apis/apps/v1/namespaces/llm/replicasets": [old_set, new_set]}
    old = pod(running=True, name="demo-old2-aaaaa", template_hash="old2")
    fresh = {"name": "demo-new3-bbbbb", "template_hash": "new3", "created": "2026-11-28T01:00:00Z"}
    no_gpu = {**NO_GPU, "involvedObject": {"kind": "Pod", "name": fresh["name"], "namespace": "llm"}}
    cluster.steps = [Step(pod("Pending", scheduled=False, **fresh), [no_gpu], others=[old]),
                     Step(pod("Pending", scheduled=False, **fresh), [no_gpu], others=[old]),
                     Step(pod("Pending", waiting="ContainerCreating", **fresh)),
                     Step(pod(running=True, ready=True, **fresh), [], ["Connected"])]
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["phases"] == ["scheduling", "image pull", "ready"]


def quota_refused(at: float | None = None) -> dict[str, Any]:
    refused = {**event("FailedCreate", 'Error creating: pods "demo-7d9f-x" is forbidden: exceeded quota: gpus, requested: '
                       'requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8', "Warning"),
               "involvedObject": {"kind": "ReplicaSet", "name": "demo-7d9f", "namespace": "llm"}}
    if at is not None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        refused.update(firstTimestamp=stamp, lastTimestamp=stamp, count=12)
    return refused


def test_a_quota_raised_since_the_last_deploy_does_not_fail_the_next(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    """The first deploy's FailedCreate is still listed ten minutes later; the retry succeeds."""
    cluster.past_events = [quota_refused(at=time.time() - 600)]
    cluster.steps = [Step(None), *STARTED]
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 0, result.output
