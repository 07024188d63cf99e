"""Cluster lifecycle against a fake API server (HTTP level) and a fake helm that
records its arguments: deploy's progress and every failure class with its
undo, doctor's checks, status, rollback and delete."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from conftest import document
from cluster_fixtures import PREVIOUS, helm_calls, spec_file
from fake_kube import Cluster, Step, event, pod, rollout
from tgictl.cli.main import app

runner = CliRunner()

STARTUP = [
    Step(None),
    Step(pod("Pending", scheduled=False), [event("FailedScheduling", "0/3 nodes are available: 3 node(s) had untolerated taint.", "Warning")]),
    Step(pod("Pending", waiting="ContainerCreating"), [event("Scheduled", "Successfully assigned llm/demo to gpu-node-1"),
                                                      event("Pulling", "Pulling image ghcr.io/huggingface/text-generation-inference:3.3.5")]),
    Step(pod(running=True), [event("Started", "Started container server")], ["Args { model_id: ... }"]),
    Step(pod(running=True), [], ["Args { model_id: ... }", "Starting check and download process for meta-llama/Llama-3.1-8B-Instruct"]),
    Step(pod(running=True), [], ["Download file: model-00001-of-00004.safetensors", "Download: [1/4] -- ETA: 0:03:00"]),
    Step(pod(running=True), [], ["Successfully downloaded weights for meta-llama/Llama-3.1-8B-Instruct", "Starting shard rank=0", "Waiting for shard to be ready... rank=0"]),
    Step(pod(running=True), [], ["Shard ready in 41.2s rank=0", "Starting Webserver", "Warming up model", "KV-cache blocks: 33210, size: 1"]),
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
    assert report["revision"] == 1
    upgrade = next(c for c in helm_calls(helm_log) if c["args"][0] == "upgrade")
    assert upgrade["args"][:4] == ["upgrade", "--install", "demo", str(Path(__file__).resolve().parents[1] / "charts" / "tgi")]
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
                     Step(pod(running=True, **fresh), [], ["Warming up model"]), Step(pod(running=True, ready=True, **fresh), [], ["Connected"])]
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


SCHEDULED = pod("Pending", waiting="ContainerCreating")
FAILURES = {
    "insufficient-gpu": ([Step(pod("Pending", scheduled=False), [event("FailedScheduling", "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.", "Warning")])],
                         "Insufficient GPU"),
    "image-pull": ([Step(SCHEDULED), Step(pod(waiting="ImagePullBackOff", waiting_message='Back-off pulling image "ghcr.io/x:nope"'))],
                   "ImagePullBackOff: the image cannot be pulled"),
    "oom": ([Step(pod(running=True), [], ["Starting shard rank=0"]), Step(pod(waiting="CrashLoopBackOff", restarts=1, last_terminated="OOMKilled"))],
            "OOMKilled"),
    "crashloop": ([Step(pod(running=True), [], ["Starting shard"]),
                   Step(pod(waiting="CrashLoopBackOff", restarts=2), [], [], ["Error: ShardCannotStart", "Shard 0 failed to start"])],
                  "CrashLoopBackOff: the engine exits at start-up"),
    "gated": ([Step(pod(running=True), [], ["Starting check and download process", "huggingface_hub.errors.GatedRepoError: 401 Client Error. Cannot access gated repo"])],
              "gated or private model"),
    "missing-model": ([Step(pod(running=True), [], ["huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. Repository Not Found for url"])],
                      "model not found on the Hub (404)"),
    "nccl": ([Step(pod(running=True), [], ["Waiting for shard to be ready...", "RuntimeError: NCCL error in: ... unhandled system error, Error while creating shared memory segment"])],
             "NCCL failed between shards"),
    "remote-code": ([Step(pod(waiting="CrashLoopBackOff", restarts=1), [], [], [
        "ValueError: Loading /data/hub/models--org--m requires you to execute the configuration file in that repo on your local "
        "machine. Make sure you have read the code there to avoid malicious use, then set the option `trust_remote_code=True` "
        "to remove this error."])], "set model.trustRemoteCode: true"),
    "missing-secret": ([Step(pod(waiting="CreateContainerConfigError", waiting_message='secret "hf-token" not found'))],
                       "CreateContainerConfigError: the container cannot be created as specified"),
    "probe-budget": ([Step(pod(running=True), [event("Killing", "Container server failed startup probe, will be restarted")], ["Download: [2/30] -- ETA: 1:10:00"])],
                     "start-up probe budget exceeded"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failures_are_explained_and_a_first_install_is_uninstalled(case: str, cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    steps, cause = FAILURES[case]
    cluster.steps = steps
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 1
    assert cause in result.stderr and "uninstalled (it was the first install)" in result.stderr
    assert "Traceback" not in result.output
    assert [c["args"][0] for c in helm_calls(helm_log)] == ["history", "upgrade", "uninstall"]


def test_failed_upgrade_rolls_back_to_the_last_good_revision(cluster: Cluster, helm_log: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_HISTORY", PREVIOUS)
    cluster.steps = FAILURES["image-pull"][0]
    result = deploy(spec_file(tmp_path))
    assert result.exit_code == 1 and "rolled back to revision 2" in result.stderr
    rollback = next(c for c in helm_calls(helm_log) if c["args"][0] == "rollback")
    assert rollback["args"][:3] == ["rollback", "demo", "2"]


def test_crashloop_shows_the_last_log_lines(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = FAILURES["crashloop"][0]
    result = deploy(spec_file(tmp_path))
    assert "| Shard 0 failed to start" in result.stderr


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


def test_unreachable_cluster_is_one_clear_line(helm_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "x",
                                          "clusters": [{"name": "x", "cluster": {"server": "http://127.0.0.1:9"}}],
                                          "users": [{"name": "x", "user": {}}], "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    result = runner.invoke(app, ["doctor", "-f", spec_file(tmp_path)])
    assert result.exit_code == 1 and "cannot reach the API server at http://127.0.0.1:9" in result.stdout
    missing = runner.invoke(app, ["doctor", "-f", spec_file(tmp_path), "--context", "nope"])
    assert missing.exit_code == 1 and "no usable kubeconfig context 'nope'" in missing.stderr


def gpu_node(count: int, product: str = "NVIDIA-A100-SXM4-80GB") -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": f"gpu-{count}", "labels": {"nvidia.com/gpu.product": product}},
            "status": {"allocatable": {"nvidia.com/gpu": str(count), "cpu": "32"}}}


def test_doctor_passes_a_ready_cluster(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.nodes = [gpu_node(8)]
    cluster.storage_classes = [{"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}]
    cluster.crds = {"servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com", "scaledobjects.keda.sh"}
    cluster.groups = {"external.metrics.k8s.io"}
    cluster.secrets = {("llm", "hf-token")}
    path = spec_file(tmp_path, monitoring={"enabled": True}, autoscaling={"enabled": True}, cache={"hfTokenSecret": {"name": "hf-token"}})
    result = runner.invoke(app, ["doctor", "-f", path, "-o", "json"])
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert all(c["status"] == "pass" for c in checks.values()), checks
    assert checks["api"]["detail"].startswith("Kubernetes v1.35.0")
    assert checks["helm"]["detail"] == "v4.1.4+fake"


def test_doctor_fails_with_fixes(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.nodes = [gpu_node(8, product="NVIDIA-L4")]
    cluster.quotas = [{"metadata": {"name": "gpus"}, "status": {"hard": {"requests.nvidia.com/gpu": "2"}, "used": {"requests.nvidia.com/gpu": "2"}}}]
    path = spec_file(tmp_path, monitoring={"enabled": True}, cache={"hfTokenSecret": {"name": "hf-token"}, "storageClassName": "fast"})
    result = runner.invoke(app, ["doctor", "-f", path, "-o", "json"])
    assert result.exit_code == 1
    failed = {c["name"]: c for c in json.loads(result.stdout) if c["status"] == "fail"}
    assert set(failed) == {"gpu product", "storage", "crd servicemonitors.monitoring.coreos.com",
                           "crd prometheusrules.monitoring.coreos.com", "secret hf-token", "quota"}
    assert all(c["fix"] for c in failed.values())
    assert "kubectl -n llm create secret generic hf-token" in failed["secret hf-token"]["fix"]


def test_doctor_names_missing_permissions(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.nodes = [gpu_node(8)]
    cluster.forbidden = {"events", "pods/portforward"}
    result = runner.invoke(app, ["doctor", "-f", spec_file(tmp_path, cache={"ephemeral": True}), "-o", "json"])
    permissions = next(c for c in json.loads(result.stdout) if c["name"] == "permissions")
    assert permissions["status"] == "warn" and result.exit_code == 0  # deploy degrades without these, it still works
    assert permissions["fix"] == "ask for a Role in llm granting: list events, create pods/portforward"
    cluster.forbidden = {"deployments"}
    denied = runner.invoke(app, ["doctor", "-f", spec_file(tmp_path, cache={"ephemeral": True}), "-o", "json"])
    assert denied.exit_code == 1
    assert "cannot create deployments (helm installs the Deployment)" in json.dumps(json.loads(denied.stdout))


def test_status_rollback_delete(cluster: Cluster, helm_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"])]
    path = spec_file(tmp_path)
    status = runner.invoke(app, ["status", "-f", path, "-o", "json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert (data["revision"], data["status"], data["phase"]) == (3, "deployed", "ready")
    assert data["pods"] == [{"pod": "demo-7d9f-abcde", "phase": "Running", "ready": True, "restarts": 0, "node": "gpu-node-1"}]
    assert runner.invoke(app, ["history", "-f", path]).exit_code == 2  # not installed (FAKE_HELM_HISTORY=missing)
    none = runner.invoke(app, ["rollback", "-f", path])
    assert none.exit_code == 2 and "no earlier revision" in none.stderr
    monkeypatch.setenv("FAKE_HELM_HISTORY", PREVIOUS)
    listed = runner.invoke(app, ["history", "-f", path])
    assert listed.exit_code == 0 and [line.split()[:2] for line in listed.stdout.splitlines()[1:]] == [["1", "superseded"], ["2", "deployed"]]
    rolled = runner.invoke(app, ["rollback", "-f", path, "-o", "json"])
    assert rolled.exit_code == 0 and json.loads(rolled.stdout) == {"release": "demo", "namespace": "llm", "rolled_back_to": 1}
    deleted = runner.invoke(app, ["delete", "-f", path, "-o", "json"])
    assert deleted.exit_code == 0
    assert json.loads(deleted.stdout) == {"release": "demo", "namespace": "llm", "uninstalled": True, "kept_pvc": "demo-cache"}
    assert runner.invoke(app, ["delete", "-f", spec_file(tmp_path, cache={"ephemeral": True})]).stdout == "demo uninstalled\n"
    calls = [c["args"] for c in helm_calls(helm_log) if c["args"][0] in ("rollback", "uninstall")]
    assert [c[:3] for c in calls] == [["rollback", "demo", "1"], ["uninstall", "demo", "--namespace"], ["uninstall", "demo", "--namespace"]]
    assert "--wait" in calls[1]  # delete returns once the objects are gone


def test_diff_shows_new_and_changed_objects(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    from tgictl.render import service
    from tgictl.spec.load import load_file

    path = spec_file(tmp_path)
    rendered = {o["kind"]: o for o in yaml.safe_load_all(service.render(load_file(path), "manifests").stream) if o}
    live_deployment = json.loads(json.dumps(rendered["Deployment"]))
    live_deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/huggingface/text-generation-inference:3.3.4"
    live_deployment["status"] = {"readyReplicas": 1}  # live-only fields are not differences
    cluster.objects = {
        "/apis/apps/v1/namespaces/llm/deployments/demo": live_deployment,
        "/api/v1/namespaces/llm/services/demo": rendered["Service"],
    }
    result = runner.invoke(app, ["diff", "-f", path, "-o", "json"])
    assert result.exit_code == 1, result.output
    changes = {c["kind"]: c for c in json.loads(result.stdout)}
    assert changes["Service"]["status"] == "unchanged"
    assert changes["PersistentVolumeClaim"]["status"] == "new"
    assert changes["Deployment"]["status"] == "changed"
    assert changes["Deployment"]["fields"] == [
        "spec.template.spec.containers[0].image: 'ghcr.io/huggingface/text-generation-inference:3.3.4' → "
        "'ghcr.io/huggingface/text-generation-inference:3.3.5'"]


def test_logs_prints_each_pod(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Warming up model", "Connected"])]
    result = runner.invoke(app, ["logs", "-f", spec_file(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["[demo-7d9f-abcde] Warming up model", "[demo-7d9f-abcde] Connected"]
    as_json = runner.invoke(app, ["logs", "-f", spec_file(tmp_path), "-o", "json"])
    assert json.loads(as_json.stdout) == [{"pod": "demo-7d9f-abcde", "lines": ["Warming up model", "Connected"]}]


def test_logs_follow_streams_every_pod(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    other = pod(running=True, ready=True, name="demo-7d9f-zzzzz")
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Warming up model", "Connected"], others=[other])]
    result = runner.invoke(app, ["logs", "-f", spec_file(tmp_path), "--follow", "-o", "json"])
    assert result.exit_code == 0, result.output
    lines = sorted((e["pod"], e["line"]) for e in map(json.loads, result.stdout.splitlines()))
    assert lines == sorted((p, line) for p in ("demo-7d9f-abcde", "demo-7d9f-zzzzz") for line in ("Warming up model", "Connected"))
    assert any("follow=true" in r for r in cluster.requests)


def test_cache_warm_runs_the_job_and_removes_its_release(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    job = "/apis/batch/v1/namespaces/llm/jobs/demo-cache-warm"
    cluster.objects = {job: [{"status": {"active": 1}}, {"status": {"active": 1}}, {"status": {"succeeded": 1}}]}
    download = pod(running=True)
    download["metadata"]["labels"] = {"job-name": "demo-cache-warm"}
    download["status"]["containerStatuses"][0]["name"] = "download"
    cluster.steps = [Step(download, [], ["Fetching 4 files:  25%"]), Step(download, [], ["Fetching 4 files: 100%", "cache warm: done /data/hub/x"])]
    result = runner.invoke(app, ["cache", "warm", "-f", spec_file(tmp_path, cache={"hfTokenSecret": {"name": "hf"}}), "--poll", "0.01",
                                 "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"release": "demo", "pvc": "demo-cache", "warm": True, "last_log_line": "cache warm: done /data/hub/x"}
    assert "Fetching 4 files:  25%" in result.stderr  # progress goes to stderr, the result to stdout
    calls = helm_calls(helm_log)
    install = next(c for c in calls if c["args"][0] == "upgrade")
    assert install["args"][2] == "demo-cache-warm"
    assert install["values"]["cacheWarm"] == {"only": True, "image": "ghcr.io/tgictl/tgictl:0.1.0", "revision": "",
                                              "files": ["*.json", "*.safetensors", "*.model", "*.txt", "tokenizer*"],
                                              "adoptingRelease": "demo"}
    assert calls[-1]["args"][:2] == ["uninstall", "demo-cache-warm"]


def warm_job(**spec: Any) -> dict[str, dict[str, Any]]:
    """The cache-warm release's objects for a spec, by kind."""
    from tgictl.adapters import helm
    from tgictl.lifecycle.cachewarm import check_warmable
    from tgictl.render import manifests
    from tgictl.render.values import chart_values
    from tgictl.spec.load import parse

    parsed = parse(document(hardware={"accelerator": {"type": "l4", "count": 1}}, **spec))
    values = chart_values(parsed) | {"cacheWarm": {"only": True, "image": "img:1", "revision": "", "files": check_warmable(parsed),
                                                   "adoptingRelease": "demo"}}
    objects = manifests.split(helm.template(values, release="demo-cache-warm", namespace="default"))
    manifests.validate(objects)
    return {o.kind: o.obj for o in objects}


