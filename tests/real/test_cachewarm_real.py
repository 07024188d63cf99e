"""`tgictl cache warm` for real, minus the cluster: the Job's own script (as the
chart renders it) downloads with huggingface_hub from a fake Hub into a
directory standing for the cache PVC; then the real llama-server, started
with the args the chart renders for the same model offline, serves from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from support.data import document
from support.fake_hub import Hub, fake_hub
from support.llama import llama_server
from support.tiny_model import write_tiny_llama

MODEL = {"id": "tgictl/tiny-GGUF", "ggufFile": "tiny-llama.gguf"}


def rendered(spec: dict[str, Any], **values: Any) -> dict[str, dict[str, Any]]:
    """The chart's objects for a spec (with extra chart values), by kind."""
    from tgictl.adapters import helm
    from tgictl.render import manifests
    from tgictl.render.values import chart_values
    from tgictl.spec.load import parse

    objects = manifests.split(helm.template(chart_values(parse(spec)) | values, release="tiny", namespace="default"))
    return {o.kind: o.obj for o in objects}


def test_warmed_cache_is_served_offline_by_the_real_llama_server(tmp_path: Path) -> None:
    from tgictl.lifecycle.cachewarm import check_warmable
    from tgictl.spec.load import parse

    weights = write_tiny_llama(tmp_path / "tiny-llama.gguf").read_bytes()
    hub = Hub({"tgictl/tiny-GGUF": {"tiny-llama.gguf": weights, "tiny-llama-Q8_0.gguf": b"another quantization", "README.md": b"# tiny\n"}})
    warm_spec = document(engine={"name": "llamacpp"}, model=MODEL)
    files = check_warmable(parse(warm_spec))
    job = rendered(warm_spec, cacheWarm={"only": True, "image": "img:1", "revision": "", "files": files, "adoptingRelease": "tiny"})
    container = job["Job"]["spec"]["template"]["spec"]["containers"][0]
    mount = container["volumeMounts"][0]["mountPath"]
    pvc = tmp_path / "pvc"
    # Paths inside the pod map onto the PVC directory here.
    env = {e["name"]: e["value"].replace(mount, str(pvc)) for e in container["env"] if "value" in e}
    assert container["command"][0] == "python"  # run here with this interpreter, which has huggingface_hub
    with fake_hub(hub) as endpoint:
        done = subprocess.run([sys.executable, *container["command"][1:]], capture_output=True, text=True,
                              timeout=120, env={**os.environ, **env, "HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_TELEMETRY": "1"})
    assert done.returncode == 0, done.stderr
    assert "cache warm: done" in done.stdout
    assert hub.downloads == ["tgictl/tiny-GGUF/tiny-llama.gguf"]  # one quantization, not the repo

    serve_spec = document(engine={"name": "llamacpp"}, model=MODEL, cache={"offline": True})
    server = rendered(serve_spec)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    server_env = {e["name"]: e["value"].replace(mount, str(pvc)) for e in server["env"] if "value" in e}
    assert "--offline" in server["args"]
    address = ("--host", "--port")  # the test picks its own
    args = [a for a, previous in zip(server["args"], ["", *server["args"]]) if a not in address and previous not in address]
    with llama_server(tmp_path, args=[*args, "--threads", "1"], env={"LLAMA_CACHE": server_env["LLAMA_CACHE"]}) as url:
        answer = requests.post(f"{url}/v1/completions", json={"prompt": "hello", "max_tokens": 4}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["usage"]["completion_tokens"] == 4
