"""The planner against the engines' own figures.

TGI: each public case in tests/fixtures/tgi-warmups.json (the model, GPU, count, TGI
release and flags a user logged with TGI's "Setting max batch total tokens to N")
planned with the same inputs, as a ratio against TGI's N.
vLLM: each public case in tests/fixtures/vllm-profiles.json (vLLM's "Memory profiling
results": weights, non-torch memory, activation peak and the KV cache memory left),
planned with the same inputs, term by term, the KV memory as a ratio against vLLM's.

Prints each case's signed error, then the median absolute and the worst signed error, overall
and per engine release. Goal (issues 16 and 36): median within 10 %, never more than 10 % over the
engine's figure (an over-estimate makes TGI fail at warm-up).

Cross-validation: a constant the rules learned from logged figures is re-derived without the
case being scored. vLLM's is one, what tensor parallelism adds outside PyTorch: set from PR
10511's A/B (the two 0.6.5 cases), re-derived here as the median over every A/B pair in the
fixture less the scored case. TGI's rule learned none from these cases (its terms come from
TGI's source at each tag and the A10G's logged device size), so its cases are scored as found.
Run: `.venv/bin/python bench/planner.py`.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tgictl.engines.vllm.memory import TENSOR_PARALLEL_BYTES  # noqa: E402
from tgictl.model import files as model_files  # noqa: E402
from tgictl.model.memory import GiB  # noqa: E402
from tgictl.plan.planner import Plan, PlanRequest, UserLimits, plan  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
MODELS = FIXTURES / "models"


def _plan(case: dict, engine: str, version: str, limits: UserLimits, **request: object) -> Plan:
    return plan(PlanRequest(files=model_files.read_directory(MODELS / str(case["model"])), accelerator=str(case["accelerator"]),
                            count=int(case["count"]), engine=engine, engine_version=version, limits=limits,
                            **request))  # type: ignore[arg-type]


def errors() -> list[tuple[dict, int, float]]:
    """TGI's cases: (case, planned max batch total tokens, signed error against TGI's)."""
    rows = []
    for case in json.loads((FIXTURES / "tgi-warmups.json").read_text()):
        limits = UserLimits(max_input_tokens=case["max_input_tokens"], max_total_tokens=case["max_total_tokens"],
                            max_batch_prefill_tokens=case["max_batch_prefill_tokens"])
        tokens = _plan(case, "tgi", str(case["tgi"]), limits).budget.kv_tokens
        rows.append((case, tokens, tokens / int(case["logged"]) - 1))
    return rows


def vllm_terms(case: dict) -> dict[str, float]:
    """One vLLM case planned, in vLLM's own terms (GiB per device)."""
    limits = UserLimits(max_total_tokens=case["max_num_batched_tokens"], max_batch_prefill_tokens=case["max_num_batched_tokens"])
    b = _plan(case, "vllm", str(case["vllm"]), limits, memory_fraction=case["gpu_memory_utilization"], quantize=case.get("quantize"),
              kv_cache_dtype=case.get("kv_cache_dtype")).budget
    # The planned runtime, tensor-parallel buffers and CUDA graphs are what vLLM logs as non-torch memory.
    return {"weights": b.weights_bytes / GiB, "non_torch": b.overhead_bytes / GiB, "activations": b.activation_bytes / GiB,
            "kv": b.kv_budget_bytes / GiB}


def vllm_errors() -> list[tuple[dict, dict[str, float], float]]:
    """vLLM's cases: (case, planned terms, signed error of the KV memory against vLLM's), the one
    constant the rule learned from logged figures (what tensor parallelism adds outside PyTorch)
    re-derived without the case being scored."""
    cases = json.loads((FIXTURES / "vllm-profiles.json").read_text())
    rows = []
    for case in cases:
        terms = vllm_terms(case)
        if case["count"] > 1:  # the KV memory is what is left: a larger constant leaves less
            terms["kv"] -= tensor_parallel_gib([c for c in cases if c is not case]) - TENSOR_PARALLEL_BYTES / GiB
        rows.append((case, terms, terms["kv"] / case["logged_gib"]["kv"] - 1))
    return rows


