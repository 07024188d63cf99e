"""`tgictl deploy` against a fake API server (HTTP level) and a fake helm that
records its arguments: progress through every phase, waking on watches,
upgrades followed to the new revision, and every failure class with its undo
(doctor and the release commands have their own files)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from support.data import ROOT
from support.cluster_fixtures import PREVIOUS, helm_calls, spec_file
from support.fake_kube import Cluster, Step, event, pod, rollout
from tgictl.cli.main import app

runner = CliRunner()

STARTUP = [
    Step(None),
    Step(pod("Pending", scheduled=False), [event("FailedScheduling", "0/3 nodes are available: 3 node(s) had untolerated taint.",
                                                 "Warning")]),
    Step(pod("Pending", waiting="ContainerCreating"), [event("Scheduled", "Successfully assigned llm/demo to gpu-node-1"),
                                                      event("Pulling", "Pulling image "
                                                                       "ghcr.io/huggingface/text-generation-inference:3.3.5")]),
    Step(pod(running=True), [event("Started", "Started container server")], ["Args { model_id: ... }"]),
    Step(pod(running=True), [], ["Args { model_id: ... }", "Starting check and download process for meta-llama/Llama-3.1-8B-Instruct"]),
    Step(pod(running=True), [], ["Download file: model-00001-of-00004.safetensors", "Download: [1/4] -- ETA: 0:03:00"]),
    Step(pod(running=True), [], ["Successfully downloaded weights for meta-llama/Llama-3.1-8B-Instruct", "Starting shard rank=0",
                                 "Waiting for shard to be ready... rank=0"]),
    Step(pod(running=True), [], ["Shard ready in 41.2s rank=0", "Starting Webserver", "Warming up model",
                                 "KV-cache blocks: 33210, size: 1"]),
    Step(pod(running=True), [], ["Setting max batch total tokens to 33210", "Connected"]),
    Step(pod(running=True, ready=True), [], ["Connected"]),
]


def deploy(path: str) -> Any:
    return runner.invoke(app, ["deploy", "-f", path, "--no-smoke", "--poll", "0.01", "-o", "json"])


def test_deploy_watches_every_phase_to_ready(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = STARTUP
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["phases"] == ["scheduling", "image pull", "starting", "download", "load", "warmup", "ready"]
    assert [t["phase"] for t in report["timeline"]] == report["phases"]
    assert [t["at_s"] for t in report["timeline"]] == sorted(t["at_s"] for t in report["timeline"])
    assert report["startup_budget_s"] > 0 and report["revision"] == 1
    upgrade = next(c for c in helm_calls(helm_log) if c["args"][0] == "upgrade")
    assert upgrade["args"][:4] == ["upgrade", "--install", "demo", str(ROOT / "charts" / "tgi")]
    assert "--namespace" in upgrade["args"] and "llm" in upgrade["args"]
    assert upgrade["values"]["engine"]["flags"]["model-id"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert any(r.startswith("GET /api/v1/namespaces/llm/pods?labelSelector=app.kubernetes.io") for r in cluster.requests)
    assert cluster.watches["pods"] >= 1 and cluster.watches["events"] >= 1
    assert cluster.watch_events["pods"] >= 1 and cluster.watch_events["events"] >= 1


def test_deploy_wakes_on_pod_and_event_changes_not_on_the_poll_interval(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    # Every step changes the pod or adds an event, so the watches wake each look;
    # with a 60 s poll interval the replay could otherwise not finish in time.
    cluster.steps = [step for step in STARTUP if step.events or step.pod is None] + [STARTUP[-1]]
    started = time.monotonic()
    result = runner.invoke(app, ["deploy", "-f", spec_file(tmp_path), "--no-smoke", "--poll", "60", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["phases"] == ["scheduling", "image pull", "starting", "ready"]
    assert time.monotonic() - started < 30


def test_upgrade_watches_the_new_revision_not_the_old_ready_pod(cluster: Cluster, helm_log: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # maxSurge 0: the old pod is still ready when helm returns; the new one comes after it goes.
    monkeypatch.setenv("FAKE_HELM_HISTORY", PREVIOUS)
    deployment, new_set = rollout(3, "new3")
    _, old_set = rollout(2, "old2")
    cluster.objects = {"/apis/apps/v1/namespaces/llm/deployments/demo": deployment}
    cluster.collections = {"/apis/apps/v1/namespaces/llm/replicasets": [old_set, new_set]}
    old = pod(running=True, ready=True, name="demo-old2-aaaaa", template_hash="old2")
    fresh = {"name": "demo-new3-bbbbb", "template_hash": "new3", "created": "2026-11-28T01:00:00Z"}
    cluster.steps = [Step(None, others=[old]), Step(pod("Pending", waiting="ContainerCreating", **fresh)),
                     Step(pod(running=True, **fresh), [], ["Warming up model"]),
                     Step(pod(running=True, ready=True, **fresh), [], ["Connected"])]
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["revision"], report["phases"]) == (3, ["scheduling", "image pull", "warmup", "ready"])


def test_a_spec_the_controller_has_not_seen_is_not_ready_yet(cluster: Cluster, tmp_path: Path) -> None:
    from tgictl.adapters.kube import Kube
    from tgictl.lifecycle.deploy import observe
    from tgictl.spec.load import load_file

    deployment, replica_set = rollout(3, "new3", observed=False)
    cluster.objects = {"/apis/apps/v1/namespaces/llm/deployments/demo": deployment}
    cluster.collections = {"/apis/apps/v1/namespaces/llm/replicasets": [replica_set]}
    cluster.steps = [Step(pod(running=True, ready=True, template_hash="new3"))]
    state = observe(Kube(), load_file(spec_file(tmp_path)))
    assert (state.phase, state.detail) == ("scheduling", "waiting for the Deployment controller to start the new revision")


@pytest.mark.parametrize(("status", "waiting"), [
    ({"replicas": 3, "updatedReplicas": 1, "availableReplicas": 3}, "1 of 3 replicas updated"),
    ({"replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}, "1 old replicas pending termination"),
    ({"replicas": 3, "updatedReplicas": 3, "availableReplicas": 2}, "2 of 3 updated replicas available"),
    ({"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}, None),
])
def test_rollout_waits_like_kubectl_rollout_status(status: dict[str, int], waiting: str | None) -> None:
    from tgictl.lifecycle.deploy import rollout_waiting

    assert rollout_waiting({"spec": {"replicas": 3}, "status": status}) == waiting


def test_deploy_works_when_rbac_hides_events(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.forbidden = {"events"}
    cluster.steps = STARTUP
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["phases"][-1] == "ready"
    assert cluster.watches.get("events") == 1  # a 403 watch is not retried


# What kwok cannot produce (tests/cluster/README.md): the kubelet refusing to create a container
# whose Secret key is missing, and a node-pressure eviction; the rest of the catalog runs on the
# real control plane (tests/e2e/test_failures.py).
FAILURES = {
    "missing-secret": ([Step(pod(waiting="CreateContainerConfigError", waiting_message='secret "hf-token" not found'))],
                       "CreateContainerConfigError: the container cannot be created as specified"),
    # An evicted pod stays Failed/Evicted and the ReplicaSet creates a replacement at once
    # (failed pods are not active: pkg/controller/replicaset, controller.FilterActivePods).
    "evicted": ([Step(pod(running=True), [], ["Download: [3/30] -- ETA: 0:40:00"]),
                 Step(pod("Pending", scheduled=False, name="demo-7d9f-fghij", created="2026-11-28T00:05:00Z"), others=[
                     {**pod("Failed"), "status": {"phase": "Failed", "reason": "Evicted",
                                                  "message": "The node was low on resource: ephemeral-storage. Threshold quantity: "
                                                             "10Gi."}}])],
                "Evicted: the node ran short of a resource"),
}

# Another release's refusal beside ours in the same namespace: only ours may be shown.
QUOTA = [Step(None, [
        {**event("FailedCreate", 'Error creating: pods "demo2-5c6-x" is forbidden: exceeded quota: other', "Warning"),
         "involvedObject": {"kind": "ReplicaSet", "name": "demo2-5c6"}},  # another release's: not ours
        {**event("FailedCreate", 'Error creating: pods "demo-7d9f-x" is forbidden: exceeded quota: gpus, requested: '
                 'requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8', "Warning"),
         "involvedObject": {"kind": "ReplicaSet", "name": "demo-7d9f"}}])]


def test_only_the_releases_own_objects_count() -> None:
    from tgictl.lifecycle.watch import release_owns

    assert [release_owns(name, "demo") for name in ("demo", "demo-7d9f", "demo-7d9f-abcde", "demo2-7d9f", "old-demo")] == [
        True, True, True, False, False]


@pytest.mark.parametrize("case", list(FAILURES))
def test_failures_are_explained_and_a_first_install_is_uninstalled(case: str, cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    steps, cause = FAILURES[case]
    cluster.steps = steps
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 1
    assert cause in result.stderr and "uninstalled (it was the first install)" in result.stderr
    assert "Traceback" not in result.output
    assert [c["args"][0] for c in helm_calls(helm_log)] == ["history", "upgrade", "uninstall"]


def test_a_ready_replacement_outweighs_an_old_eviction(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    evicted = FAILURES["evicted"][0][1].others[0]
    replacement = pod(running=True, ready=True, name="demo-7d9f-fghij", created="2026-11-28T00:05:00Z")
    cluster.steps = [Step(replacement, [], ["Connected"], others=[evicted])]
    result = runner.invoke(app, ["deploy", "-f", spec_file(tmp_path), "--no-smoke", "--poll", "0.01", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["phases"][-1] == "ready"


def test_a_failed_helm_upgrade_is_undone_too(cluster: Cluster, helm_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_FAIL", "upgrade")
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert 'admission webhook "validate.kyverno.svc" denied the request' in result.stderr
    assert "uninstalled (it was the first install)" in result.stderr
    assert [c["args"][0] for c in helm_calls(helm_log)] == ["history", "upgrade", "uninstall"]
    monkeypatch.setenv("FAKE_HELM_NO_RELEASE", "1")  # helm failed before recording any release
    assert "nothing to undo: helm created no release" in deploy(spec_file(tmp_path)).stderr


def test_a_refused_pod_shows_the_releases_own_event(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = QUOTA
    result = deploy(spec_file(tmp_path))
    assert "| Error creating: pods \"demo-7d9f-x\" is forbidden: exceeded quota: gpus" in result.stderr
    assert "demo2" not in result.stderr


def test_deploy_gives_up_after_the_budget(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = [Step(pod(running=True), [], ["Download: [1/30] -- ETA: 2:00:00"])]
    from tgictl.adapters.kube import Kube
    from tgictl.lifecycle.deploy import DeployFailed, deploy as run_deploy
    from tgictl.spec.load import load_file

    with pytest.raises(DeployFailed, match="not ready after 0s \\(last phase: download: Download: \\[1/30\\] -- ETA: 2:00:00\\)"):
        run_deploy(load_file(spec_file(tmp_path)), Kube(), poll_s=0.01, budget_s=0.05)


def test_deploy_timeout_option_bounds_the_wait(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = [Step(pod(running=True), [], ["Download: [1/30] -- ETA: 2:00:00"])]
    result = runner.invoke(app, ["deploy", "-f", spec_file(tmp_path), "--no-smoke", "--poll", "0.01", "--timeout", "0.2"])
    assert result.exit_code == 1 and "not ready after 0s (last phase: download" in result.stderr
    upgrade = next(c for c in helm_calls(helm_log) if c["args"][0] == "upgrade")["args"]
    assert upgrade[upgrade.index("--timeout") + 1] == "60s"  # helm's own operations keep a sane floor


def test_diff_compares_quantities_as_the_api_server_stores_them(cluster: Cluster, tmp_path: Path) -> None:
    """The spec's 65536Mi is stored and read back as 64Gi: no change. A real change still shows."""
    import yaml

    from support.fake_kube import canonical_quantity
    from tgictl.render.prepare import prepare
    from tgictl.render.service import objects
    from tgictl.spec.load import load_file

    assert [canonical_quantity(q) for q in ("65536Mi", "1000m", "500m", "1536Mi", "2000")] == ["64Gi", "1", "500m", "1536Mi", "2k"]

    def with_memory(memory: str) -> str:
        path = Path(spec_file(tmp_path))
        doc = yaml.safe_load(path.read_text())
        doc["spec"]["hardware"].update(memory=memory, cpu="8000m")
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    path = with_memory("65536Mi")
    live = next(o.obj for o in objects(prepare(load_file(path))) if o.kind == "Deployment")
    cluster.objects = {"/apis/apps/v1/namespaces/llm/deployments/demo": live}
    deployment = next(c for c in json.loads(runner.invoke(app, ["diff", "-f", path, "-o", "json"]).stdout) if c["kind"] == "Deployment")
    assert deployment["status"] == "unchanged", deployment["fields"]
    changed = with_memory("80Gi")
    deployment = next(c for c in json.loads(runner.invoke(app, ["diff", "-f", changed, "-o", "json"]).stdout) if c["kind"] == "Deployment")
    assert deployment["status"] == "changed" and any("memory: '64Gi' → '80Gi'" in f for f in deployment["fields"]), deployment
