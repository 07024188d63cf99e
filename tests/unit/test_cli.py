"""Every command: its help, a success and a failure, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from support.data import BASE, FIXTURES, SPECS
from tgictl.cli.main import app

runner = CliRunner()
COMMANDS = ["version", "install-tools", "init", "validate", "schema", "plan", "render", "migrate", "sim", "smoke", "bench", "metrics",
            "top",
            "demo", "doctor", "deploy", "diff", "status", "logs", "rollback", "delete"]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def write_spec(tmp_path: Path, doc: object) -> str:
    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_root_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout


@pytest.mark.parametrize("words", [["-h"], ["render", "-h"], ["rollout", "status", "-h"]])
def test_dash_h_is_help_as_in_kubectl_and_helm(words: list[str]) -> None:
    result = invoke(*words)
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ")


def test_render_takes_a_namespace_and_schema_an_output_format(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, BASE)
    objects = list(yaml.safe_load_all(invoke("render", "-f", spec, "-n", "llm").stdout))
    assert {o["metadata"].get("namespace") for o in objects if o} == {"llm"}
    as_yaml = invoke("schema", "-o", "yaml")
    assert as_yaml.exit_code == 0 and yaml.safe_load(as_yaml.stdout) == json.loads(invoke("schema").stdout)


def test_plan_of_a_spec_names_the_file_not_spec(tmp_path: Path) -> None:
    doc = {**BASE, "spec": {**BASE["spec"], "model": {"id": "org/m", "files": str(tmp_path / "nope")}}}
    result = invoke("plan", "-f", write_spec(tmp_path, doc))
    said = f"{tmp_path / 'tgi.yaml'}: spec.model.files: {tmp_path / 'nope'}: no such directory (or .gguf file)\n"
    assert result.exit_code == 2 and result.stderr == said


def test_bench_against_a_server_that_is_not_there_says_so_and_sends_nothing() -> None:
    """It once sent for the whole duration and blamed the client's CPU for 15,743 connection errors."""
    result = invoke("bench", "http://127.0.0.1:9", "--duration", "30")
    assert result.exit_code == 1
    assert result.stderr == "error: cannot reach http://127.0.0.1:9: connection refused: is the server up? Nothing was sent\n"


def test_init_writes_a_valid_spec_and_never_overwrites_an_edit(tmp_path: Path) -> None:
    target = tmp_path / "tgi.yaml"
    assert invoke("init", "-f", str(target)).exit_code == 0
    assert invoke("validate", "-f", str(target)).exit_code == 0
    assert invoke("init", "-f", str(target)).exit_code == 0  # still the starter: nothing to lose
    target.write_text(target.read_text().replace("name: ", "name: x", 1))  # the user's edit
    again = invoke("init", "-f", str(target))
    assert again.exit_code == 2
    assert "was changed since tgictl wrote it: not replacing it (pass --force to overwrite)" in again.stderr
    assert invoke("init", "-f", str(target), "--force").exit_code == 0


def test_init_refuses_a_file_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "tgi.yaml").write_text("mine: true\n")
    refused = invoke("init", "-f", str(tmp_path / "tgi.yaml"))
    assert refused.exit_code == 2
    assert "exists and was not written by tgictl" in refused.stderr
    assert (tmp_path / "tgi.yaml").read_text() == "mine: true\n"


