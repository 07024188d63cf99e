"""`tgictl doctor` against the fake API server: a ready cluster passes; each
missing piece (GPUs, product labels, storage, CRDs, Secrets, quota, RBAC)
fails or warns with a one-line fix; an unreachable cluster is one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from support.cluster_fixtures import spec_file
from support.fake_kube import Cluster
from tgictl.cli.main import app

runner = CliRunner()


def test_unreachable_cluster_is_one_clear_line(helm_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "x",
                                          "clusters": [{"name": "x", "cluster": {"server": "http://127.0.0.1:9"}}],
                                          "users": [{"name": "x", "user": {}}],
                                          "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
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
    cluster.quotas = [{"metadata": {"name": "gpus"}, "status": {"hard": {"requests.nvidia.com/gpu": "2"},
                                                                "used": {"requests.nvidia.com/gpu": "2"}}}]
    path = spec_file(tmp_path, monitoring={"enabled": True}, cache={"hfTokenSecret": {"name": "hf-token"}, "storageClassName": "fast"},
                     image={"pullSecrets": ["registry-creds"]})
    result = runner.invoke(app, ["doctor", "-f", path, "-o", "json"])
    assert result.exit_code == 1
    failed = {c["name"]: c for c in json.loads(result.stdout) if c["status"] == "fail"}
    assert set(failed) == {"gpu product", "storage", "crd servicemonitors.monitoring.coreos.com",
                           "crd prometheusrules.monitoring.coreos.com", "secret hf-token", "secret registry-creds", "quota"}
    assert "create secret docker-registry registry-creds" in failed["secret registry-creds"]["fix"]
    assert all(c["fix"] for c in failed.values())
    assert "kubectl -n llm create secret generic hf-token" in failed["secret hf-token"]["fix"]


def test_doctor_names_missing_permissions(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.nodes = [gpu_node(8)]
    cluster.forbidden = {"events", "pods/portforward"}
    result = runner.invoke(app, ["doctor", "-f", spec_file(tmp_path, cache={"ephemeral": True}), "-o", "json"])
    permissions = next(c for c in json.loads(result.stdout) if c["name"] == "permissions")
    assert permissions["status"] == "warn" and result.exit_code == 0  # deploy degrades without these, it still works
    assert permissions["fix"] == "ask for a Role in llm granting: list, watch events; get, create pods/portforward"
    cluster.forbidden = {"deployments"}
    denied = runner.invoke(app, ["doctor", "-f", spec_file(tmp_path, cache={"ephemeral": True}), "-o", "json"])
    assert denied.exit_code == 1
    assert "cannot get, create, patch, delete, list, watch deployments (helm applies the release's deployments)" in denied.stdout


def test_doctor_checks_port_forward_by_the_servers_version(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    """A WebSocket port-forward is a GET (get pods/portforward); 1.35 also checks create."""
    cluster.nodes = [gpu_node(8)]
    cluster.forbidden = {"create pods/portforward"}
    spec = spec_file(tmp_path, cache={"ephemeral": True})
    on_135 = next(c for c in json.loads(runner.invoke(app, ["doctor", "-f", spec, "-o", "json"]).stdout) if c["name"] == "permissions")
    assert on_135["status"] == "warn" and on_135["fix"].endswith("granting: create pods/portforward")
    cluster.minor = 34
    on_134 = next(c for c in json.loads(runner.invoke(app, ["doctor", "-f", spec, "-o", "json"]).stdout) if c["name"] == "permissions")
    assert on_134["status"] == "pass"


def test_a_namespace_scoped_user_gets_warnings_not_unreachable(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    """Nodes, storage classes and CRDs are cluster-scoped: a namespace's Role cannot grant them."""
    cluster.forbidden = {"nodes", "storageclasses", "customresourcedefinitions"}
    result = runner.invoke(app, ["doctor", "-f", spec_file(tmp_path, monitoring={"enabled": True}), "-o", "json"])
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    for name in ("accelerators", "storage", "crds"):
        assert checks[name]["status"] == "warn", checks[name]
        assert "RBAC denies it" in checks[name]["detail"] and "unreachable" not in checks[name]["fix"]
    assert 'cannot list resource "nodes"' in checks["accelerators"]["detail"]


def test_a_spec_cannot_ask_tgis_image_to_run_as_non_root(tmp_path: Path) -> None:
    refused = runner.invoke(app, ["render", "-f", spec_file(tmp_path, security={"runAsNonRoot": True})])
    assert refused.exit_code == 2
    assert "spec.security.runAsNonRoot: TGI's image cannot start as non-root" in refused.output
    own_image = spec_file(tmp_path, security={"runAsNonRoot": True, "runAsUser": 65532, "readOnlyRootFilesystem": True},
                          image={"repository": "ghcr.io/tgictl/tgictl", "tag": "0.1.0"})
    rendered = yaml.safe_load_all(runner.invoke(app, ["render", "-f", own_image]).stdout)
    pod = next(d for d in rendered if d and d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
