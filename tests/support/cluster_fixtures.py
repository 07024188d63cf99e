"""Fixtures for the cluster-facing tests (a pytest plugin, see conftest): a fake API
server on a kubeconfig, a fake helm that records its calls, and a spec for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from support.data import document
from support.fake_kube import Cluster, Step, fake_cluster, pod
from tgictl.adapters import toolchain
from tgictl.cli.main import app

FAKE_HELM = Path(__file__).parent / "fake_helm.py"
PREVIOUS = json.dumps([{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "deployed"}])


def spec_file(tmp_path: Path, **spec: Any) -> str:
    doc = document(hardware={"accelerator": {"type": "a100-80gb", "count": 1}}, **spec)
    doc["metadata"] = {"name": "demo", "namespace": "llm"}
    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def fake_helm_environment(workdir: Path) -> dict[str, str]:
    """The environment that makes tgictl run the recording fake helm (its log in ``workdir``), with no release yet."""
    return {"REAL_HELM": toolchain.find("helm"), "TGICTL_HELM": str(FAKE_HELM), "FAKE_HELM_LOG": str(workdir / "helm.jsonl"),
            "FAKE_HELM_HISTORY": "missing"}


@pytest.fixture
def helm_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in fake_helm_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    return tmp_path / "helm.jsonl"


def helm_calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    state = Cluster()
    with fake_cluster(state, tmp_path) as kubeconfig:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        yield state


# --- deploy against the fake cluster ---------------------------------------------------


def replay(cluster: Cluster, lines: list[str]) -> None:
    """The pod runs while its log grows a line per look; then the readiness probe passes."""
    cluster.steps = [Step(pod(running=True), [], lines[: i + 1]) for i in range(len(lines))]
    cluster.steps.append(Step(pod(running=True, ready=True), [], lines))


def deployed_phases(path: str) -> list[str]:
    """The phases ``tgictl deploy -f path`` went through (it must succeed)."""
    result = CliRunner().invoke(app, ["deploy", "-f", path, "--no-smoke", "--poll", "0.01", "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["phases"]  # type: ignore[no-any-return]


def deploy_failure(path: str) -> str:
    """What ``tgictl deploy -f path`` printed on stderr (it must fail with exit 1)."""
    result = CliRunner().invoke(app, ["deploy", "-f", path, "--no-smoke", "--poll", "0.01"])
    assert result.exit_code == 1, result.output
    return result.stderr
