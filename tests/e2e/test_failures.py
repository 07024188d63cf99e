"""deploy's failure catalog on real objects: the real scheduler, ReplicaSet and Deployment
controllers, ResourceQuota and Pod Security admission, the disruption controller, and kwok
failing pods as a kubelet does (reasons, messages and events of pkg/kubelet at v1.35.4;
scripts/cluster/pod-stages.yaml). Each failure is named in one line with what to change,
exits non-zero and leaves the namespace as it was before the deploy (or at the last good
revision)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from typer.testing import CliRunner

from support.control_plane import Namespace, kubelet_fails, wait_for, write_spec
from support.data import FIXTURES
from tgictl.cli.main import app

runner = CliRunner()
CPU = {"cpu": "1", "memory": "1Gi"}
TWO_A10G = {"accelerator": {"type": "a10g", "count": 2}}  # the cluster's A10G node has one


def deploy(path: str, *extra: str) -> Any:
    return runner.invoke(app, ["deploy", "-f", path, "--no-smoke", "--poll", "0.5", *extra])


def nothing_left(ns: Namespace, release: str = "demo") -> None:
    """No release and none of its objects (a kept cache PVC aside): deploy undid what it applied."""
    assert runner.invoke(app, ["history", "-f", write_spec(ns, Path(ns.scratch), release, file="probe.yaml")]).exit_code == 2
    left = ns.kubectl("get", "deployment,replicaset,service,secret,pdb", "-n", ns.name, "-o", "name").stdout.split()
    assert left == [], left


def test_insufficient_gpu_is_the_real_schedulers_finding(ns: Namespace, tmp_path: Path) -> None:
    failed = deploy(write_spec(ns, tmp_path, hardware=TWO_A10G), "--node-wait", "3")
    assert failed.exit_code == 1, failed.output
    assert "Insufficient GPU: no node has enough free accelerators for one pod" in failed.stderr
    assert "Insufficient nvidia.com/gpu" in failed.stderr  # kube-scheduler's own words, as evidence
    assert "uninstalled (it was the first install)" in failed.stderr
    nothing_left(ns)


A10G_NODE = {
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "gpu-a10g-scaled", "labels": {"kubernetes.io/hostname": "gpu-a10g-scaled", "type": "kwok",
                                                       "nvidia.com/gpu.product": "NVIDIA-A10G", "nvidia.com/gpu.present": "true"}},
    "status": {"allocatable": {"cpu": "47", "memory": "180Gi", "nvidia.com/gpu": "4", "pods": "110"},
               "capacity": {"cpu": "48", "memory": "192Gi", "nvidia.com/gpu": "4", "pods": "110"}},
}  # a g5.12xlarge, as a cluster autoscaler would add it


def test_a_node_added_while_the_pod_waits_lets_the_deploy_finish(ns: Namespace, tmp_path: Path) -> None:
    def add_node_once_the_scheduler_gives_up() -> None:
        wait_for("the scheduler's FailedScheduling", lambda: "FailedScheduling" in ns.kubectl(
            "get", "events", "-n", ns.name, "-o", "jsonpath={.items[*].reason}").stdout, timeout=60)
        ns.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(A10G_NODE))

    adder = threading.Thread(target=add_node_once_the_scheduler_gives_up, daemon=True)
    adder.start()
    try:
        done = runner.invoke(app, ["deploy", "-f", write_spec(ns, tmp_path, hardware=TWO_A10G), "--no-smoke", "--poll", "0.5",
                                   "--node-wait", "120", "-o", "json"])
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["phases"][0] == "scheduling" and json.loads(done.stdout)["phases"][-1] == "ready"
        [pod] = ns.get("pods", selector="app.kubernetes.io/instance=demo")["items"]
        assert pod["spec"]["nodeName"] == "gpu-a10g-scaled"
    finally:
        adder.join(timeout=60)
        ns.kubectl("delete", "node", "gpu-a10g-scaled", "--ignore-not-found")


def test_a_resource_quota_refusal_is_named_with_the_quota(ns: Namespace, tmp_path: Path) -> None:
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "gpus", "namespace": ns.name},
             "spec": {"hard": {"requests.nvidia.com/gpu": "0"}}}
    ns.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(quota))
    failed = deploy(write_spec(ns, tmp_path))
    assert failed.exit_code == 1, failed.output
    assert ("ResourceQuota gpus refuses the pod: it asks requests.nvidia.com/gpu=1, the namespace uses "
            "requests.nvidia.com/gpu=0 of requests.nvidia.com/gpu=0") in failed.stderr
    assert "uninstalled (it was the first install)" in failed.stderr
    nothing_left(ns)


def test_pod_security_refusing_tgis_root_pod_is_predicted_and_nothing_applied(ns: Namespace, tmp_path: Path) -> None:
    ns.kubectl("label", "namespace", ns.name, "pod-security.kubernetes.io/enforce=restricted")
    path = write_spec(ns, tmp_path)
    doctor = runner.invoke(app, ["doctor", "-f", path, "-o", "json"])
    assert doctor.exit_code == 1, doctor.output
    security = next(c for c in json.loads(doctor.stdout) if c["name"] == "pod security")
    assert security["status"] == "fail" and f"{ns.name} enforces Pod Security restricted" in security["detail"]
    refused = deploy(path)
    assert refused.exit_code == 2, refused.output
    assert refused.stderr.startswith("error: demo: not deployed, nothing applied: 1 check(s) of `tgictl doctor` fail:")
    assert f"pod security: {ns.name} enforces Pod Security restricted" in refused.stderr
    nothing_left(ns)


# Pods of each engine's defaults and of a hardened spec; doctor's prediction is held against
# what the real PodSecurity admission does with the same pod at each level.
PODS = {
    "tgi": {},
    "vllm": {"engine": {"name": "vllm"}},
    "llamacpp": {"engine": {"name": "llamacpp"}, "model": {"id": "tgictl/tiny-llama-GGUF", "ggufFile": "tiny-llama.gguf"},
                 "hardware": CPU},
    "llamacpp-hardened": {"engine": {"name": "llamacpp"}, "model": {"id": "tgictl/tiny-llama-GGUF", "ggufFile": "tiny-llama.gguf"},
                          "hardware": CPU, "security": {"runAsNonRoot": True}},
}


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_doctors_pod_security_verdict_is_the_real_admissions(ns: Namespace, tmp_path: Path, level: str) -> None:
    from tgictl.render import podsecurity
    from support.data import rendered_pod

    ns.kubectl("label", "namespace", ns.name, f"pod-security.kubernetes.io/enforce={level}")
    verdicts = {}
    for name, spec in PODS.items():
        pod_spec = {**rendered_pod(Path(write_spec(ns, tmp_path, file=f"{name}.yaml", **spec))), "serviceAccountName": "default"}
        met, _ = podsecurity.level(pod_spec)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"probe-{name}", "namespace": ns.name}, "spec": pod_spec}
        admitted = ns.kubectl("create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(pod), check=False)
        assert admitted.returncode == 0 or "violates PodSecurity" in admitted.stderr, admitted.stderr
        verdicts[name] = (podsecurity.allows(level, met), admitted.returncode == 0)
    assert all(predicted == real for predicted, real in verdicts.values()), verdicts
    assert len({real for _, real in verdicts.values()}) == 2 or level == "baseline", verdicts  # both outcomes seen


@pytest.mark.parametrize("field", ["cache.hfTokenSecret", "serving.apiKeySecret"])
def test_a_missing_secret_is_refused_before_anything_is_applied(ns: Namespace, tmp_path: Path, field: str) -> None:
    section, key = field.split(".")
    refused = deploy(write_spec(ns, tmp_path, **{section: {key: {"name": "absent", "key": "token"}}}))
    assert refused.exit_code == 2, refused.output
    assert f"secret absent: {field} is missing in {ns.name}" in refused.stderr
    assert f"kubectl -n {ns.name} create secret generic absent --from-literal=token=..." in refused.stderr
    nothing_left(ns)


def test_an_image_that_cannot_be_pulled_rolls_the_upgrade_back(ns: Namespace, tmp_path: Path) -> None:
    good = write_spec(ns, tmp_path, hardware=CPU)
    assert deploy(good).exit_code == 0
    bad = write_spec(ns, tmp_path, file="bad.yaml", hardware=CPU, image={"tag": "no-such-tag"},
                     podAnnotations=kubelet_fails("image-pull-fails"))
    failed = deploy(bad)
    assert failed.exit_code == 1, failed.output
    assert "the image cannot be pulled; check image.repository/tag and image.pullSecrets" in failed.stderr
    assert ':no-such-tag": not found' in failed.stderr  # the kubelet's message, with the image
    assert "rolled back to revision 1" in failed.stderr
    history = json.loads(runner.invoke(app, ["history", "-f", good, "-o", "json"]).stdout)
    # helm's upgrade itself succeeded (deploy watches after it): revision 2 is superseded by the rollback, 3
    assert [r["status"] for r in history] == ["superseded", "superseded", "deployed"]
    image = ns.get("deployment", "demo")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert not image.endswith(":no-such-tag")


@pytest.mark.parametrize(("failure", "cause"), [
    ("oom-killed", "OOMKilled: the container exceeded its memory limit (loading weights stages them in host memory); "
                   "raise hardware.memory"),
    ("startup-probe-fails", "start-up probe budget exceeded: the engine did not become ready in time; raise "
                            "probes.startupBudgetSeconds"),
])
def test_a_kubelet_failure_is_named_and_the_first_install_undone(ns: Namespace, tmp_path: Path, failure: str, cause: str) -> None:
    failed = deploy(write_spec(ns, tmp_path, hardware=CPU, podAnnotations=kubelet_fails(failure)))
    assert failed.exit_code == 1, failed.output
    assert cause in failed.stderr
    assert "uninstalled (it was the first install)" in failed.stderr
    nothing_left(ns)


def test_a_crash_loop_is_named_from_the_real_tgi_log_it_left(ns: Namespace, tmp_path: Path) -> None:
    """TGI on a T4 (flash attention needs Ampere): the log of a real deployment (tests/fixtures/tgi-logs/SOURCES.md),
    served by kwok's kubelet API as the crashed container's log."""
    lines = (FIXTURES / "tgi-logs" / "flash-attention-t4.log").read_text().splitlines()
    ns.route_logs(lines, previous=lines)
    failed = deploy(write_spec(ns, tmp_path, hardware=CPU, podAnnotations=kubelet_fails("crash-loop")))
    assert failed.exit_code == 1, failed.output
    assert "flash attention needs an Ampere-or-newer GPU" in failed.stderr
    assert "FlashAttention only supports Ampere GPUs or newer" in failed.stderr
    assert "uninstalled (it was the first install)" in failed.stderr


# The last lines TGI logged before exiting, each class as real deployments print it (the launcher's
# own lines: tests/fixtures/tgi-logs), left by a container kwok restarts in a crash loop.
CRASHED_WITH = {
    "shard-failed": (["Starting shard", "Error: ShardCannotStart",
                      "2024-03-06T17:53:31.149443Z ERROR text_generation_launcher: Shard 0 failed to start",
                      "2024-03-06T17:53:31.149481Z  INFO text_generation_launcher: Shutting down shards"],
                     "TGI stopped at start-up; the error it logged last: Shard 0 failed to start"),
    "silent": (["Starting shard", "Waiting for shard to be ready..."], "CrashLoopBackOff: the engine exits at start-up"),
    "gated": (["Starting check and download process",
               "huggingface_hub.errors.GatedRepoError: 401 Client Error. Cannot access gated repo"], "gated or private model"),
    "missing-model": (["huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. Repository Not Found for url"],
                      "model not found on the Hub (404)"),
    "nccl": (["Waiting for shard to be ready...", "RuntimeError: NCCL error in: ... unhandled system error, Error while creating "
              "shared memory segment"], "NCCL failed between shards"),
    "remote-code": (["ValueError: Loading /data/hub/models--org--m requires you to execute the configuration file in that repo on "
                     "your local machine. Make sure you have read the code there to avoid malicious use, then set the option "
                     "`trust_remote_code=True` to remove this error."], "set model.trustRemoteCode: true"),
}


@pytest.mark.parametrize("case", list(CRASHED_WITH))
def test_a_crash_loop_is_named_from_the_lines_the_engine_left(ns: Namespace, tmp_path: Path, case: str) -> None:
    lines, cause = CRASHED_WITH[case]
    ns.route_logs(lines, previous=lines)
    failed = deploy(write_spec(ns, tmp_path, hardware=CPU, podAnnotations=kubelet_fails("crash-loop")))
    assert failed.exit_code == 1, failed.output
    assert cause in failed.stderr
    assert f"| {lines[-1]}" in failed.stderr or f"| {lines[-2]}" in failed.stderr  # the log's end, as evidence
    assert "uninstalled (it was the first install)" in failed.stderr and "Traceback" not in failed.output


def _evict(core: client.CoreV1Api, ns: Namespace, pod: str) -> int:
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=ns.name))
    try:
        core.create_namespaced_pod_eviction(pod, ns.name, eviction)
        return 201
    except ApiException as err:
        return int(err.status)


def test_evictions_honour_the_rendered_disruption_budget(ns: Namespace, tmp_path: Path) -> None:
    """The disruption controller reads the chart's PodDisruptionBudget (maxUnavailable 1): of two ready
    pods one may go at a time; the Eviction API refuses the second (429) until a replacement is ready."""
    path = write_spec(ns, tmp_path, hardware=CPU, replicas=2)
    assert deploy(path).exit_code == 0
    api = config.new_client_from_config(str(ns.kubeconfig))
    core, policy = client.CoreV1Api(api), client.PolicyV1Api(api)

    def pods() -> list[str]:
        return sorted(p.metadata.name for p in core.list_namespaced_pod(ns.name, label_selector="app.kubernetes.io/instance=demo").items
                      if not p.metadata.deletion_timestamp)

    def allowed() -> int:
        return int(policy.read_namespaced_pod_disruption_budget("demo", ns.name).status.disruptions_allowed or 0)

    wait_for("the disruption controller to allow one disruption", lambda: allowed() == 1)
    first, second = pods()
    assert _evict(core, ns, first) == 201
    assert _evict(core, ns, second) == 429  # would leave none of two: "Cannot evict pod as it would violate the budget"
    wait_for("the replacement to be ready and the budget restored", lambda: len(pods()) == 2 and allowed() == 1)
    assert _evict(core, ns, second) == 201
    status = json.loads(runner.invoke(app, ["status", "-f", path, "-o", "json"]).stdout)
    assert status["status"] == "deployed"