def test_validate_json(tmp_path: Path) -> None:
    result = invoke("validate", "-f", write_spec(tmp_path, BASE), "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["engine"] == "tgi"


def test_validate_failure_is_one_line_per_problem(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["serving"] = {"maxInputTokens": 9000, "maxTotalTokens": 4096}
    doc["spec"]["hardwre"] = {}
    path = write_spec(tmp_path, doc)
    result = invoke("validate", "-f", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: spec.hardwre: unknown field")
    # Schema problems come first; engine rules run once the types are right.
    del doc["spec"]["hardwre"]
    result = invoke("validate", "-f", write_spec(tmp_path, doc))
    assert result.exit_code == 2
    assert "spec.serving.maxInputTokens: 9000 must be less than maxTotalTokens (4096)" in result.stderr
    assert "Traceback" not in result.output


def test_validate_missing_file() -> None:
    result = invoke("validate", "-f", "/nonexistent/tgi.yaml")
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_schema_is_json_schema_of_the_spec() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["properties"]["apiVersion"]["const"] == "tgictl.dev/v1alpha1"
    assert "additionalProperties" in json.dumps(schema)


OBJECT_FILES = ["deployment-llama-8b.yaml", "persistentvolumeclaim-llama-8b-cache.yaml", "poddisruptionbudget-llama-8b.yaml",
                "service-llama-8b.yaml", "serviceaccount-llama-8b.yaml"]


def test_render_to_stdout_and_directory(tmp_path: Path) -> None:
    spec = str(SPECS / "a100-8b.yaml")
    streamed = invoke("render", "-f", spec)
    assert streamed.exit_code == 0
    assert invoke("render", "-f", spec, "-d", "-").stdout == streamed.stdout  # "-" is stdout, not a directory
    assert streamed.stdout.count("\nkind: ") + streamed.stdout.startswith("kind") >= 4
    out = tmp_path / "out"
    written = invoke("render", "-f", spec, "--out-dir", str(out))
    assert written.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([".tgictl-files.json", *OBJECT_FILES])
    joined = "".join(f"---\n{(out / n).read_text()}" for n in OBJECT_FILES)
    assert sorted(joined.split("---\n")) == sorted(streamed.stdout.split("---\n"))


def test_render_keeps_files_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "keep").mkdir(parents=True)
    (out / "keep" / "important.yaml").write_text("kind: Mine\n")
    assert invoke("render", "-f", str(SPECS / "a100-8b.yaml"), "-d", str(out)).exit_code == 0
    assert invoke("render", "-f", str(SPECS / "tiny-cpu.yaml"), "-d", str(out)).exit_code == 0
    # The second render's objects replace the first's (which it recorded); the user's file stays.
    assert (out / "keep" / "important.yaml").read_text() == "kind: Mine\n"
    assert not (out / "deployment-llama-8b.yaml").exists()
    assert (out / "deployment-tiny-cpu.yaml").is_file()


def test_render_refuses_to_overwrite_an_unrecorded_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "service-llama-8b.yaml").write_text("# my own service\n")
    refused = invoke("render", "-f", str(SPECS / "a100-8b.yaml"), "-d", str(out))
    assert refused.exit_code == 2
    assert "service-llama-8b.yaml exists and was not written by tgictl" in refused.stderr
    assert sorted(p.name for p in out.iterdir()) == ["service-llama-8b.yaml"]  # nothing written
    forced = invoke("render", "-f", str(SPECS / "a100-8b.yaml"), "-d", str(out), "--force")
    assert forced.exit_code == 0
    assert "kind: Service" in (out / "service-llama-8b.yaml").read_text()


def test_render_refuses_to_replace_an_edited_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("render", "-f", str(SPECS / "a100-8b.yaml"), "-d", str(out)).exit_code == 0
    edited = out / "service-llama-8b.yaml"
    edited.write_text(edited.read_text() + "# a note of mine\n")
    refused = invoke("render", "-f", str(SPECS / "tiny-cpu.yaml"), "-d", str(out))  # would remove the edited file
    assert refused.exit_code == 2
    assert "service-llama-8b.yaml was changed since tgictl wrote it" in refused.stderr
    assert edited.read_text().endswith("# a note of mine\n")
    assert not (out / "deployment-tiny-cpu.yaml").exists()


def test_render_values_format(tmp_path: Path) -> None:
    result = invoke("render", "-f", str(SPECS / "tiny-cpu.yaml"), "--format", "values")
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["engine"]["name"] == "tgi"


def test_render_failure_writes_nothing(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["hardware"] = {"tolerations": [{"keyy": "gpu"}]}
    out = tmp_path / "out"
    result = invoke("render", "-f", write_spec(tmp_path, doc), "-d", str(out))
    assert result.exit_code == 2
    assert "tolerations.0" in result.stderr
    assert not out.exists()


def test_render_unknown_format() -> None:
    result = invoke("render", "-f", str(SPECS / "tiny-cpu.yaml"), "--format", "kustomise")
    assert result.exit_code == 2
    assert "kustomise" in result.output


def test_demo_runs_the_whole_workflow(tmp_path: Path) -> None:
    result = invoke("demo", "--dir", str(tmp_path / "demo"), "-o", "json")
    assert result.exit_code == 0
    steps = json.loads(result.stdout)
    assert [s["step"] for s in steps[:6]] == ["init", "validate", "plan", "render values", "render manifests", "simulator"]
    assert [s["step"] for s in steps[6:]] == [f"smoke: {name}" for name in
                                              ("health", "limits", "generate", "compat", "stream", "chat", "token-limit", "metrics", "slo")]
    assert all(s["ok"] for s in steps)
    assert next(s for s in steps if s["step"] == "smoke: limits")["detail"].startswith("pass")
    assert (tmp_path / "demo" / "manifests" / "deployment-smollm2.yaml").exists()


def test_demo_failure_exit_code(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = invoke("demo", "--dir", str(blocker))
    assert result.exit_code != 0
    assert "Traceback" not in result.output


MODELS = FIXTURES / "models"


def test_plan_table_and_json() -> None:
    table = invoke("plan", str(MODELS / "llama-3.1-8b"), "--gpu", "a10g")
    assert table.exit_code == 0
    assert "max batch total tokens" in table.stdout and "1x a10g" in table.stdout
    result = invoke("plan", str(MODELS / "mixtral-8x7b"), "--gpu", "a100-80gb", "-o", "json")
    data = json.loads(result.stdout)
    assert (data["count"], data["fits"], data["family"]) == (2, True, "mixtral")


def test_plan_takes_the_engine_release_and_launcher_limits() -> None:
    """The cases of bench/planner.py, as a user would plan them: the TGI release picks the
    warm-up rule's wiggle room, the launcher's limits size the warm-up prefill, and the JSON
    names each term of the per-device budget."""
    args = ("plan", str(MODELS / "llama-2-7b"), "--gpu", "a10g", "--max-input-tokens", "4095", "--max-total-tokens", "4096",
            "--max-batch-prefill-tokens", "4096", "-o", "json")
    old, new = (json.loads(invoke(*args, "--engine-version", v).stdout) for v in ("0.9.4", "3.3.5"))
    assert (old["engine"], old["engine_version"], new["engine_version"]) == ("tgi", "0.9.4", "3.3.5")
    # 0.9.4 keeps all free memory; 3.3.5 reserves 1 - fraction x TGI_WIGGLE_ROOM (0.90) of the device.
    assert (old["budget"]["wiggle_room"], old["budget"]["memory_fraction"]) == (1.0, 1.0)
    assert (new["budget"]["wiggle_room"], new["budget"]["memory_fraction"]) == (1.0, 0.9)
    assert old["max_batch_prefill_tokens"] == 4096 and old["max_total_tokens"] == 4096
    assert set(old["budget"]) >= {"device_bytes", "weights_bytes", "overhead_bytes", "activation_bytes", "kv_budget_bytes"}
    vllm = json.loads(invoke("plan", str(MODELS / "llama-2-7b"), "--gpu", "a10g", "--engine", "vllm", "-o", "json").stdout)
    assert (vllm["engine"], vllm["engine_version"], vllm["budget"]["memory_fraction"]) == ("vllm", "0.32.0", 0.9)
    bad = invoke("plan", str(MODELS / "gpt2"), "--engine", "trt")
    assert bad.exit_code == 2 and "unknown --engine 'trt'" in bad.stderr


def test_plan_exit_code_3_when_nothing_fits() -> None:
    result = invoke("plan", str(MODELS / "llama-3.1-70b"), "--gpu", "l4", "--count", "2")
    assert result.exit_code == 3
    assert "NO: " in result.stdout


def test_plan_usage_errors() -> None:
    assert invoke("plan").exit_code == 2
    bad_gpu = invoke("plan", str(MODELS / "gpt2"), "--gpu", "v100")
    assert bad_gpu.exit_code == 2 and "unknown --gpu 'v100'" in bad_gpu.stderr
    missing = invoke("plan", "org/not-cached")
    assert missing.exit_code == 2 and "not in a local Hugging Face cache" in missing.stderr


def test_plan_from_spec(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["model"]["files"] = str(MODELS / "qwen2.5-7b")
    doc["spec"]["hardware"] = {"accelerator": {"type": "l4", "count": 1}}
    result = invoke("plan", "-f", write_spec(tmp_path, doc), "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accelerator"] == "l4"


@pytest.mark.parametrize("sub", ["explain", "adapter-values"])
def test_autoscale_subcommand_help(sub: str) -> None:
    result = invoke("autoscale", sub, "--help")
    assert result.exit_code == 0 and "Usage: " in result.stdout


def test_render_away_from_the_repository_checks_core_kinds_and_names_the_rest(tmp_path: Path) -> None:
    # An installed tgictl has Kubernetes' schemas (packaged) but no CRD directory.
    import os
    import subprocess

    from support.servers import TGICTL

    spec = str(SPECS / "autoscaled-vllm-gateway.yaml")
    away = subprocess.run([TGICTL, "render", "-f", spec], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TGICTL_CRDS_DIR": str(tmp_path / "no-crds")})
    assert away.returncode == 0, away.stderr
    assert away.stderr.startswith("note: not schema-checked, no CRDs at hand")
    assert "ServiceMonitor (monitoring.coreos.com/v1)" in away.stderr and "Deployment" not in away.stderr
    here = subprocess.run([TGICTL, "render", "-f", spec], capture_output=True, text=True, timeout=60)
    assert here.stdout == away.stdout and here.stderr == ""


def test_render_without_a_chart_is_one_clear_line(tmp_path: Path) -> None:
    import os
    import subprocess

    from support.servers import TGICTL

    result = subprocess.run([TGICTL, "render", "-f", str(SPECS / "a100-8b.yaml")], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TGICTL_CHART": str(tmp_path / "missing")})
    assert result.returncode == 1
    assert result.stderr == (f"error: no chart at {tmp_path / 'missing'}: TGICTL_CHART must name a chart directory or a "
                             "`helm package` .tgz\n")


def test_version_flag_and_command() -> None:
    from tgictl.version import tgictl_version

    assert invoke("--version").stdout == f"tgictl {tgictl_version()}\n"
    found = yaml.safe_load(invoke("version", "-o", "yaml").stdout)
    assert set(found) == {"tgictl", "chart", "chart_path", "helm", "kubectl", "engine_images"}
    assert found["chart"] == yaml.safe_load((Path(found["chart_path"]) / "Chart.yaml").read_text())["version"]
    assert set(found["engine_images"]) == {"tgi", "vllm", "llamacpp"}


UNREACHABLE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


@pytest.mark.parametrize("kubeconfig", ["unreachable", "missing"])
def test_diff_errors_exit_2_like_kubectl_diff(tmp_path: Path, kubeconfig: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """--kubeconfig is honoured (not $KUBECONFIG), and an error is never exit 1, which means "changes"."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "never-read"))
    config = tmp_path / "kubeconfig"
    if kubeconfig == "unreachable":
        config.write_text(UNREACHABLE_KUBECONFIG)
    result = invoke("diff", "-f", write_spec(tmp_path, BASE), "--kubeconfig", str(config))
    assert result.exit_code == 2, result.output
    expected = ("cannot reach the API server at https://127.0.0.1:9" if kubeconfig == "unreachable" else
                f"error: no kubeconfig: looked in {config} (missing); pass --kubeconfig FILE or set KUBECONFIG")
    assert expected in result.output and len(result.output.strip().splitlines()) == 1


def test_migrate_write_refuses_a_file_it_did_not_write(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, BASE)
    target = tmp_path / "llamacpp.yaml"
    target.write_text("mine\n")
    gguf = ("--model", "org/m-GGUF")
    refused = invoke("migrate", "-f", spec, "--to", "llamacpp", *gguf, "--write", str(target))
    assert refused.exit_code == 2 and f"{target} exists and was not written by tgictl" in refused.output
    assert target.read_text() == "mine\n"
    assert invoke("migrate", "-f", spec, "--to", "llamacpp", *gguf, "--write", str(target), "--force").exit_code == 0
    assert yaml.safe_load(target.read_text())["spec"]["engine"]["name"] == "llamacpp"


def test_bench_refuses_before_sending_any_load(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("{}")
    result = invoke("bench", "http://127.0.0.1:9", "--json", str(report), "--requests", "1")
    assert result.exit_code == 2 and "not written by tgictl" in result.output
    assert "127.0.0.1:9" not in result.output  # refused before any request was tried
    assert report.read_text() == "{}"


def test_demo_keeps_a_file_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "tgi.yaml").write_text("mine\n")
    result = invoke("demo", "--dir", str(tmp_path))
    assert result.exit_code == 2 and "tgi.yaml exists and was not written by tgictl" in result.output
    assert (tmp_path / "tgi.yaml").read_text() == "mine\n" and not (tmp_path / "manifests").exists()


def test_validate_refuses_what_the_models_own_files_rule_out(tmp_path: Path) -> None:
    """Llama-3.1-8B's config.json (tests/fixtures/models) holds 131072 positions: 300000 is refused by
    validate, as render would, before a GPU node scales up; an accelerator count its heads cannot split too."""
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["model"] = {"id": "meta-llama/Llama-3.1-8B-Instruct", "files": str(FIXTURES / "models" / "llama-3.1-8b")}
    doc["spec"]["serving"] = {"maxTotalTokens": 300000}
    doc["spec"]["hardware"] = {"accelerator": {"type": "a10g", "count": 1}}
    refused = invoke("validate", "-f", write_spec(tmp_path, doc))
    assert refused.exit_code == 2
    first = refused.stderr.splitlines()[0]
    assert first.endswith("spec.serving.maxTotalTokens: 300000 is beyond the model's context (131072 tokens)"), refused.stderr
    doc["spec"]["serving"] = {"maxTotalTokens": 8192}
    doc["spec"]["hardware"] = {"accelerator": {"type": "a100-80gb", "count": 3}}
    uneven = invoke("validate", "-f", write_spec(tmp_path, doc))
    assert uneven.exit_code == 2 and "3 shards cannot split 32 attention heads and 8 KV heads evenly" in uneven.stderr
    doc["spec"]["hardware"] = {"accelerator": {"type": "a100-80gb", "count": 1}}
    assert invoke("validate", "-f", write_spec(tmp_path, doc)).exit_code == 0


def test_plan_refuses_options_a_spec_would_silently_override(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["model"] = {"id": "meta-llama/Llama-3.1-8B-Instruct", "files": str(MODELS / "llama-3.1-8b")}
    doc["spec"]["hardware"] = {"accelerator": {"type": "a10g", "count": 1}}
    refused = invoke("plan", "-f", write_spec(tmp_path, doc), "--gpu", "h100-80gb", "--engine", "vllm")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == ("error: with --file the spec decides; these options plan a MODEL and would be ignored: --gpu "
                                      "(spec.hardware.accelerator.type), --engine (spec.engine.name); edit those spec fields instead")


@pytest.mark.parametrize("option", [["--count", "-1"], ["--count", "0"], ["--max-total-tokens", "-5"], ["--max-input-tokens", "0"]])
def test_plan_numbers_out_of_range_are_refused(option: list[str]) -> None:
    refused = invoke("plan", str(MODELS / "llama-3.1-8b"), "--gpu", "h100-80gb", *option)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert f"Invalid value for '{option[0]}'" in refused.output