def _pair_key(case: dict) -> tuple:
    return (case["model"], case["vllm"], case["accelerator"], case["gpu_memory_utilization"], case["max_num_batched_tokens"],
            case.get("quantize"), case.get("pipeline_parallel", 1))


def tensor_parallel_gib(cases: list[dict]) -> float:
    """What tensor parallelism adds to vLLM's logged non-torch memory, as the rule learns it: the
    median, over A/B pairs (the same model, release, GPU and settings at one GPU and at several),
    of the sharded start's non-torch memory less the single-GPU one's."""
    single = {_pair_key(c): c["logged_gib"]["non_torch"] for c in cases
              if c["count"] == 1 and c["logged_gib"].get("non_torch") is not None}
    extra = [c["logged_gib"]["non_torch"] - single[_pair_key(c)] for c in cases
             if c["count"] > 1 and c.get("tensor_parallel", c["count"]) > 1 and c["logged_gib"].get("non_torch") is not None
             and _pair_key(c) in single]
    return statistics.median(extra)


def _summary(signed: list[float]) -> str:
    return (f"median |error| {statistics.median(abs(e) for e in signed):.1%}; worst over-estimate {max(signed):+.1%}; "
            f"worst under-estimate {min(signed):+.1%} ({len(signed)} cases)")


def main() -> None:
    rows = errors()
    print("TGI: max batch total tokens")
    print(f"{'case':44} {'TGI':>7} {'logged':>8} {'planned':>8} {'ratio':>6} {'error':>7}")
    for case, tokens, error in rows:
        name = f"{case['model']} {case['count']}x {case['accelerator']}"
        print(f"{name:44} {case['tgi']:>7} {case['logged']:>8} {tokens:>8} {1 + error:6.3f} {error:+7.1%}")
    print(_summary([e for _, _, e in rows]))
    print("\nvLLM: memory profile, GiB per device (logged / planned)")
    print(f"{'case':40} {'vLLM':>8} {'len':>6} {'weights':>13} {'non-torch':>11} {'activations':>11} {'KV cache':>13} {'error':>7}")
    vllm_rows = vllm_errors()
    for case, terms, error in vllm_rows:
        logged = case["logged_gib"]
        cells = [f"{_gib(logged[k])}/{terms[k]:.2f}" for k in ("weights", "non_torch", "activations", "kv")]
        name = f"{case['logged_model'].split('/')[-1][:32]} {case['count']}x {case['accelerator']}"
        print(f"{name:40} {case['vllm']:>8} {case.get('max_model_len') or '-':>6} {cells[0]:>13} {cells[1]:>11} {cells[2]:>11} "
              f"{cells[3]:>13} {error:+7.1%}")
    cases = [case for case, _, _ in vllm_rows]
    print(f"tensor parallelism's non-torch memory: {TENSOR_PARALLEL_BYTES / GiB:.2f} GiB in the rule; "
          f"{tensor_parallel_gib(cases):.2f} GiB re-derived from all {len(cases)} cases; each sharded case is scored with it "
          "re-derived without that case")
    print(_summary([e for _, _, e in vllm_rows]))
    for version in sorted({str(case["vllm"]) for case in cases}, key=_version):
        print(f"  vLLM {version}: " + _summary([e for case, _, e in vllm_rows if case["vllm"] == version]))
    distinct = {(_pair_key(case), case["count"], case.get("kv_cache_dtype")): error for case, _, error in vllm_rows}
    print("  distinct memory profiles (cases differing only in max_model_len counted once, as vLLM sizes the same KV memory): "
          + _summary(list(distinct.values())))


def _gib(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


if __name__ == "__main__":
    main()
