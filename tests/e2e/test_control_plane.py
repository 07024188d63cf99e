"""tgictl's cluster commands on the real control plane (scripts/cluster.sh) with the
real helm: a release deployed to ready through the real scheduler and controllers,
smoke-tested and load-tested through the API server's port-forward to a real
server, then status, logs, diff, upgrade, history, rollback and delete."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from support.control_plane import SCRIPT, TGI_START, Namespace, kubectl, wait_for, write_spec
from support.llama import llama_server
from support.servers import simulator
from tgictl.adapters import toolchain
from tgictl.cli.main import app

runner = CliRunner()


def tgictl(*args: str) -> Any:
    """``tgictl ARGS -o json`` in this process; its parsed output (it must succeed)."""
    result = runner.invoke(app, [*args, "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_release_lives_and_dies_on_the_real_control_plane(ns: Namespace, tmp_path: Path) -> None:
    ns.route_logs(TGI_START)
    with simulator() as url:
        ns.route_port_forwards(url)
        path = write_spec(ns, tmp_path)
        deployed = tgictl("deploy", "-f", path)
        assert deployed["revision"] == 1 and deployed["phases"][-1] == "ready"
        assert deployed["smoke"]["passed"], deployed["smoke"]  # through the API server, kwok's kubelet API, to the simulator

        status = tgictl("status", "-f", path)
        assert (status["revision"], status["status"], status["phase"]) == (1, "deployed", "ready")
        [pod] = status["pods"]
        assert (pod["node"], pod["gpu"], pod["ready"]) == ("gpu-a100-0", "NVIDIA-A100-SXM4-80GB", True)  # the scheduler's choice

        logs = runner.invoke(app, ["logs", "-f", path])
        assert logs.exit_code == 0 and "Shard ready in 12.2s rank=0" in logs.stdout, logs.output

        benched = tgictl("bench", "--release", "-f", path, "--requests", "8", "--concurrency", "2", "--input-len", "fixed:16",
                         "--output-len", "fixed:8")
        assert (benched["succeeded"], benched["requests"]) == (8, 8)

        assert runner.invoke(app, ["diff", "-f", path]).exit_code == 0  # the live objects are what the spec renders
        two_gpus = write_spec(ns, tmp_path, file="two-gpus.yaml", hardware={"accelerator": {"type": "a100-80gb", "count": 2}})
        changed = runner.invoke(app, ["diff", "-f", two_gpus])
        assert changed.exit_code == 1 and "nvidia.com/gpu" in changed.stdout, changed.output

        upgraded = tgictl("deploy", "-f", two_gpus, "--no-smoke")
        assert upgraded["revision"] == 2
        live = ns.get("deployment", "demo")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert live["nvidia.com/gpu"] == "2"
        assert [r["status"] for r in tgictl("history", "-f", path)] == ["superseded", "deployed"]

        assert tgictl("rollback", "-f", path)["rolled_back_to"] == 1
        assert [r["status"] for r in tgictl("history", "-f", path)] == ["superseded", "superseded", "deployed"]
        wait_for("the rolled-back pod to be ready", lambda: tgictl("status", "-f", path)["phase"] == "ready")
        live = ns.get("deployment", "demo")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert live["nvidia.com/gpu"] == "1"

        assert tgictl("delete", "-f", path) == {"release": "demo", "namespace": ns.name, "uninstalled": True, "kept_pvc": "demo-cache"}
    left = ns.kubectl("get", "all,pdb,serviceaccount,configmap,secret,pvc", "-n", ns.name, "-o", "name").stdout.split()
    assert sorted(left) == ["configmap/kube-root-ca.crt", "persistentvolumeclaim/demo-cache", "serviceaccount/default"]
    pvc = ns.get("pvc", "demo-cache")
    assert pvc["status"]["phase"] == "Bound"  # kept with the weights it holds, for the next deploy


def test_deploy_reaches_real_llama_server_through_the_api_servers_port_forward(ns: Namespace, tmp_path: Path) -> None:
    """The pod's log is the real server's own, so deploy reads the context it gave each slot from it."""
    with llama_server(tmp_path) as url:
        ns.route_logs((tmp_path / "llama-server.log").read_text().splitlines())
        ns.route_port_forwards(url)
        path = write_spec(ns, tmp_path, name="tiny", engine={"name": "llamacpp"},
                          model={"id": "tgictl/tiny-llama-GGUF", "ggufFile": "tiny-llama.gguf"},
                          hardware={"cpu": "2", "memory": "2Gi"}, cache={"ephemeral": True},
                          serving={"maxTotalTokens": 256, "maxConcurrentRequests": 2})  # llama_server: 512 over 2 slots
        deployed = tgictl("deploy", "-f", path)
    assert deployed["smoke"]["passed"] and deployed["smoke"]["engine"] == "llamacpp", deployed["smoke"]
    [capacity] = deployed["capacity"]
    assert (capacity["found_request_tokens"], capacity["request_limit"], capacity["warnings"]) == (256, 256, []), capacity
    [pod] = ns.get("pods", selector="app.kubernetes.io/instance=tiny")["items"]
    assert "nvidia.com/gpu" not in pod["spec"]["containers"][0]["resources"].get("limits", {})  # a CPU pod, wherever it landed


def test_cluster_script_starts_a_second_cluster_and_stop_leaves_nothing(tmp_path: Path) -> None:
    state = tmp_path / "second"
    env = {**os.environ, "TGICTL_CLUSTER_DIR": str(state), "TGICTL_CLUSTER_PORT": "26701"}
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, env=env, timeout=300)
    try:
        assert started.returncode == 0, started.stderr
        config = Path(started.stdout.strip().splitlines()[-1])
        assert config.is_file() and config.parent == state
        nodes = json.loads(kubectl(config, "get", "nodes", "-o", "json").stdout)["items"]
        gpus = {n["metadata"]["name"]: n["status"]["allocatable"].get("nvidia.com/gpu") for n in nodes}
        assert gpus == {"gpu-a100-0": "8", "gpu-a10g-0": "1", "cpu-0": None}
        assert json.loads(kubectl(config, "version", "-o", "json").stdout)["serverVersion"]["gitVersion"].startswith("v1.35.")
    finally:
        stopped = subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, text=True, env=env, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not state.exists()
    running = subprocess.run(["pgrep", "-f", str(state)], capture_output=True, text=True)
    assert running.stdout == "", f"processes left behind: {running.stdout}"


@pytest.mark.parametrize("command", ["status", "history"])
def test_a_release_that_was_never_installed_is_named(ns: Namespace, tmp_path: Path, command: str) -> None:
    result = runner.invoke(app, [command, "-f", write_spec(ns, tmp_path, name="absent")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "absent" in result.stderr, result.output


def test_a_kept_cache_claim_the_spec_would_change_is_refused_before_anything_is_applied(ns: Namespace, tmp_path: Path) -> None:
    """The API server refuses to change a bound claim's class; helm then fails half-way with a Go
    struct diff (seen here). Deploy names the field and applies nothing."""
    first = write_spec(ns, tmp_path, hardware={"cpu": "1", "memory": "1Gi"}, cache={"storageClassName": "kwok-volume"})
    tgictl("deploy", "-f", first, "--no-smoke")
    tgictl("delete", "-f", first)  # the PVC is kept, bound
    other = write_spec(ns, tmp_path, file="other-class.yaml", hardware={"cpu": "1", "memory": "1Gi"},
                       cache={"storageClassName": "fast-ssd"})
    refused = runner.invoke(app, ["deploy", "-f", other, "--no-smoke"])
    assert refused.exit_code == 2, refused.output
    assert refused.stderr.startswith("error: spec.cache.storageClassName: the cache PVC demo-cache kept from an earlier install "
                                     "has storageClassName kwok-volume, the spec asks fast-ssd"), refused.stderr
    assert f"kubectl delete pvc demo-cache -n {ns.name}" in refused.stderr
    assert runner.invoke(app, ["history", "-f", other]).exit_code == 2  # helm installed nothing


def test_a_claim_no_provisioner_binds_is_named_not_blamed_on_the_nodes(ns: Namespace, tmp_path: Path) -> None:
    """The real scheduler's VolumeBinding plugin reports 'pod has unbound immediate PersistentVolumeClaims';
    deploy named that 'no node fits the pod: check hardware.nodeSelector ...' after waiting for a node."""
    unprovisioned = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": f"{ns.name}-absent"},
                     "provisioner": "example.com/absent", "volumeBindingMode": "Immediate"}  # a class whose provisioner is not running
    ns.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(unprovisioned))
    try:
        path = write_spec(ns, tmp_path, hardware={"cpu": "1", "memory": "1Gi"}, cache={"storageClassName": f"{ns.name}-absent"})
        failed = runner.invoke(app, ["deploy", "-f", path, "--no-smoke", "--node-wait", "3", "--poll", "0.5"])
    finally:
        ns.kubectl("delete", "storageclass", f"{ns.name}-absent")
    assert failed.exit_code == 1, failed.output
    assert "the cache PVC has no volume: its storage class did not provision one; check spec.cache.storageClassName" in failed.stderr
    assert "unbound immediate PersistentVolumeClaims" in failed.stderr  # the scheduler's own words, as evidence
    assert "uninstalled (it was the first install)" in failed.stderr


def test_a_storage_class_that_does_not_exist_is_refused_before_anything_is_applied(ns: Namespace, tmp_path: Path) -> None:
    """It waited for a node (--node-wait, 600 s by default) before failing as the class above does."""
    path = write_spec(ns, tmp_path, hardware={"cpu": "1", "memory": "1Gi"}, cache={"storageClassName": "no-such-class"})
    refused = runner.invoke(app, ["deploy", "-f", path, "--no-smoke"])
    assert refused.exit_code == 2, refused.output
    assert "storage: storage class no-such-class does not exist" in refused.stderr
    assert "create it or set cache.storageClassName to one of: kwok-volume" in refused.stderr
    assert ns.kubectl("get", "pvc,deployment,secret", "-n", ns.name, "-o", "name").stdout.split() == []


def test_cache_warm_runs_its_job_to_completion_and_the_release_adopts_the_claim(ns: Namespace, tmp_path: Path) -> None:
    done = "cache warm: done /data/hub/models--meta-llama"
    ns.route_logs(["Fetching 4 files:  25%", "Fetching 4 files: 100%", done])
    path = write_spec(ns, tmp_path, hardware={"cpu": "1", "memory": "1Gi"})
    warmed = tgictl("cache", "warm", "-f", path, "--poll", "0.5")  # returns once the Job controller marks it succeeded
    assert warmed == {"release": "demo", "pvc": "demo-cache", "warm": True, "last_log_line": done}
    assert ns.get("jobs")["items"] == []  # the warm release is gone with its Job
    claim = ns.get("pvc", "demo-cache")
    assert claim["status"]["phase"] == "Bound", claim["metadata"]

    tgictl("deploy", "-f", path, "--no-smoke")  # helm adopts the claim the warm release left for it
    assert ns.get("pvc", "demo-cache")["metadata"]["uid"] == claim["metadata"]["uid"]
    manifest = subprocess.run([toolchain.find("helm"), "get", "manifest", "demo", "-n", ns.name], capture_output=True, text=True,
                              env={**os.environ, "KUBECONFIG": str(ns.kubeconfig)}, check=True).stdout
    assert "kind: PersistentVolumeClaim" in manifest and "name: demo-cache" in manifest  # the release's own now
