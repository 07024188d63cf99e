"""prepare(): one plan, one cold start, one set of values, and never a planned limit
the engine itself would refuse at start-up."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from support.data import FIXTURES
from tgictl.engines import REGISTRY
from tgictl.errors import SpecError
from tgictl.render import service
from tgictl.render.prepare import _check_planned, prepare
from tgictl.spec.load import parse

MODELS = FIXTURES / "models"
LLAMA_8B = MODELS / "llama-3.1-8b"


def spec_doc(model: Path, accelerator: str, count: int, *, engine: str = "tgi", **spec: Any) -> dict[str, Any]:
    hardware: dict[str, Any] = {"accelerator": {"type": accelerator, "count": count}}
    if accelerator == "cpu":
        hardware["memory"] = "64Gi"
    return {"apiVersion": "tgictl.dev/v1alpha1", "kind": "InferenceDeployment", "metadata": {"name": "m", "namespace": "llm"},
            "spec": {"model": {"id": "org/model", "files": str(model)}, "engine": {"name": engine}, "hardware": hardware, **spec}}


def test_paged_attention_on_ampere_is_planned_without_chunking() -> None:
    """Issue 14's case: TGI prefills whole prompts under paged attention, so the planned input
    limit must fit one prefill batch (it was planned to 131071 against 4096)."""
    serving = prepare(parse(spec_doc(LLAMA_8B, "a100-80gb", 1, features={"attention": "paged"}))).spec.spec.serving
    assert serving.max_input_tokens == serving.max_batch_prefill_tokens == 4096
    chunked = prepare(parse(spec_doc(LLAMA_8B, "a100-80gb", 1))).spec.spec.serving
    assert chunked.max_input_tokens == chunked.max_total_tokens - 1 > chunked.max_batch_prefill_tokens


def test_a_batch_limit_the_user_set_caps_the_planned_limits() -> None:
    serving = prepare(parse(spec_doc(LLAMA_8B, "a100-80gb", 1, serving={"maxBatchTotalTokens": 4096}))).spec.spec.serving
    assert (serving.max_input_tokens, serving.max_total_tokens, serving.max_batch_prefill_tokens) == (4095, 4096, 4096)


def test_an_input_limit_beyond_what_the_cache_holds_names_the_field() -> None:
    doc = spec_doc(LLAMA_8B, "cpu", 0, serving={"maxInputTokens": 6000})
    # TGI's warm-up prefills the whole 6000-token prompt (no chunking on CPU): with 20000Mi its
    # batch does not fit beside the weights, so no KV cache is left at all.
    doc["spec"]["hardware"]["memory"] = "20000Mi"
    with pytest.raises(SpecError) as err:
        prepare(parse(doc))
    problems = [(p.path, p.message) for p in err.value.problems]
    assert ("spec.serving.maxInputTokens", "6000 leaves no room to generate: 1x cpu holds 0 tokens of one request") in problems
    assert ("spec.hardware.accelerator.count", "llama model does not fit on 1x cpu: 3.2 GB short; 2x cpu fits") in problems


def test_planned_limits_go_through_the_engines_own_rules() -> None:
    """The last guard: whatever the planner fills in is checked by the engine's rules,
    and each problem says it came from planning."""
    spec = parse(spec_doc(LLAMA_8B, "t4", 1))
    serving = spec.spec.serving.model_copy(update={"max_input_tokens": 8000, "max_total_tokens": 8192, "max_batch_prefill_tokens": 4096})
    planned = spec.model_copy(update={"spec": spec.spec.model_copy(update={"serving": serving})})
    with pytest.raises(SpecError) as err:
        _check_planned(planned)
    [problem] = err.value.problems
    assert problem.path == "spec.serving.maxBatchPrefillTokens"
    assert problem.message.endswith("(after planning from model.files)") and "without prefill chunking" in problem.message


# Every fixture model the planner reads, on GPUs with and without prefill chunking.
PLANNABLE = sorted(p.name for p in MODELS.iterdir() if (p / "config.json").exists() and p.name not in ("mamba-unknown", "llama-classifier"))
ACCELERATORS = [("t4", 1), ("a10g", 1), ("a100-80gb", 1), ("a100-80gb", 4), ("h100-80gb", 8), ("mi300x", 1)]


@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_no_plan_yields_limits_its_engine_refuses(engine: str) -> None:
    """Across models, GPUs and attention kinds: a spec either prepares (and the planned
    spec passes the engine's rules, which prepare checks) or is refused for a reason
    that is not a planned limit."""
    prepared = refused = 0
    attentions = [None, "paged"] if engine == "tgi" else [None]
    for model, (accelerator, count), attention in itertools.product(PLANNABLE, ACCELERATORS, attentions):
        features = {"attention": attention} if attention else {}
        try:
            result = prepare(parse(spec_doc(MODELS / model, accelerator, count, engine=engine, features=features)))
        except SpecError as err:
            assert not [p for p in err.problems if "after planning" in p.message], (model, accelerator, count, attention)
            refused += 1
            continue
        assert REGISTRY[engine].problems(result.spec) == []
        prepared += 1
    assert prepared > 30 and refused > 0  # both outcomes are exercised


def test_render_deploy_and_values_share_one_cold_start() -> None:
    prepared = prepare(parse(spec_doc(LLAMA_8B, "a100-80gb", 1)))
    assert prepared.plan is not None and prepared.cold_start is prepared.plan.cold_start
    startup = prepared.values["probes"]["startup"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == prepared.startup_window_s >= prepared.startup_budget_s
    assert service.render(prepared, "values").stream == service.render(prepared.spec, "values").stream
