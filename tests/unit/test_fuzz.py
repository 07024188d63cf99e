"""Property-based fuzzing: any document either validates or fails with clean,
path-qualified problems; never a traceback. Valid ones produce chart values
that satisfy the chart's own values.schema.json.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.data import BASE, ROOT
from tgictl.engines import get
from tgictl.errors import SpecError
from tgictl.render.values import chart_values
from tgictl.spec.load import parse
from tgictl.spec.model import Spec

TGI = get("tgi")
VALUES_VALIDATOR = jsonschema.Draft7Validator(json.loads((ROOT / "charts" / "tgi" / "values.schema.json").read_text()))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
    st.text(max_size=12), st.sampled_from(["tgi", "cpu", "h100", "awq", "fp8_e5m2", "4Gi", "latest", "HF_TOKEN"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                      max_leaves=6)

# Every field path of the spec model, as alias tuples, to aim mutations at real fields.
def _paths(model: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name,)
        out.append(path)
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                out.extend(_paths(candidate, path))
    return out


FIELD_PATHS = _paths(Spec)


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = doc
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


mutations = st.lists(st.tuples(st.sampled_from(FIELD_PATHS), values), min_size=1, max_size=4)


def _check(doc: dict[str, Any]) -> None:
    try:
        spec = parse(doc)
    except SpecError as err:
        assert err.problems, "a SpecError must carry problems"
        for problem in err.problems:
            assert problem.message and "\n" not in problem.message
            assert "Traceback" not in problem.message and "errors.pydantic.dev" not in problem.message
            first = problem.path.split(".")[0].split("[")[0]
            assert problem.path == "" or first in ("apiVersion", "kind", "metadata", "spec"), problem
        return
    VALUES_VALIDATOR.validate(chart_values(spec))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations)
def test_mutated_specs_fail_cleanly_or_render_valid_values(changes: list[tuple[tuple[str, ...], Any]]) -> None:
    doc = copy.deepcopy(BASE)
    for path, value in changes:
        _set(doc, path, value)
    _check(doc)


@settings(max_examples=200, deadline=None)
@given(values)
def test_arbitrary_documents_fail_cleanly(doc: Any) -> None:
    try:
        parse(doc)
    except SpecError as err:
        assert all(p.message for p in err.problems)


limits = st.one_of(st.none(), st.integers(1, 70000))
serving_specs = st.fixed_dictionaries(
    {},
    optional={
        "maxInputTokens": limits, "maxTotalTokens": limits, "maxBatchPrefillTokens": limits,
        "maxBatchTotalTokens": limits, "numShard": st.one_of(st.none(), st.integers(1, 8)),
        "quantize": st.sampled_from(["awq", "exl2", "gptq", "bitsandbytes", "fp8"]),
        "cudaGraphs": st.lists(st.integers(0, 64), max_size=4),
    },
)
hardware_specs = st.builds(
    lambda type, count: {"accelerator": {"type": type, "count": 0 if type == "cpu" else count}},
    st.sampled_from(["cpu", "t4", "l4", "a100-80gb", "h100", "mi300x", "gaudi2"]),
    st.integers(1, 8),
)


@settings(max_examples=300, deadline=None)
@given(serving_specs, hardware_specs)
def test_token_limit_rules_hold_for_every_accepted_spec(serving: dict[str, Any], hardware: dict[str, Any]) -> None:
    doc = copy.deepcopy(BASE)
    doc["spec"].update(serving={k: v for k, v in serving.items() if v is not None}, hardware=hardware)
    try:
        spec = parse(doc)
    except SpecError as err:
        assert all(p.path.startswith("spec.") for p in err.problems), err.problems
        return
    s = spec.spec.serving
    if s.max_input_tokens and s.max_total_tokens:
        assert s.max_input_tokens < s.max_total_tokens
    if s.max_total_tokens and s.max_batch_total_tokens:
        assert s.max_total_tokens <= s.max_batch_total_tokens
    if s.max_batch_prefill_tokens and s.max_input_tokens and not TGI.prefill_chunking(spec):
        assert s.max_batch_prefill_tokens >= s.max_input_tokens
    if s.quantize == "exl2":
        assert spec.spec.hardware.accelerator.count <= 1
    VALUES_VALIDATOR.validate(chart_values(spec))
