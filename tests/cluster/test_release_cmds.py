"""Commands on an installed release against the fake API server and the
recording fake helm: status, history, rollback, delete, diff, logs (and
--follow), cache warm, and --namespace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from support.data import document
from support.cluster_fixtures import PREVIOUS, helm_calls, spec_file
from support.fake_kube import Cluster, Step, pod
from tgictl.cli.main import app

runner = CliRunner()


def test_status_rollback_delete(cluster: Cluster, helm_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"])]
    cluster.nodes = [{"kind": "Node", "metadata": {"name": "gpu-node-1", "labels": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}}}]
    path = spec_file(tmp_path)
    assert runner.invoke(app, ["status", "-f", path]).stderr == "error: demo is not installed in llm\n"  # FAKE_HELM_HISTORY=missing
    monkeypatch.setenv("FAKE_HELM_HISTORY", PREVIOUS)
    status = runner.invoke(app, ["status", "-f", path, "-o", "json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert (data["revision"], data["status"], data["phase"]) == (3, "deployed", "ready")
    assert data["pods"] == [{"pod": "demo-7d9f-abcde", "phase": "Running", "ready": True, "restarts": 0, "node": "gpu-node-1",
                             "gpu": "NVIDIA-A100-SXM4-80GB"}]
    table = runner.invoke(app, ["status", "-f", path]).stdout.splitlines()
    assert table[1].split() == ["POD", "PHASE", "READY", "RESTARTS", "NODE", "GPU"]
    assert table[2].split() == ["demo-7d9f-abcde", "Running", "True", "0", "gpu-node-1", "NVIDIA-A100-SXM4-80GB"]
    monkeypatch.setenv("FAKE_HELM_HISTORY", "missing")
    assert runner.invoke(app, ["history", "-f", path]).exit_code == 2  # not installed
    none = runner.invoke(app, ["rollback", "-f", path])
    assert none.exit_code == 2 and "no earlier revision" in none.stderr
    monkeypatch.setenv("FAKE_HELM_HISTORY", PREVIOUS)
    listed = runner.invoke(app, ["history", "-f", path])
    revisions = [line.split()[:2] for line in listed.stdout.splitlines()[1:]]
    assert listed.exit_code == 0 and revisions == [["1", "superseded"], ["2", "deployed"]]
    rolled = runner.invoke(app, ["rollback", "-f", path, "-o", "json"])
    assert rolled.exit_code == 0 and json.loads(rolled.stdout) == {"release": "demo", "namespace": "llm", "rolled_back_to": 1}
    deleted = runner.invoke(app, ["delete", "-f", path, "-o", "json"])
    assert deleted.exit_code == 0
    assert json.loads(deleted.stdout) == {"release": "demo", "namespace": "llm", "uninstalled": True, "kept_pvc": "demo-cache"}
    assert runner.invoke(app, ["delete", "-f", spec_file(tmp_path, cache={"ephemeral": True})]).stdout == "demo uninstalled\n"
    calls = [c["args"] for c in helm_calls(helm_log) if c["args"][0] in ("rollback", "uninstall")]
    assert [c[:3] for c in calls] == [["rollback", "demo", "1"], ["uninstall", "demo", "--namespace"], ["uninstall", "demo", "--namespace"]]
    assert "--wait" in calls[1]  # delete returns once the objects are gone


def test_diff_shows_new_and_changed_objects(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    from tgictl.render import service
    from tgictl.spec.load import load_file

    path = spec_file(tmp_path)
    rendered = {o["kind"]: o for o in yaml.safe_load_all(service.render(load_file(path), "manifests").stream) if o}
    live_deployment = json.loads(json.dumps(rendered["Deployment"]))
    live_deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/huggingface/text-generation-inference:3.3.4"
    live_deployment["status"] = {"readyReplicas": 1}  # live-only fields are not differences
    cluster.objects = {
        "/apis/apps/v1/namespaces/llm/deployments/demo": live_deployment,
        "/api/v1/namespaces/llm/services/demo": rendered["Service"],
    }
    result = runner.invoke(app, ["diff", "-f", path, "-o", "json"])
    assert result.exit_code == 1, result.output
    changes = {c["kind"]: c for c in json.loads(result.stdout)}
    assert changes["Service"]["status"] == "unchanged"
    assert changes["PersistentVolumeClaim"]["status"] == "new"
    assert changes["Deployment"]["status"] == "changed"
    assert changes["Deployment"]["fields"] == [
        "spec.template.spec.containers[0].image: 'ghcr.io/huggingface/text-generation-inference:3.3.4' → "
        "'ghcr.io/huggingface/text-generation-inference:3.3.5'"]


def test_logs_prints_each_pod(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Warming up model", "Connected"])]
    result = runner.invoke(app, ["logs", "-f", spec_file(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["[demo-7d9f-abcde] Warming up model", "[demo-7d9f-abcde] Connected"]
    as_json = runner.invoke(app, ["logs", "-f", spec_file(tmp_path), "-o", "json"])
    assert json.loads(as_json.stdout) == [{"pod": "demo-7d9f-abcde", "lines": ["Warming up model", "Connected"]}]


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


def test_a_json_log_line_is_a_line(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    """TGI's --json-output (serving.jsonLogs) writes one JSON object per line; a log of one such
    line is itself valid JSON, and was parsed into a dict and dropped."""
    line = ('{"timestamp":"2024-03-06T17:53:31.149443Z","level":"ERROR","fields":{"message":"Shard 0 failed to start"},'
            '"target":"text_generation_launcher"}')
    cluster.steps = [Step(pod(running=True), [], [line])]
    result = runner.invoke(app, ["logs", "-f", spec_file(tmp_path), "-o", "json"])
    assert json.loads(result.stdout) == [{"pod": "demo-7d9f-abcde", "lines": [line]}]


def test_logs_follow_streams_every_pod(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    other = pod(running=True, ready=True, name="demo-7d9f-zzzzz")
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Warming up model", "Connected"], others=[other])]
    result = runner.invoke(app, ["logs", "-f", spec_file(tmp_path), "--follow", "-o", "json"])
    assert result.exit_code == 0, result.output
    lines = sorted((e["pod"], e["line"]) for e in map(json.loads, result.stdout.splitlines()))
    assert lines == sorted((p, line) for p in ("demo-7d9f-abcde", "demo-7d9f-zzzzz") for line in ("Warming up model", "Connected"))
    assert any("follow=true" in r for r in cluster.requests)


def test_cache_warm_runs_the_job_and_removes_its_release(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    job = "/apis/batch/v1/namespaces/llm/jobs/demo-cache-warm"
    cluster.objects = {job: [{"status": {"active": 1}}, {"status": {"active": 1}}, {"status": {"succeeded": 1}}]}
    download = pod(running=True)
    download["metadata"]["labels"] = {"job-name": "demo-cache-warm"}
    download["status"]["containerStatuses"][0]["name"] = "download"
    cluster.steps = [Step(download, [], ["Fetching 4 files:  25%"]),
                     Step(download, [], ["Fetching 4 files: 100%", "cache warm: done /data/hub/x"])]
    result = runner.invoke(app, ["cache", "warm", "-f", spec_file(tmp_path, cache={"hfTokenSecret": {"name": "hf"}}), "--poll", "0.01",
                                 "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"release": "demo", "pvc": "demo-cache", "warm": True,
                                         "last_log_line": "cache warm: done /data/hub/x"}
    assert "Fetching 4 files:  25%" in result.stderr  # progress goes to stderr, the result to stdout
    calls = helm_calls(helm_log)
    install = next(c for c in calls if c["args"][0] == "upgrade")
    assert install["args"][2] == "demo-cache-warm"
    assert install["values"]["cacheWarm"] == {"only": True, "image": "ghcr.io/tgictl/tgictl:0.1.0", "revision": "",
                                              "files": ["*.json", "*.safetensors", "*.model", "*.txt", "tokenizer*"],
                                              "adoptingRelease": "demo"}
    assert calls[-1]["args"][:2] == ["uninstall", "demo-cache-warm"]


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


def test_namespace_option_overrides_the_spec(cluster: Cluster, helm_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_HISTORY", PREVIOUS)  # installed
    cluster.steps = [Step(pod(running=True, ready=True), [], ["Connected"])]
    result = runner.invoke(app, ["status", "-f", spec_file(tmp_path), "-n", "other", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["namespace"] == "other"
    assert any(r.startswith("GET /api/v1/namespaces/other/pods") for r in cluster.requests)
