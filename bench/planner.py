"""The planner against TGI's own figures: each public case in tests/fixtures/tgi-warmups.json
(the model, GPU, count, TGI release and flags a user logged with TGI's "Setting max batch
total tokens to N") planned with the same inputs, as a ratio against TGI's N.

Prints each case's signed error, then the median absolute and the worst signed error.
Goal (issue 16): median within 10 %, never more than 10 % over TGI's figure (an
over-estimate makes TGI fail at warm-up). Run: `.venv/bin/python bench/planner.py`.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tgictl.plan import files as model_files  # noqa: E402
from tgictl.plan.planner import PlanRequest, UserLimits, plan  # noqa: E402

CASES = ROOT / "tests" / "fixtures" / "tgi-warmups.json"
MODELS = ROOT / "tests" / "fixtures" / "models"


def planned(case: dict[str, object]) -> int:
    limits = UserLimits(max_input_tokens=case["max_input_tokens"], max_total_tokens=case["max_total_tokens"],  # type: ignore[arg-type]
                        max_batch_prefill_tokens=case["max_batch_prefill_tokens"])  # type: ignore[arg-type]
    request = PlanRequest(files=model_files.read_directory(MODELS / str(case["model"])), accelerator=str(case["accelerator"]),
                          count=int(case["count"]), engine="tgi", engine_version=str(case["tgi"]), limits=limits)  # type: ignore[call-overload]
    return plan(request).budget.kv_tokens


def errors() -> list[tuple[dict[str, object], int, float]]:
    rows = []
    for case in json.loads(CASES.read_text()):
        tokens = planned(case)
        rows.append((case, tokens, tokens / int(case["logged"]) - 1))  # type: ignore[call-overload]
    return rows


def main() -> None:
    rows = errors()
    print(f"{'case':44} {'TGI':>7} {'logged':>8} {'planned':>8} {'ratio':>6} {'error':>7}")
    for case, tokens, error in rows:
        name = f"{case['model']} {case['count']}x {case['accelerator']}"
        print(f"{name:44} {case['tgi']:>7} {case['logged']:>8} {tokens:>8} {1 + error:6.3f} {error:+7.1%}")
    signed = [e for _, _, e in rows]
    print(f"median |error| {statistics.median(abs(e) for e in signed):.1%}; worst over-estimate {max(signed):+.1%}; "
          f"worst under-estimate {min(signed):+.1%} ({len(rows)} cases)")


if __name__ == "__main__":
    main()
