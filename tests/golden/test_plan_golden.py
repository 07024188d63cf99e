"""Golden plans for the deployments users ask about most. Planner changes show
up here as a reviewed diff (rewrite with TGICTL_UPDATE_GOLDEN=1)."""

from __future__ import annotations

import json

from support.data import FIXTURES, GOLDEN
from support.golden import check
from tgictl.model import files as model_files
from tgictl.plan.planner import PlanRequest, plan

MODELS = FIXTURES / "models"
MATRIX = [
    ("llama-3.1-8b", "a10g", 1), ("llama-3.1-8b", "a100-80gb", 1), ("llama-3.1-8b", "l40s", 2),
    ("llama-3.1-70b", "a100-80gb", 2), ("llama-3.1-70b", "h100-80gb", 4), ("mistral-7b-v0.1", "a100-80gb", 1),
    ("mixtral-8x7b", "a100-80gb", 2), ("qwen2.5-7b", "l4", 1), ("gemma-2-9b", "a10g", 1),
    ("deepseek-v3", "h200", 8), ("mistral-7b-awq", "t4", 1),
]


def summary(name: str, gpu: str, count: int) -> dict[str, object]:
    p = plan(PlanRequest(files=model_files.read_directory(MODELS / name), accelerator=gpu, count=count))
    return {
        "model": name, "hardware": f"{count}x {gpu}", "fits": p.fits,
        "weights_gb": round(p.weight_bytes / 1e9, 2), "kv_bytes_per_token": p.kv_bytes_per_token,
        "max_batch_total_tokens": p.max_batch_total_tokens, "max_total_tokens": p.max_total_tokens,
        "max_batch_prefill_tokens": p.max_batch_prefill_tokens, "full_sequences": p.full_sequences,
        "startup_budget_s": p.cold_start.budget_s,
    }


def test_plans_match_golden() -> None:
    rows = [summary(*case) for case in MATRIX]
    check(GOLDEN / "plans.json", json.dumps(rows, indent=1) + "\n")
