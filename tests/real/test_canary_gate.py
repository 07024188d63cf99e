"""The canary gate reading a real Prometheus: two vLLM-faced simulators scraped as the stable
release and its canary, the rendered recording rules evaluated, and the gate deciding both ways:
a canary as fast as the stable release passes, one whose prefill is slow fails on TTFT."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.data import document
from support.monitoring import NAMESPACE, fast_groups, prometheus, query, scrape_job
from support.servers import simulator
from tgictl.lifecycle import gate
from tgictl.loadgen import workload
from tgictl.loadgen.runner import Job, Profile, bench
from tgictl.loadgen.stats import SLOTargets
from tgictl.monitor import prometheus_access
from tgictl.spec.load import parse

FAST = ("--engine", "vllm", "--decode-ms", "2", "--prefill-ms-per-token", "0.01")
SLOW = ("--engine", "vllm", "--decode-ms", "2", "--prefill-ms-per-token", "4")  # 64-token prompts: ~0.26 s to first token


def _traffic(url: str) -> None:
    items = workload.synthetic(50, workload.Length.parse("fixed:64"), workload.Length.parse("fixed:8"))
    assert bench(Job(url, "completions", items, Profile("constant", rate=2), duration=5.0), SLOTargets()).summary["succeeded"]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus scraping llama (stable), llama-canary (as fast) and slow-canary (slow prefill)."""
    work: Path = tmp_path_factory.mktemp("gate")
    with simulator(*FAST) as stable, simulator(*FAST) as canary, simulator(*SLOW) as slow:
        targets = {"llama": stable, "llama-canary": canary, "slow-canary": slow}
        rules = work / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": [g for name in targets for g in fast_groups("vllm", name)]}, sort_keys=False))
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(rules)],
                  "scrape_configs": [scrape_job("vllm", url, name) for name, url in targets.items()]}
        with prometheus(config, work) as prom:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(query(prom, "up == 1")) < len(targets):
                time.sleep(0.5)
            with concurrent.futures.ThreadPoolExecutor(len(targets)) as pool:
                list(pool.map(_traffic, targets.values()))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(query(prom, "llm:ttft_seconds:p95 > 0")) < len(targets):
                time.sleep(1)
            yield prom


def _verdict(prom: str, canary: str) -> gate.Verdict:
    spec = parse(document(monitoring={"slo": {"ttftP95Seconds": 0.1}}))
    return gate.judge(*gate.read(prometheus_access(prom), NAMESPACE, canary, "llama"), gate.Thresholds.of(spec))


def test_a_canary_as_good_as_the_stable_release_passes(releases: str) -> None:
    verdict = _verdict(releases, "llama-canary")
    assert verdict.passed, verdict.as_dict()
    assert {c.name for c in verdict.checks if c.passed} == {"traffic", "TTFT p95", "TTFT p95 vs stable", "queue", "error ratio"}
    assert next(c for c in verdict.checks if c.name == "error ratio").canary == 0.0  # vLLM's refusals past its queue limit


def test_a_slow_canary_fails_on_its_own_ttft_and_against_the_stable_release(releases: str) -> None:
    verdict = _verdict(releases, "slow-canary")
    assert not verdict.passed
    failed = {c.name for c in verdict.checks if c.passed is False}
    assert failed == {"TTFT p95", "TTFT p95 vs stable"}, verdict.as_dict()


def test_a_canary_prometheus_never_saw_fails_for_want_of_figures(releases: str) -> None:
    assert _verdict(releases, "missing-canary").reasons == ["the canary served no request in the window: nothing to judge it by"]
