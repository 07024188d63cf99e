"""The installed wheel is the product: built from a clean sdist, installed into a
fresh virtualenv, used from an empty directory, it must run every command a new
user starts with, without a traceback and without reaching into the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from support.data import ROOT
from support.servers import free_port

CHECKOUT = ROOT
FORMATS = ("values", "manifests", "kustomize", "argocd", "flux")


@dataclass(frozen=True)
class Installed:
    tgictl: str
    venv: Path
    env: dict[str, str]

    def run(self, *args: str, cwd: Path, ok: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.tgictl, *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout)
        said = done.stdout + done.stderr
        assert "Traceback" not in said, f"tgictl {' '.join(args)}:\n{said}"
        assert str(CHECKOUT) not in said, f"tgictl {' '.join(args)} reached into the checkout:\n{said}"
        if ok:
            assert done.returncode == 0, f"tgictl {' '.join(args)} exited {done.returncode}:\n{said}"
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`python -m build` (the sdist, then the wheel from that sdist), then a fresh venv with only the wheel."""
    root = tmp_path_factory.mktemp("install")
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(CHECKOUT)],
                   check=True, capture_output=True, timeout=600)
    assert len(list(dist.glob("*.tar.gz"))) == 1
    wheel = next(dist.glob("*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=900)
    env = {key: value for key, value in os.environ.items()
           if key not in {"TGICTL_CHART", "PYTHONPATH", "VIRTUAL_ENV", "TGICTL_HELM", "TGICTL_KUBECTL"}}
    env["TGICTL_TOOLS_DIR"] = str(root / "tools")  # a new user's tools: installed by tgictl itself, below
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    return Installed(str(venv / "bin" / "tgictl"), venv, env)


@pytest.fixture()
def empty(tmp_path: Path) -> Path:
    directory = tmp_path / "empty"
    directory.mkdir()
    return directory


@pytest.fixture()
def tools(installed: Installed, empty: Path) -> None:
    installed.run("install-tools", cwd=empty)


def test_version_names_the_packaged_chart(installed: Installed, empty: Path, tools: None) -> None:
    assert installed.run("--version", cwd=empty).stdout.strip() == "tgictl 0.1.0"
    found = json.loads(installed.run("version", "-o", "json", cwd=empty).stdout)
    assert Path(found["chart_path"]).is_relative_to(installed.venv)
    assert found["chart"] == "0.1.0" and found["helm"].startswith("v4.") and found["kubectl"].startswith("v1.35.")


def test_init_validate_and_render_every_format(installed: Installed, empty: Path, tools: None) -> None:
    installed.run("init", cwd=empty)
    assert json.loads(installed.run("validate", "-o", "json", cwd=empty).stdout)["valid"] is True
    for form in FORMATS:
        printed = installed.run("render", "-f", "tgi.yaml", "-o", form, cwd=empty).stdout
        assert "smollm2" in printed, form
        installed.run("render", "-f", "tgi.yaml", "-o", form, "-d", f"out-{form}", cwd=empty)
        written = {p.name for p in (empty / f"out-{form}").rglob("*") if p.is_file()}
        assert ".tgictl-files.json" in written and len(written) > 1, form
    assert (empty / "out-kustomize" / "kustomization.yaml").exists()


def test_demo_then_plan_the_shipped_model(installed: Installed, empty: Path, tools: None) -> None:
    steps = json.loads(installed.run("demo", "-o", "json", cwd=empty).stdout)
    assert steps and all(step["ok"] for step in steps), steps
    model = empty / "tgictl-demo" / "demo-model"
    assert (model / "config.json").exists()
    by_model = json.loads(installed.run("plan", str(model), "--gpu", "cpu", "--memory", "4Gi", "-o", "json", cwd=empty).stdout)
    assert by_model["fits"] is True and 100e6 < by_model["parameters"] < 200e6
    by_spec = json.loads(installed.run("plan", "-f", "tgictl-demo/tgi.yaml", "-o", "json", cwd=empty).stdout)
    assert by_spec["parameters"] == by_model["parameters"]


@pytest.fixture()
def simulator(installed: Installed, empty: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([installed.tgictl, "sim", "--port", str(port)], cwd=empty, env=installed.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/health", timeout=1)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline and process.poll() is None, "tgictl sim did not come up"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        assert "Traceback" not in stderr, stderr


def test_sim_and_smoke(installed: Installed, empty: Path, simulator: str) -> None:
    report = json.loads(installed.run("smoke", simulator, "-o", "json", cwd=empty).stdout)
    assert report["checks"] and all(check["status"] != "fail" for check in report["checks"]), report


def test_errors_are_one_line_without_a_traceback(installed: Installed, empty: Path) -> None:
    done = installed.run("validate", "-f", "missing.yaml", cwd=empty, ok=False)
    assert done.returncode == 2 and "missing.yaml" in done.stderr
    (empty / "tgi.yaml").write_text("mine\n")
    refused = installed.run("init", cwd=empty, ok=False)
    assert refused.returncode == 2 and "not written by tgictl" in refused.stderr
    assert (empty / "tgi.yaml").read_text() == "mine\n"
