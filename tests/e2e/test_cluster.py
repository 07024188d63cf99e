"""End to end on a real cluster: deploy the simulator image with the chart,
wait for ready, smoke and bench it through a port-forward, delete it, and
check nothing is left. Skipped unless $KUBECONFIG names a reachable cluster.
The image comes from $TGICTL_E2E_IMAGE (built from the repository's Dockerfile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tgictl.adapters import toolchain

pytestmark = pytest.mark.e2e


def _cluster_reachable() -> bool:
    if not os.environ.get("KUBECONFIG"):
        return False
    try:
        from tgictl.adapters.kube import Kube

        Kube().version()
        return True
    except Exception:  # any failure means: no usable cluster here
        return False


requires_cluster = pytest.mark.skipif(not _cluster_reachable(), reason="no real cluster: KUBECONFIG unset or unreachable")


@requires_cluster
def test_deploy_smoke_bench_delete(tmp_path: Path) -> None:
    image = os.environ.get("TGICTL_E2E_IMAGE", "ghcr.io/tgictl/tgictl:0.1.0")
    repository, _, tag = image.rpartition(":")
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    namespace = os.environ.get("TGICTL_E2E_NAMESPACE", "default")
    spec = {
        "apiVersion": "tgictl.dev/v1alpha1", "kind": "InferenceDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"model": {"id": "tgictl/sim"}, "image": {"repository": repository, "tag": tag},
                 "hardware": {"cpu": "500m", "memory": "256Mi"}, "serving": {"maxInputTokens": 1000, "maxTotalTokens": 2000},
                 "cache": {"ephemeral": True}, "probes": {"startupBudgetSeconds": 300}},
    }
    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(spec))
    tgictl = [os.path.join(os.path.dirname(sys.executable), "tgictl")]
    try:
        deployed = subprocess.run([*tgictl, "deploy", "-f", str(path), "-o", "json"], capture_output=True, text=True, timeout=600)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert json.loads(deployed.stdout)["smoke"]["passed"]
        smoked = subprocess.run([*tgictl, "smoke", "--release", "-f", str(path), "-o", "json"], capture_output=True, text=True, timeout=120)
        assert smoked.returncode == 0 and json.loads(smoked.stdout)["passed"], smoked.stdout + smoked.stderr
        benched = subprocess.run([*tgictl, "bench", "--release", "-f", str(path), "--duration", "5", "--concurrency", "4",
                                  "--input-len", "fixed:32", "--output-len", "fixed:16", "-o", "json"],
                                 capture_output=True, text=True, timeout=120)
        assert benched.returncode == 0, benched.stdout + benched.stderr
        report = json.loads(benched.stdout)
        assert report["succeeded"] == report["requests"] > 0 and report["ttft_ms"]["p50"] > 0
    finally:
        subprocess.run([*tgictl, "delete", "-f", str(path)], capture_output=True, text=True, timeout=120)
    left = subprocess.run([toolchain.find("kubectl"), "get", "all", "-n", namespace, "-l", f"app.kubernetes.io/instance={name}", "-o",
                           "name"],
                          capture_output=True, text=True, timeout=60).stdout.strip()
    assert left == ""
    assert subprocess.run([toolchain.find("helm"), "status", name, "-n", namespace], capture_output=True, timeout=60).returncode != 0
