"""Release commands where the fake is still needed or no cluster is: a pod whose container is
still waiting to start (kwok starts every container), and the cache-warm Job's render and
refusals. Status, history, rollback, delete, diff, logs (and --follow), cache warm and -n run
on the real control plane: tests/e2e/test_control_plane.py, test_release_cmds_cluster.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from support.data import document
from support.cluster_fixtures import spec_file
from support.fake_kube import Cluster, Step, pod
from tgictl.cli.main import app

runner = CliRunner()


def test_one_pod_without_a_log_does_not_hide_the_others(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    """A kubelet answers 400 for a container still waiting to start; the other pods' logs
    still print, and the waiting one says why it has none."""
    pulling = pod(waiting="ContainerCreating", name="demo-7d9f-pulls")
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"], others=[pulling])]
    result = runner.invoke(app, ["logs", "-f", spec_file(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["[demo-7d9f-abcde] Connected"]
    assert 'note: [demo-7d9f-pulls] no log: read the log of demo-7d9f-pulls: the API server answered 400 Bad Request: ' \
           'container "server" in pod "demo-7d9f-pulls" is waiting to start: ContainerCreating' in result.stderr
    as_json = json.loads(runner.invoke(app, ["logs", "-f", spec_file(tmp_path), "-o", "json"]).stdout)
    assert [sorted(entry) for entry in as_json] == [["lines", "pod"], ["error", "lines", "pod"]]
    cluster.steps = [Step(pulling)]
    assert runner.invoke(app, ["logs", "-f", spec_file(tmp_path)]).exit_code == 1  # no pod has a log to show


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
    ("vllm", {"id": "meta-llama/Llama-3.1-8B-Instruct"}, "/home/vllm/.cache/huggingface/hub",
     ["*.json", "*.safetensors", "*.model", "*.txt", "tokenizer*"]),
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


