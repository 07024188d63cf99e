"""The canary gate's decision from figures: each check, missing series, the stable comparison."""

from __future__ import annotations

from support.data import document
from tgictl.lifecycle.gate import Thresholds, judge
from tgictl.spec.load import parse

LIMITS = Thresholds(ttft_p95_s=1.0, error_ratio=0.05, queue_size=8, vs_stable=1.5)
GOOD = {"requests_per_s": 5.0, "errors_per_s": 0.0, "waiting": 1.0, "ttft_p95_s": 0.2, "tokens_per_s": 300.0}


def test_a_canary_within_every_limit_passes() -> None:
    verdict = judge(GOOD, {**GOOD, "ttft_p95_s": 0.18}, LIMITS)
    assert verdict.passed and verdict.reasons == []
    assert [c.name for c in verdict.checks] == ["traffic", "TTFT p95", "error ratio", "queue", "TTFT p95 vs stable"]


def test_each_limit_fails_it_by_name() -> None:
    assert judge({**GOOD, "ttft_p95_s": 1.2}, None, LIMITS).reasons == ["TTFT p95 1.2 s > 1 s"]
    assert judge({**GOOD, "errors_per_s": 1.0}, None, LIMITS).reasons == ["error ratio 0.1667 > 0.05"]  # 1 of 6 requests
    assert judge({**GOOD, "waiting": 9.0}, None, LIMITS).reasons == ["queue 9 > 8"]
    slower = judge({**GOOD, "ttft_p95_s": 0.5}, {**GOOD, "ttft_p95_s": 0.2}, LIMITS)
    assert slower.reasons == ["TTFT p95 0.5 s > 1.5 x the stable release's 0.2 s"]


def test_no_traffic_fails_and_a_missing_series_is_not_judged() -> None:
    for idle in (None, {**GOOD, "requests_per_s": 0.0, "tokens_per_s": 0.0}):
        assert judge(idle, GOOD, LIMITS).reasons == ["the canary served no request in the window: nothing to judge it by"]
    llamacpp = judge({**GOOD, "errors_per_s": None}, GOOD, LIMITS)  # llama.cpp counts no failed requests
    assert llamacpp.passed and next(c for c in llamacpp.checks if c.name == "error ratio").passed is None


def test_unset_gate_thresholds_come_from_monitoring_slo() -> None:
    spec = parse(document(monitoring={"slo": {"ttftP95Seconds": 3.0, "errorRatio": 0.1, "queueSize": 4}},
                          rollout={"gate": {"ttftP95Seconds": 0.8, "vsStable": 2.0}}))
    assert Thresholds.of(spec) == Thresholds(ttft_p95_s=0.8, error_ratio=0.1, queue_size=4, vs_stable=2.0)
