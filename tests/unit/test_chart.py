"""The chart on its own: lint, values schema, and Kubernetes schema validation of renders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from support.data import ROOT, SPECS, document
from tgictl.adapters import helm
from tgictl.errors import ToolFailedError, ValidationFailedError
from tgictl.render import manifests, schemas
from tgictl.render.values import chart_values
from tgictl.spec.load import load_file, parse

TGICTL = str(Path(sys.executable).parent / "tgictl")
CHART = ROOT / "charts" / "tgi"
VALUES_SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def test_helm_lint_strict_is_clean() -> None:
    out = helm.lint()
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out


def test_chart_defaults_match_values_schema() -> None:
    jsonschema.Draft7Validator(VALUES_SCHEMA).validate(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.mark.parametrize("spec_file", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_tgictl_values_match_values_schema(spec_file: Any) -> None:
    jsonschema.Draft7Validator(VALUES_SCHEMA).validate(chart_values(load_file(spec_file)))


def test_every_leaf_value_is_documented() -> None:
    """Each `key: value` line in values.yaml follows a `# --` comment (or its continuation)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or stripped.endswith(":"):
            continue  # comments, list items and parent mappings
        comments = []
        for previous in reversed(lines[:index]):
            if not previous.strip().startswith("#"):
                break
            comments.append(previous.strip())
        if not any(c.startswith("# --") for c in comments):
            undocumented.append(stripped.split(":")[0])
    assert undocumented == []


def test_schema_rejects_unknown_values_in_helm() -> None:
    with pytest.raises(ToolFailedError, match="additional properties 'replicas' not allowed"):
        helm.template({"replicas": 3}, release="x", namespace="default")


def test_schema_rejects_literal_token_env_in_helm() -> None:
    with pytest.raises(ToolFailedError, match="HF_TOKEN"):
        helm.template({"engine": {"env": {"HF_TOKEN": "x"}}}, release="x", namespace="default")


def test_selectors_carry_no_chart_version() -> None:
    objects = manifests.render(parse(document()))
    deployment = next(o.obj for o in objects if o.kind == "Deployment")
    assert set(deployment["spec"]["selector"]["matchLabels"]) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}


def test_helm_test_hook_sends_a_real_generate() -> None:
    objects = manifests.render(parse(document()), include_tests=True)
    [test_pod] = [o.obj for o in objects if o.kind == "Pod"]
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    command = test_pod["spec"]["containers"][0]["command"]
    assert command[-1] == "http://demo:80/generate"
    assert json.loads(command[-2]) == {"inputs": "Hello", "parameters": {"max_new_tokens": 4}}


def test_kubernetes_schema_catches_bad_free_form_fields() -> None:
    doc = document(hardware={"tolerations": [{"key": "gpu", "operater": "Exists"}]})
    with pytest.raises(ValidationFailedError) as caught:
        manifests.render(parse(doc))
    assert "Deployment/demo: spec.template.spec.tolerations.0" in str(caught.value)
    assert "operater" in str(caught.value)


def test_crd_objects_validate_against_shared_crds() -> None:
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": "x"}, "spec": {"selector": {}, "endpoints": [{"port": "http", "interval": 15}]},
    }
    [problem] = schemas.problems(monitor)
    assert problem.startswith("spec.endpoints.0.interval: 15 is not of type 'string'")


def test_unknown_kind_has_no_schema() -> None:
    [problem] = schemas.problems({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert problem.startswith("no schema for Widget example.com/v1")


def test_chart_dashboards_are_copies_of_the_source() -> None:
    source = sorted((CHART.parents[1] / "dashboards").glob("*.json"))
    copies = sorted((CHART / "files" / "dashboards").glob("*.json"))
    assert [p.name for p in source] == [p.name for p in copies], "run scripts/sync-dashboards.sh"
    for original, copy in zip(source, copies):
        assert original.read_bytes() == copy.read_bytes(), f"{copy.name} differs: run scripts/sync-dashboards.sh"


def test_dashboards_use_a_datasource_variable_and_stable_uids() -> None:
    for path in sorted((CHART.parents[1] / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        assert board["uid"].startswith("tgictl-")
        assert board["templating"]["list"][0]["type"] == "datasource"
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}"
            assert all("llm:" in t["expr"] or "up{" in t["expr"] for t in panel["targets"])


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    from support.monitoring import rule_groups

    alerts = [r for g in rule_groups("tgi") for r in g["rules"] if "alert" in r]
    assert len(alerts) == 7
    runbooks = (CHART.parents[1] / "docs" / "runbooks.md").read_text()
    for alert in alerts:
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"])
        assert f"## {alert['alert']}" in runbooks
        assert alert["annotations"]["runbook_url"].endswith("#" + alert["alert"].lower())


def test_chart_readme_is_generated_from_values() -> None:
    """charts/tgi/README.md is what scripts/chart-readme.py makes of values.yaml: regenerate with --write."""
    script = ROOT / "scripts" / "chart-readme.py"
    generated = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    assert generated == (CHART / "README.md").read_text()
    assert "| `probes.startup.failureThreshold` | int |" in generated


def test_chart_declares_the_kubernetes_it_needs() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == ">=1.30.0-0"  # preStop sleep action
    assert chart["maintainers"] and chart["sources"]
    rendered = helm.template({"preStopSleepSeconds": 10}, release="r", namespace="n")
    assert "sleep:" in rendered


def test_packaged_chart_renders_the_same(tmp_path: Path) -> None:
    archive = helm.package(tmp_path)
    assert archive.name == "tgi-0.1.0.tgz" and archive.is_file()
    spec = str(SPECS / "llamacpp-cpu-gguf.yaml")
    render = [TGICTL, "render", "-f", spec, "-o", "manifests"]
    from_dir = subprocess.run(render, capture_output=True, text=True, check=True).stdout
    from_archive = subprocess.run(render, capture_output=True, text=True, check=True,
                                  env={**os.environ, "TGICTL_CHART": str(archive)}).stdout
    assert from_archive == from_dir and "kind: Deployment" in from_dir
    version = subprocess.run([TGICTL, "version", "-o", "json"], capture_output=True,
                             text=True, check=True, env={**os.environ, "TGICTL_CHART": str(archive)}).stdout
    assert json.loads(version)["chart"] == "0.1.0"


@pytest.mark.parametrize("key_secret", ["", "llm-key"])
def test_notes_curl_sends_the_api_key_when_one_is_set(key_secret: str) -> None:
    from tgictl.adapters import toolchain

    notes = subprocess.run([toolchain.find("helm"), "install", "r", str(CHART), "--dry-run=client", "--set", "engine.name=vllm",
                            "--set", f"apiKeySecret.name={key_secret}"], capture_output=True, text=True, check=True).stdout
    curl = next(line for line in notes.splitlines() if line.strip().startswith("curl "))
    if key_secret:
        assert "get secret llm-key -o jsonpath='{.data.api-key}'" in notes
        assert '-H "Authorization: Bearer $API_KEY"' in curl
    else:
        assert "Authorization" not in notes
