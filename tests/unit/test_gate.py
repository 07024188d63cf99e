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
    assert slower.reasons[-1] == "TTFT p95 0.5 s > 1.5 x the stable release's 0.2 s"


def test_no_traffic_fails_and_a_missing_series_is_not_judged() -> None:
    for idle in (None, {**GOOD, "requests_per_s": 0.0, "tokens_per_s": 0.0}):
        assert judge(idle, GOOD, LIMITS).reasons == ["the canary served no request in the window: nothing to judge it by"]
    llamacpp = judge({**GOOD, "errors_per_s": None}, GOOD, LIMITS)  # llama.cpp counts no failed requests
    assert llamacpp.passed and next(c for c in llamacpp.checks if c.name == "error ratio").passed is None


def test_unset_gate_thresholds_come_from_monitoring_slo() -> None:
    spec = parse(document(monitoring={"slo": {"ttftP95Seconds": 3.0, "errorRatio": 0.1, "queueSize": 4}},
                          rollout={"gate": {"ttftP95Seconds": 0.8, "vsStable": 2.0}}))
    assert Thresholds.of(spec) == Thresholds(ttft_p95_s=0.8, error_ratio=0.1, queue_size=4, vs_stable=2.0, vs_stable_slack_s=0.05)


def test_at_millisecond_ttfts_the_stable_comparison_allows_the_slack() -> None:
    """8 ms against 4.8 ms is 1.7 x, and one slow request among ten: noise, not a regression."""
    limits = Thresholds(ttft_p95_s=0.1, error_ratio=0.05, queue_size=8, vs_stable=1.5, vs_stable_slack_s=0.05)
    fast = {**GOOD, "ttft_p95_s": 0.0048}
    assert judge({**GOOD, "ttft_p95_s": 0.0081}, fast, limits).passed
    assert judge({**GOOD, "ttft_p95_s": 0.09}, fast, limits).reasons == ["TTFT p95 0.09 s > the stable release's 0.0048 s + 0.05 s"]
    slower = judge({**GOOD, "ttft_p95_s": 0.5}, {**GOOD, "ttft_p95_s": 0.2}, limits)  # the ratio is wider than the slack
    assert slower.reasons[-1] == "TTFT p95 0.5 s > 1.5 x the stable release's 0.2 s"