def test_cache_warm_job_renders_only_the_job_and_the_adoptable_pvc() -> None:
    kinds = warm_job(cache={"hfTokenSecret": {"name": "hf"}})
    assert set(kinds) == {"PersistentVolumeClaim", "Job"}
    assert kinds["PersistentVolumeClaim"]["metadata"]["name"] == "demo-cache"
    assert kinds["PersistentVolumeClaim"]["metadata"]["annotations"]["meta.helm.sh/release-name"] == "demo"
    env = {e["name"]: e for e in kinds["Job"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HF_HUB_CACHE"]["value"] == "/data/hub" and "secretKeyRef" in env["HF_TOKEN"]["valueFrom"]
    assert json.loads(env["MODEL_FILES"]["value"]) == ["*.json", "*.safetensors", "*.model", "*.txt", "tokenizer*"]


@pytest.mark.parametrize(("engine", "model", "hub", "files"), [
    ("vllm", {"id": "meta-llama/Llama-3.1-8B-Instruct"}, "/root/.cache/huggingface/hub", ["*.json", "*.safetensors", "*.model", "*.txt", "tokenizer*"]),
    ("llamacpp", {"id": "bartowski/Llama-3.2-1B-Instruct-GGUF", "ggufFile": "Llama-3.2-1B-Instruct-Q4_K_M.gguf"}, "/models",
     ["Llama-3.2-1B-Instruct-Q4_K_M.gguf"]),
])
def test_cache_warm_downloads_into_the_hub_cache_each_engine_reads(engine: str, model: dict[str, str], hub: str, files: list[str]) -> None:
    job = warm_job(engine={"name": engine}, model=model)["Job"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in job["env"]}
    assert env["HF_HUB_CACHE"] == hub and json.loads(env["MODEL_FILES"]) == files
    assert hub.startswith(job["volumeMounts"][0]["mountPath"])  # the download lands on the cache PVC


def test_cache_warm_refuses_what_it_cannot_warm(tmp_path: Path) -> None:
    for spec, fragment in (({"cache": {"ephemeral": True}}, "no PVC to warm"),
                           ({"engine": {"name": "llamacpp"}, "model": {"id": "/m.gguf"}}, "local GGUF file"),
                           ({"engine": {"name": "llamacpp"}, "model": {"id": "org/repo-GGUF"}}, "set model.ggufFile"),
                           ({"engine": {"name": "llamacpp"}, "model": {"id": "x", "url": "https://example.com/m.gguf"}}, "not the Hub"),
                           ({"model": {"id": "/models/llama"}}, "local path")):
        result = runner.invoke(app, ["cache", "warm", "-f", spec_file(tmp_path, **spec)])
        assert result.exit_code == 2 and fragment in result.stderr, (spec, result.output)


def test_namespace_option_overrides_the_spec(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"])]
    result = runner.invoke(app, ["status", "-f", spec_file(tmp_path), "-n", "other", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["namespace"] == "other"
    assert any(r.startswith("GET /api/v1/namespaces/other/pods") for r in cluster.requests)
