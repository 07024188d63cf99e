"""API keys end to end: which routes each engine guards (the simulator checked
against the real llama-server), the chart wiring the key to the engine, the
helm tests and, where /metrics is guarded, the ServiceMonitor; and smoke
sending it by URL. The key read from the release's Secret by deploy, smoke and
bench runs on the real control plane: tests/e2e/test_api_keys_cluster.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from support.data import document
from support.llama import llama_server
from support.servers import TGICTL, simulator

KEY = "sk-test-5a1t"
runner = CliRunner()
PATHS = ["/health", "/metrics", "/v1/models", "/v1/completions"]


def guarded_paths(url: str) -> set[str]:
    """The paths that refuse a request without the key (401) but not with it."""
    found = set()
    for path in PATHS:
        call = requests.post if path == "/v1/completions" else requests.get
        kwargs: dict[str, Any] = {"json": {"prompt": "hi", "max_tokens": 2}} if path == "/v1/completions" else {}
        without = call(url + path, timeout=10, **kwargs).status_code
        with_key = call(url + path, timeout=10, headers={"Authorization": f"Bearer {KEY}"}, **kwargs).status_code
        assert with_key == 200, (path, with_key)
        if without == 401:
            found.add(path)
    return found


def test_the_simulator_guards_what_the_real_llama_server_guards(tmp_path: Path) -> None:
    with llama_server(tmp_path, "--api-key", KEY) as url:
        real = guarded_paths(url)
    with simulator("--engine", "llamacpp", "--api-key", KEY) as url:
        simulated = guarded_paths(url)
    assert real == simulated == {"/metrics", "/v1/models", "/v1/completions"}


@pytest.mark.parametrize(("engine", "guarded"), [("tgi", {"/v1/completions"}), ("vllm", {"/v1/models", "/v1/completions"})])
def test_tgi_and_vllm_leave_probes_and_metrics_open(engine: str, guarded: set[str]) -> None:
    with simulator("--engine", engine, "--api-key", KEY) as url:
        assert guarded_paths(url) == guarded


def test_smoke_sends_the_key_from_the_environment(tmp_path: Path) -> None:
    with llama_server(tmp_path, "--api-key", KEY) as url:
        without = subprocess.run([TGICTL, "smoke", url, "-o", "json"], capture_output=True, text=True, timeout=120)
        keyed = subprocess.run([TGICTL, "smoke", url, "-o", "json"], capture_output=True, text=True, timeout=120,
                               env={**os.environ, "TGICTL_API_KEY": KEY})
    assert without.returncode == 1 and "HTTP 401" in without.stdout
    assert keyed.returncode == 0, keyed.stdout + keyed.stderr
    assert KEY not in without.stdout + without.stderr + keyed.stdout + keyed.stderr


def rendered(engine: str, include_tests: bool = False) -> dict[str, dict[str, Any]]:
    from tgictl.adapters import helm
    from tgictl.render import manifests
    from tgictl.render.values import chart_values
    from tgictl.spec.load import parse

    model = {"id": "/models/m.gguf"} if engine == "llamacpp" else {"id": "meta-llama/Llama-3.1-8B-Instruct"}
    spec = parse(document(engine={"name": engine}, model=model, hardware={"accelerator": {"type": "l4", "count": 1}},
                          serving={"apiKeySecret": {"name": "llm-keys", "key": "api-key"}}, monitoring={"enabled": True}))
    values = chart_values(spec)
    values["tests"] = {"smoke": {"enabled": include_tests}}
    objects = manifests.split(helm.template(values, release="demo", namespace="llm", include_tests=include_tests))
    manifests.validate(objects)
    return {f"{o.kind}/{o.obj['metadata']['name']}": o.obj for o in objects}


@pytest.mark.parametrize(("engine", "variable", "scrape_needs_key"),
                         [("tgi", "API_KEY", False), ("vllm", "VLLM_API_KEY", False), ("llamacpp", "LLAMA_API_KEY", True)])
def test_the_chart_wires_the_key_from_its_secret(engine: str, variable: str, scrape_needs_key: bool) -> None:
    from tgictl.engines import REGISTRY

    assert REGISTRY[engine].facts.api_key_env == variable  # the registry and the chart partial agree
    objects = rendered(engine)
    container = objects["Deployment/demo"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": "llm-keys", "key": "api-key"}
    endpoint = objects["ServiceMonitor/demo"]["spec"]["endpoints"][0]
    expected = {"type": "Bearer", "credentials": {"name": "llm-keys", "key": "api-key"}} if scrape_needs_key else None
    assert endpoint.get("authorization") == expected


def test_helm_tests_send_the_key() -> None:
    objects = rendered("tgi", include_tests=True)
    generate = objects["Pod/demo-test-generate"]["spec"]["containers"][0]
    assert "Authorization: Bearer $(API_KEY)" in generate["command"]
    assert generate["env"] == [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "llm-keys", "key": "api-key"}}}]
    smoke = objects["Pod/demo-test-smoke"]["spec"]["containers"][0]
    assert smoke["env"][0]["name"] == "TGICTL_API_KEY"
