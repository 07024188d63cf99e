"""Every file tgictl reads, malformed at random, gets clean lines and exit 2, never a traceback:
spec files as bytes, a model's config.json and safetensors headers (through `tgictl plan`), a
bench dataset, a prices file and a kubeconfig. test_fuzz.py fuzzes parsed spec documents; this, the files.

A `num_attention_heads: 0` once ended `plan` in ZeroDivisionError, and a spec that was not
UTF-8 in UnicodeDecodeError."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from support.data import MODELS, document
from tgictl.cli.main import app
from tgictl.cost import load_prices
from tgictl.errors import TgictlError
from tgictl.loadgen.workload import from_jsonl

runner = CliRunner()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CONFIG = json.loads((MODELS / "llama-3.1-8b" / "config.json").read_text())
# Every architecture the fixtures hold (Llama, Gemma, DeepSeek's MLA, Falcon, GPT-2, …), edited.
CONFIGS = [json.loads(path.read_text()) for path in sorted(MODELS.glob("*/config.json"))]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(), st.text(max_size=8),
                    st.sampled_from([0, -1, 1, "bfloat16", "float8", "awq", "LlamaForCausalLM"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=5)
# The keys the planner reads, and any other.
CONFIG_KEYS = sorted({key for config in CONFIGS for key in config}) + [
    "head_dim", "quantization_config", "text_config", "rope_scaling", "sliding_window", "num_experts", "kv_lora_rank",
    "qk_rope_head_dim", "n_head", "n_layer", "n_embd", "multi_query", "layer_types"]
config_edits = st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), json_values), min_size=1, max_size=4)
raw_bytes = st.binary(max_size=300)


def _plan_fails_cleanly(model_dir: Path) -> None:
    """`tgictl plan DIR --gpu h100`: a plan (0, or 3 when it does not fit) or clean error lines (2)."""
    result = runner.invoke(app, ["plan", str(model_dir), "--gpu", "h100", "-o", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2, 3), result.output
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert lines and all(line.strip() and "Traceback" not in line for line in lines), result.stderr


def _model_dir(tmp_path: Path, config: bytes, weights: bytes | None = None) -> Path:
    directory = tmp_path / "model"
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_bytes(config)
    for old in directory.glob("*.safetensors"):
        old.unlink()
    if weights is not None:
        (directory / "model.safetensors").write_bytes(weights)
    return directory


@SETTINGS
@given(st.sampled_from(CONFIGS), config_edits)
def test_an_edited_config_json_plans_or_fails_cleanly(tmp_path: Path, original: dict[str, Any], edits: list[tuple[str, Any]]) -> None:
    config = {**original, **dict(edits)}
    _plan_fails_cleanly(_model_dir(tmp_path, json.dumps(config).encode()))


@SETTINGS
@given(st.one_of(raw_bytes, json_values.map(lambda v: json.dumps(v).encode())))
def test_any_config_json_bytes_fail_cleanly(tmp_path: Path, config: bytes) -> None:
    _plan_fails_cleanly(_model_dir(tmp_path, config))


tensor_infos = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(json_values, st.fixed_dictionaries({"dtype": st.sampled_from(["BF16", "F16", "F32", "I8", "U8", "F8_E4M3", "X"]),
                                                  "shape": st.lists(st.one_of(st.integers(-4, 2**20), json_values), max_size=3),
                                                  "data_offsets": st.lists(st.integers(0, 2**32), max_size=2)})),
    max_size=3)


def _safetensors(header: Any) -> bytes:
    body = json.dumps(header).encode()
    return struct.pack("<Q", len(body)) + body


@SETTINGS
@given(st.one_of(raw_bytes, tensor_infos.map(_safetensors), json_values.map(_safetensors)))
def test_any_safetensors_header_fails_cleanly(tmp_path: Path, weights: bytes) -> None:
    _plan_fails_cleanly(_model_dir(tmp_path, json.dumps(CONFIG).encode(), weights))


def test_every_size_the_readers_divide_by_is_typed() -> None:
    from tgictl.model.config_shape import SIZES, ConfigShape

    assert set(SIZES) <= set(ConfigShape.model_fields)


def _only_tgictl_errors(read: Any, path: Path) -> None:
    try:
        read(path)
    except TgictlError as err:
        assert str(err).strip() and "Traceback" not in str(err)


lines = st.lists(st.one_of(st.text(max_size=20), json_values.map(json.dumps)), max_size=4).map(lambda ls: "\n".join(ls).encode())


@SETTINGS
@given(st.one_of(raw_bytes, lines))
def test_any_bench_dataset_fails_cleanly(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "prompts.jsonl").write_bytes(data)
    _only_tgictl_errors(lambda path: from_jsonl(path, 16), tmp_path / "prompts.jsonl")


prices_yaml = st.dictionaries(st.sampled_from(["h100", "a10g", "h200", "nope", "1", ""]), json_values, max_size=3).map(
    lambda d: json.dumps(d).encode())  # JSON is YAML


@SETTINGS
@given(st.one_of(raw_bytes, prices_yaml, st.text(max_size=40).map(str.encode)))
def test_any_prices_file_fails_cleanly(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "prices.yaml").write_bytes(data)
    _only_tgictl_errors(load_prices, tmp_path / "prices.yaml")


@SETTINGS
@given(st.one_of(raw_bytes, st.text(max_size=200).map(str.encode)))
def test_any_spec_file_bytes_fail_cleanly(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "tgi.yaml").write_bytes(data)
    result = runner.invoke(app, ["validate", "-f", str(tmp_path / "tgi.yaml")])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2 and "Traceback" not in result.output


kubeconfigs = st.one_of(raw_bytes, json_values.map(lambda v: json.dumps(v).encode()),
                        st.fixed_dictionaries({"apiVersion": st.just("v1"), "clusters": json_values, "contexts": json_values,
                                               "current-context": json_values, "users": json_values}).map(lambda d: json.dumps(d).encode()))


@SETTINGS
@given(kubeconfigs)
def test_any_kubeconfig_fails_cleanly(tmp_path: Path, data: bytes) -> None:
    """A malformed kubeconfig once ended every cluster command in yaml's ParserError."""
    (tmp_path / "kubeconfig").write_bytes(data)
    (tmp_path / "tgi.yaml").write_text(json.dumps(document()))
    result = runner.invoke(app, ["history", "-f", str(tmp_path / "tgi.yaml")], env={"KUBECONFIG": str(tmp_path / "kubeconfig")})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0 and result.stderr.startswith(("error: no usable kubeconfig in ", "error: no kubeconfig")), result.stderr
