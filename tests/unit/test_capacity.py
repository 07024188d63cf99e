"""The plan checked against the engine: the capacity each engine logs at start-up is read from
real public log lines (tests/fixtures/tgi-warmups.json, vllm-profiles.json) as the engine
wrote it, set beside the plan, and a limit the engine found too little for is named with the
value that fits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.data import FIXTURES, MODELS, document
from tgictl.engines import REGISTRY
from tgictl.engines.base import logged_capacity
from tgictl.lifecycle.capacity import check
from tgictl.plan.service import planned_for_render
from tgictl.spec.load import parse

TGI_CASES = [c for c in json.loads((FIXTURES / "tgi-warmups.json").read_text()) if "quote" in c]
VLLM_CASES = [c for c in json.loads((FIXTURES / "vllm-profiles.json").read_text()) if c.get("logged_kv_tokens")]


@pytest.mark.parametrize("case", TGI_CASES, ids=lambda c: f"{c['model']}-{c['tgi']}")
def test_tgi_capacity_is_read_from_its_routers_line(case: dict[str, Any]) -> None:
    found = logged_capacity(REGISTRY["tgi"].facts, case["quote"].splitlines())
    assert found is not None and found.kv_tokens == case["logged"] and found.request_tokens is None


@pytest.mark.parametrize("case", VLLM_CASES, ids=lambda c: f"{c['model']}-{c['count']}x-{c['vllm']}")
def test_vllm_capacity_is_read_from_its_kv_cache_line(case: dict[str, Any]) -> None:
    found = logged_capacity(REGISTRY["vllm"].facts, case["quotes"])
    assert found is not None and found.kv_tokens == case["logged_kv_tokens"]
    assert found.lines and all(line in case["quotes"] for line in found.lines)


def test_the_last_start_counts_and_other_lines_are_ignored() -> None:
    log = ["(EngineCore pid=1) INFO [kv_cache_utils.py:2328] GPU KV cache size: 9,000 tokens, Maximum concurrency for 4,096 tokens "
           "per request: 2.20x", "INFO: Application startup complete.",
           "(EngineCore pid=2) INFO [kv_cache_utils.py:2328] CPU KV cache size: 12,345 tokens, Maximum concurrency for 2,048 tokens "
           "per request: 6.03x"]
    found = logged_capacity(REGISTRY["vllm"].facts, log)
    assert found is not None and (found.kv_tokens, found.request_tokens) == (12345, 2048)
    assert logged_capacity(REGISTRY["vllm"].facts, ["INFO: Application startup complete."]) is None


def _planned(engine: str, **serving: int) -> tuple[Any, Any]:
    spec = parse(document(engine={"name": engine}, serving=serving, hardware={"accelerator": {"type": "a10g", "count": 1}},
                          model={"id": "meta-llama/Llama-3.1-8B-Instruct", "files": str(MODELS / "llama-3.1-8b")}))
    return planned_for_render(spec)


def test_deploy_sets_what_the_engine_found_beside_the_plan() -> None:
    spec, plan = _planned("tgi", maxTotalTokens=4096)
    found = round(plan.budget.kv_tokens * 0.93)
    checked = check(spec, plan, "demo-0", [f"INFO text_generation_router::server: Setting max batch total tokens to {found}"])
    assert checked is not None and checked.planned_kv_tokens == plan.budget.kv_tokens and checked.found_kv_tokens == found
    assert checked.summary() == (f"KV cache: planned {plan.budget.kv_tokens:,} tokens; TGI found {found:,} "
                                 f"({found / plan.budget.kv_tokens - 1:+.1%} against the plan)")
    assert checked.warnings == [] and checked.as_dict()["found_vs_plan"] == round(found / plan.budget.kv_tokens - 1, 4)


def test_a_limit_past_the_kv_cache_the_engine_found_is_named_with_what_fits() -> None:
    spec, plan = _planned("vllm", maxTotalTokens=8192)
    log = ["GPU KV cache size: 6,000 tokens, Maximum concurrency for 8,192 tokens per request: 0.73x"]
    checked = check(spec, plan, "demo-0", log)
    assert checked is not None and checked.warnings == [
        "serving.maxTotalTokens is 8,192 but vLLM's KV cache holds 6,000 tokens: a request that long can never run; "
        "set serving.maxTotalTokens: 6000 or give it more memory"]


def test_a_request_limit_the_engine_capped_is_named() -> None:
    """llama-server caps each slot's context at the model's training context (n_ctx_slot() at b11434)
    and goes on: requests past it fail at run time."""
    spec = parse(document(engine={"name": "llamacpp"}, model={"id": "tgictl/tiny-llama-GGUF", "ggufFile": "tiny.gguf"},
                          serving={"maxTotalTokens": 1024, "maxConcurrentRequests": 2}))
    checked = check(spec, None, "tiny-0", ["I srv    load_model: initializing, n_slots = 2, n_ctx_slot = 512, kv_unified = 'false'"])
    assert checked is not None and checked.summary() == "longest request: 512 tokens"
    assert checked.warnings == ["serving.maxTotalTokens is 1,024 but llama.cpp takes requests of at most 512 tokens: longer ones "
                                "fail; set serving.maxTotalTokens: 512"]
