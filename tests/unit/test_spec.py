"""Spec validation: strict types, unknown keys, path-qualified messages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.data import BASE, document
from tgictl.errors import SpecError
from tgictl.spec.load import load_file, load_text, parse


def problems_of(doc: object) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(doc)
    return [str(p) for p in caught.value.problems]


def test_minimal_spec_gets_defaults() -> None:
    spec = parse(BASE)
    assert spec.spec.engine.name == "tgi"
    assert spec.spec.hardware.accelerator.type == "cpu"
    assert spec.spec.usage_stats == "off"
    assert spec.spec.replicas == 1


def test_unknown_field_names_path_and_allowed_keys() -> None:
    [problem] = problems_of(document(model={"id": "x", "revison": "main"}))
    assert problem.startswith("spec.model.revison: unknown field; allowed: ")
    assert "revision" in problem and "trustRemoteCode" in problem


def test_wrong_type_is_not_coerced() -> None:
    [problem] = problems_of(document(serving={"maxTotalTokens": "4096"}))
    assert problem == "spec.serving.maxTotalTokens: must be an int, got str '4096'"


def test_enum_lists_allowed_values() -> None:
    [problem] = problems_of(document(serving={"quantize": "int4"}))
    assert problem.startswith("spec.serving.quantize: got 'int4'; allowed: 'awq'")


def test_list_index_in_path() -> None:
    [problem] = problems_of(document(serving={"cudaGraphs": [1, "two"]}))
    assert problem.startswith("spec.serving.cudaGraphs[1]: must be an int")


def test_every_problem_reported_at_once() -> None:
    doc = document(replicas=-1, serving={"maxBatchSize": 0})
    doc["metadata"]["name"] = "Not_A_Label"
    found = problems_of(doc)
    assert [p.split(":")[0] for p in found] == ["metadata.name", "spec.serving.maxBatchSize", "spec.replicas"]


def test_unknown_accelerator_lists_catalog() -> None:
    [problem] = problems_of(document(hardware={"accelerator": {"type": "v100", "count": 1}}))
    assert "unknown accelerator 'v100'" in problem and "h100-80gb" in problem


def test_accelerator_alias_resolves() -> None:
    spec = parse(document(hardware={"accelerator": {"type": "H100", "count": 2}}))
    assert spec.spec.hardware.accelerator.type == "h100-80gb"


def test_gpu_type_needs_a_count() -> None:
    [problem] = problems_of(document(hardware={"accelerator": {"type": "l4"}}))
    assert problem == "spec.hardware.accelerator: count must be at least 1 for a l4 accelerator"


def test_credential_env_must_come_from_a_secret() -> None:
    [problem] = problems_of(document(extraEnv=[{"name": "HF_TOKEN", "value": "hf_secret_value"}]))
    assert problem.startswith("spec.extraEnv[0].name: HF_TOKEN carries a credential")
    assert "hf_secret_value" not in problem


def test_latest_tag_refused() -> None:
    [problem] = problems_of(document(image={"tag": "latest"}))
    assert "not a pinned release" in problem


def test_cache_sources_exclude_each_other() -> None:
    [problem] = problems_of(document(cache={"ephemeral": True, "existingClaim": "weights"}))
    assert problem == "spec.cache: ephemeral and existingClaim exclude each other"


def test_rollout_must_progress() -> None:
    [problem] = problems_of(document(rollout={"maxSurge": 0, "maxUnavailable": 0}))
    assert "could never progress" in problem


def test_wrong_api_version_and_kind() -> None:
    doc = dict(BASE, apiVersion="v1", kind="Pod")
    found = problems_of(doc)
    assert found[0].startswith("apiVersion: got 'v1'; allowed: 'tgictl.dev/v1alpha1'")
    assert found[1].startswith("kind: got 'Pod'")


def test_not_a_mapping() -> None:
    assert problems_of(["a", "list"]) == ["the spec must be a YAML mapping with apiVersion, kind, metadata and spec"]


def test_yaml_syntax_error_names_line() -> None:
    with pytest.raises(SpecError) as caught:
        load_text("apiVersion: x\nkind: [unclosed\n", "bad.yaml")
    assert str(caught.value).startswith("bad.yaml: not valid YAML: line 3")


def test_unknown_engine() -> None:
    [problem] = problems_of(document(engine={"name": "sglang"}))
    assert problem == "spec.engine.name: unknown engine 'sglang'; allowed: tgi, vllm, llamacpp"


# No deadline: the first example imports the kubernetes client, which on a loaded machine takes
# longer than Hypothesis's 200 ms; what is checked is the value, not the time.
@settings(deadline=None)
@given(number=st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
       suffix=st.sampled_from(["", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "e3", "E-2"]))
def test_quantities_read_as_kubernetes_reads_them(number: Decimal, suffix: str) -> None:
    from kubernetes.utils import parse_quantity as kubernetes_parse_quantity

    from tgictl.spec.quantity import parse_quantity

    text = f"{number}{suffix}"
    assert parse_quantity(text) == kubernetes_parse_quantity(text), text


def test_milli_quantities_are_fractions() -> None:
    from tgictl.model.memory import quantity_bytes
    from tgictl.spec.quantity import parse_quantity

    assert parse_quantity("500m") == Decimal("0.5") and quantity_bytes("4Gi") == 4 * 1024**3
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity("4 GiB")


def test_a_spec_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "tgi.yaml"
    path.write_bytes(b"apiVersion: tgictl.dev/v1alpha1\nmetadata: {name: d\xff}\n")
    with pytest.raises(SpecError) as caught:
        load_file(path)
    assert str(caught.value) == f"{path}: not UTF-8 text (byte 0xff at offset 50); save it as UTF-8"


@pytest.mark.parametrize(("text", "problem"), [
    # PyYAML keeps the last of two keys: the release was named after the second metadata.
    ("apiVersion: tgictl.dev/v1alpha1\nmetadata: {name: a}\nmetadata: {name: b}\n",
     "line 3: 'metadata' is given twice (first on line 2): YAML keeps only the last; remove one"),
    ("spec:\n  hardware:\n    memory: 4Gi\n    memory: 8Gi\n",
     "line 4: 'memory' is given twice (first on line 3): YAML keeps only the last; remove one"),
    ("apiVersion: tgictl.dev/v1alpha1\n---\nkind: InferenceDeployment\n",
     "line 2, column 1: a second YAML document: one spec per file (give a directory for several)"),
])
def test_yaml_that_would_be_read_otherwise_than_written_is_refused(text: str, problem: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_text(text, "tgi.yaml")
    assert str(caught.value) == f"tgi.yaml: {problem}"


@pytest.mark.parametrize(("field", "value", "means"), [
    (("hardware", "memory"), "32 gigs", "a Kubernetes quantity such as 32Gi, 500M or 1.5"),
    (("model", "url"), "ftp://x/m.gguf", "an http:// or https:// URL"),
])
def test_a_value_missing_its_pattern_says_what_is_meant_not_the_regex(field: tuple[str, str], value: str, means: str) -> None:
    doc = document(engine={"name": "llamacpp"}, model={"id": "x"}) if field[0] == "model" else document()
    doc["spec"].setdefault(field[0], {})[field[1]] = value
    with pytest.raises(SpecError) as caught:
        parse(doc)
    assert f"spec.{'.'.join(field)}: must be {means}, got {value!r}" in [str(p) for p in caught.value.problems]
