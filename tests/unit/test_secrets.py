"""Secrets never reach output: not in renders, values, files, or error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from support.data import BASE
from tgictl.cli.main import app

SENTINEL = "hf_SENTINELtokenVALUE0123456789"
runner = CliRunner()


def spec_file(tmp_path: Path, **spec: object) -> str:
    doc = json.loads(json.dumps(BASE))
    doc["spec"].update(spec)
    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_token_in_environment_never_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    spec = spec_file(tmp_path, cache={"hfTokenSecret": {"name": "hf-token", "key": "token"}})
    outputs = []
    for args in (["render", "-f", spec], ["render", "-f", spec, "--format", "values"],
                 ["render", "-f", spec, "--include-tests", "-d", str(tmp_path / "out")],
                 ["validate", "-f", spec, "-o", "json"], ["demo", "--dir", str(tmp_path / "demo")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    files = [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert files and outputs
    assert all(SENTINEL not in text for text in outputs + files)
    rendered = runner.invoke(app, ["render", "-f", spec]).stdout
    assert "secretKeyRef" in rendered and "name: hf-token" in rendered


@pytest.mark.parametrize(
    "spec",
    [
        {"extraEnv": [{"name": "HF_TOKEN", "value": SENTINEL}]},
        {"extraEnv": [{"name": "HUGGING_FACE_HUB_TOKEN", "value": SENTINEL}]},
        {"extraArgs": [f"--api-key={SENTINEL}"]},
        {"extraArgs": ["--hf-token", SENTINEL]},
    ],
    ids=["HF_TOKEN", "legacy-env", "api-key-flag", "hf-token-flag"],
)
def test_literal_credentials_refused_without_echo(tmp_path: Path, spec: dict[str, object]) -> None:
    result = runner.invoke(app, ["render", "-f", spec_file(tmp_path, **spec)])
    assert result.exit_code == 2
    assert "credential" in result.stderr
    assert SENTINEL not in result.output
