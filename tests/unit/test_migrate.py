"""`tgictl migrate`: the equivalent spec per engine and an honest report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from support.data import SPECS
from tgictl.cli.main import app
from tgictl.errors import SpecError
from tgictl.migrate import migrate, spec_from_tgi
from tgictl.spec.load import load_file, parse

runner = CliRunner()


def statuses(rows: list) -> dict[str, str]:
    return {r.field: r.status for r in rows}


@pytest.mark.parametrize("target", ["vllm", "llamacpp", "tgi"])
def test_every_tgi_golden_spec_migrates_to_a_valid_spec(target: str) -> None:
    for spec_file in sorted(SPECS.glob("*.yaml")):
        spec = load_file(spec_file)
        if spec.spec.engine.name != "tgi":
            continue
        if target == "vllm" and spec.spec.hardware.accelerator.type == "cpu":
            with pytest.raises(SpecError, match="cannot migrate to vllm: the vLLM default image is CUDA-only"):
                migrate(spec, target)
            continue
        if target == "llamacpp":  # a safetensors model: llama.cpp needs its GGUF named
            with pytest.raises(SpecError, match="cannot migrate to llamacpp: llama.cpp loads GGUF files"):
                migrate(spec, target)
        result = migrate(spec, target, model={"id": "org/model-GGUF"} if target == "llamacpp" else None)
        migrated = parse(result.spec)  # the new spec validates for its engine
        assert migrated.spec.engine.name == target
        set_fields = {r.field for r in result.rows}
        assert "model.id" in set_fields


def test_vllm_report_names_what_moved_and_what_did_not() -> None:
    result = migrate(load_file(SPECS / "a100-8b.yaml"), "vllm")
    found = statuses(result.rows)
    assert found["serving.maxInputTokens"] == "not mapped"
    assert found["serving.maxConcurrentRequests"] == "approximate"  # 503 where TGI answers 429
    assert found["serving.maxBatchPrefillTokens"] == "approximate"
    assert found["serving.maxTotalTokens"] == "exact"
    assert found["features.prefixCaching"] == "exact"
    assert result.spec["spec"]["serving"] == {"maxTotalTokens": 8192, "maxBatchPrefillTokens": 8192, "maxConcurrentRequests": 256}
    assert list(result.spec["spec"])[:2] == ["model", "engine"]


def test_custom_tgi_image_is_not_carried_over() -> None:
    result = migrate(load_file(SPECS / "custom-image-args.yaml"), "vllm")
    assert statuses(result.rows)["image"] == "changed"
    assert "image" not in result.spec["spec"]


def test_tgi_args_and_env_blocks_read_back() -> None:
    spec, rows = spec_from_tgi("--model-id org/m --max-total-tokens=4096 --max-input-tokens 4000 --trust-remote-code "
                               "--cuda-graphs 1,2,4 --num-shard 2 --api-key SECRETVALUE --foo bar", "m")
    s = spec.spec
    assert (s.model.id, s.serving.max_total_tokens, s.model.trust_remote_code, s.serving.cuda_graphs) == ("org/m", 4096, True, [1, 2, 4])
    assert s.hardware.accelerator.count == 2
    found = statuses(rows)
    assert found["--api-key"] == "not mapped" and found["--foo"] == "not mapped"
    assert all("SECRETVALUE" not in r.note for r in rows)
    env_spec, env_rows = spec_from_tgi("MODEL_ID=org/m\nMAX_TOTAL_TOKENS=2048\nHF_TOKEN=hf_abc\nOTHER=1\n", "m")
    assert env_spec.spec.serving.max_total_tokens == 2048
    assert statuses(env_rows)["env HF_TOKEN"] == "not mapped"
    listed, _ = spec_from_tgi('["--model-id", "org/m", "--max-batch-size", "8"]', "m")
    assert listed.spec.serving.max_batch_size == 8


def test_cli_writes_spec_and_json(tmp_path: Path) -> None:
    out = tmp_path / "vllm.yaml"
    result = runner.invoke(app, ["migrate", "-f", str(SPECS / "h100-70b-sharded.yaml"), "--to", "vllm", "-w", str(out)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["spec"]["engine"] == {"name": "vllm"}
    assert "not mapped" in result.stdout
    assert runner.invoke(app, ["render", "-f", str(out)]).exit_code == 0
    to_gguf = ["migrate", "-f", str(SPECS / "tiny-cpu.yaml"), "--to", "llamacpp", "-o", "json"]
    data = json.loads(runner.invoke(app, [*to_gguf, "--model", "bartowski/SmolLM2-135M-Instruct-GGUF",
                                          "--gguf-file", "SmolLM2-135M-Instruct-Q4_K_M.gguf"]).stdout)
    assert data["spec"]["spec"]["engine"]["name"] == "llamacpp"
    assert data["spec"]["spec"]["model"] == {"id": "bartowski/SmolLM2-135M-Instruct-GGUF", "ggufFile": "SmolLM2-135M-Instruct-Q4_K_M.gguf"}
    changed = [r for r in data["report"] if r["field"].startswith("model.")]
    assert changed == [{"field": "model.ggufFile", "status": "changed",
                        "note": "unset -> SmolLM2-135M-Instruct-Q4_K_M.gguf (given for llamacpp)"},
                       {"field": "model.id", "status": "changed",
                        "note": "HuggingFaceTB/SmolLM2-135M-Instruct -> bartowski/SmolLM2-135M-Instruct-GGUF (given for llamacpp)"}]
    # The safetensors model itself cannot move: llama.cpp would fail to load it (it once migrated, and rendered).
    refused = runner.invoke(app, to_gguf)
    assert refused.exit_code == 2 and refused.stderr.strip() == (
        f"{SPECS / 'tiny-cpu.yaml'}: spec.model.id: cannot migrate to llamacpp: llama.cpp loads GGUF files: "
        "'HuggingFaceTB/SmolLM2-135M-Instruct' does not look like a GGUF repo; name its file in model.ggufFile, "
        "or point model.id at a GGUF repo (…-GGUF) or a .gguf path; "
        "give the model it loads with --model (and --gguf-file)")


def test_cli_errors() -> None:
    assert runner.invoke(app, ["migrate", "--to", "vllm"]).exit_code == 2
    bad = runner.invoke(app, ["migrate", "-f", str(SPECS / "tiny-cpu.yaml"), "--to", "sglang"])
    assert bad.exit_code == 2 and "unknown engine 'sglang'" in bad.stderr
