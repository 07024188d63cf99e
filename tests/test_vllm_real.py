"""Real vLLM (0.32.0, CPU build) started from the chart's own rendered container:
probed as the kubelet probes it, then smoke-tested and benched, with and
without an API key. Substitutions, and only these: `vllm serve MODEL` runs as
`python -m vllm.entrypoints.openai.api_server --model MODEL` (the CPU
distribution's console script cannot find itself), the model id is a local
tiny model, and the server listens on loopback at a free port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import document
from servers import free_port
from tgictl.loadgen.client import Timeouts
from tgictl.loadgen.runner import Job, Profile, bench
from tgictl.loadgen.stats import SLOTargets
from tgictl.loadgen.workload import Length, synthetic
from tgictl.render import manifests
from tgictl.smoke.checks import Expectations
from tgictl.smoke.runner import run_smoke
from tgictl.spec.load import parse
from vllm import vllm_env, vllm_python, write_tiny_model

KEY = "sk-real-vllm"
CONTEXT = 1024
# vLLM's own CPU image (docs.vllm.ai, "CPU" installation): the default image is CUDA-only.
CPU_IMAGE = {"repository": "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo", "tag": "v0.32.0"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("vllm-model") / "tiny-llama")


def rendered_container(model: Path, keyed: bool) -> dict[str, Any]:
    serving: dict[str, Any] = {"maxTotalTokens": CONTEXT, "maxBatchPrefillTokens": CONTEXT}
    if keyed:
        serving["apiKeySecret"] = {"name": "llm-keys", "key": "api-key"}
    doc = document(engine={"name": "vllm"}, model={"id": str(model)}, image=CPU_IMAGE,
                   hardware={"cpu": "2", "memory": "4Gi"}, serving=serving)
    objects = manifests.render(parse(doc))
    deployment = next(o.obj for o in objects if o.kind == "Deployment")
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


@dataclass
class Started:
    url: str
    container: dict[str, Any]
    became_ready_s: float
    log: Path


def _kubelet_probe(url: str, probe: dict[str, Any]) -> bool:
    """One HTTP probe as the kubelet sends it: GET, no headers of ours, the probe's timeout;
    success is a status from 200 to 399 (pkg/probe/http/http.go)."""
    try:
        status = requests.get(url + probe["httpGet"]["path"], timeout=probe.get("timeoutSeconds", 1), allow_redirects=False).status_code
    except requests.RequestException:
        return False
    return 200 <= status < 400


def _args_outside_kubernetes(container: dict[str, Any], model: Path, port: int) -> list[str]:
    assert container["command"] == ["vllm", "serve"]
    args = list(container["args"])
    assert args[0] == str(model)  # the positional model `vllm serve` takes
    args = ["--model", *args]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    return args


@pytest.fixture(scope="module", params=[False, True], ids=["no-key", "api-key"])
def started(request: pytest.FixtureRequest, model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    import subprocess

    keyed: bool = request.param
    container = rendered_container(model, keyed)
    port = free_port()
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    if keyed:
        secret = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
        assert secret["valueFrom"]["secretKeyRef"] == {"name": "llm-keys", "key": "api-key"}
        env["VLLM_API_KEY"] = KEY  # what the kubelet would read from the Secret
    log = tmp_path_factory.mktemp("vllm-log") / "vllm.log"
    with log.open("w") as out:
        process = subprocess.Popen([vllm_python(), "-m", "vllm.entrypoints.openai.api_server",
                                    *_args_outside_kubernetes(container, model, port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=vllm_env(env))
    url = f"http://127.0.0.1:{port}"
    startup, readiness = container["startupProbe"], container["readinessProbe"]
    began = time.monotonic()
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    try:
        while not _kubelet_probe(url, startup):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() - began < min(budget, 600), "the startup probe never passed:\n" + log.read_text()[-3000:]
            time.sleep(1)
        ready_after = time.monotonic() - began
        assert _kubelet_probe(url, readiness), "ready for the startup probe but not the readiness probe"
        yield Started(url, container, ready_after, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _headers(started: Started) -> dict[str, str]:
    keyed = any(e["name"] == "VLLM_API_KEY" for e in started.container.get("env", []))
    return {"Authorization": f"Bearer {KEY}"} if keyed else {}


def test_probes_pass_only_once_the_engine_serves(started: Started) -> None:
    """Ready means it serves: a completion right after the probes passed succeeds."""
    assert started.container["readinessProbe"]["httpGet"]["path"] == "/health"
    done = requests.post(started.url + "/v1/completions", headers=_headers(started), timeout=60,
                         json={"model": started.container["args"][0], "prompt": "Hello", "max_tokens": 4})
    assert done.status_code == 200, done.text
    log = started.log.read_text()
    assert "Application startup complete" in log and "KV cache size" in log


def test_keyed_server_guards_the_api_but_not_the_probe(started: Started) -> None:
    if not _headers(started):
        pytest.skip("no key")
    assert requests.get(started.url + "/v1/models", timeout=10).status_code == 401  # why the old probe never passed
    assert requests.get(started.url + "/health", timeout=10).status_code == 200
    assert requests.get(started.url + "/v1/models", headers=_headers(started), timeout=10).status_code == 200


def test_smoke_passes_on_real_vllm(started: Started) -> None:
    expect = Expectations(max_total_tokens=CONTEXT, model_id=started.container["args"][0])
    report = asyncio.run(run_smoke(started.url, expect, headers=_headers(started)))
    assert report.engine == "vllm"
    assert report.passed, [c for c in report.checks if c.status == "fail"]
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["token-limit"] == "pass" and statuses["metrics"] == "pass"


def test_bench_on_real_vllm(started: Started) -> None:
    items = synthetic(16, Length.parse("fixed:16"), Length.parse("fixed:8"), seed=0)
    job = Job(started.url, "completions", items, Profile("concurrency", 1.0, 2), 30.0, 8, started.container["args"][0],
              Timeouts(read=60, total=300), 0, headers=_headers(started))
    result = bench(job, SLOTargets(None, None, None), 1, None)
    assert result["succeeded"] == 8 and result["failed"] == 0, result["errors"]
    assert result["token_source"] == {"server": 8} and result["ttft_ms"]["p50"] > 0
