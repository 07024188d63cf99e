"""Canary and blue-green rollouts on real objects: the Gateway API's HTTPRoute (its CRD from
../shared/crds) weighted between the stable release and <name>-canary by the real helm's
`upgrade --reuse-values`, read back from the API server; promote and abort by hand; and a
gated canary whose gate reads a real Prometheus scraping simulators as the two releases."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from support.control_plane import Namespace, apply_crds, write_spec
from support.data import ROOT
from support.monitoring import fast_groups, prometheus, query, scrape_job
from support.servers import simulator
from tgictl.cli.main import app
from tgictl.loadgen import workload
from tgictl.loadgen.runner import Job, Profile, bench
from tgictl.loadgen.stats import SLOTargets

runner = CliRunner()
GATEWAY_CRDS = ROOT.parent / "shared" / "crds" / "gateway.networking.k8s.io"
ROUTE = {"kind": "httproute", "gateway": {"name": "public"}, "hostnames": ["llm.example.com"]}
CPU = {"cpu": "1", "memory": "1Gi"}


@pytest.fixture(scope="module")
def gateway_api(kubeconfig: Path) -> Path:
    apply_crds(kubeconfig, GATEWAY_CRDS)
    return kubeconfig


def weights(ns: Namespace) -> dict[str, int]:
    """The live HTTPRoute's backends and the percentage of requests each gets (a backend's weight
    defaults to 1 in the CRD: a lone backend gets them all)."""
    [rule] = ns.get("httproute", "demo")["spec"]["rules"]
    given = {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}
    total = sum(given.values())
    return {name: round(100 * weight / total) for name, weight in given.items()}


def releases(ns: Namespace) -> list[str]:
    return sorted(d["metadata"]["name"] for d in ns.get("deployments")["items"])


def run(*args: str) -> Any:
    result = runner.invoke(app, [*args, "-o", "json"])
    return result, (json.loads(result.stdout) if result.stdout.strip().startswith("{") else None)


@pytest.fixture
def stable(gateway_api: Path, ns: Namespace, tmp_path: Path) -> tuple[str, str]:
    """The stable release deployed with its HTTPRoute, and the new spec (another setting) to roll out."""
    path = write_spec(ns, tmp_path, hardware=CPU, exposure=ROUTE, monitoring={"slo": {"ttftP95Seconds": 0.1}})
    done, _ = run("deploy", "-f", path, "--no-smoke", "--poll", "0.5")
    assert done.exit_code == 0, done.output
    assert weights(ns) == {"demo": 100}
    new = write_spec(ns, tmp_path, file="new.yaml", hardware=CPU, exposure=ROUTE, monitoring={"slo": {"ttftP95Seconds": 0.1}},
                     serving={"maxConcurrentRequests": 64})
    return path, new


def test_a_canary_takes_its_share_of_the_real_route_and_promotion_hands_it_all_over(ns: Namespace, stable: tuple[str, str]) -> None:
    _, new = stable
    started, report = run("deploy", "-f", new, "--canary", "25")
    assert started.exit_code == 0, started.output
    assert report["outcome"] == "started" and weights(ns) == {"demo": 75, "demo-canary": 25}
    assert releases(ns) == ["demo", "demo-canary"]
    assert run("rollout", "status", "-f", new)[1]["weight"] == 25

    promoted, report = run("rollout", "promote", "-f", new)
    assert promoted.exit_code == 0, promoted.output
    assert weights(ns) == {"demo": 100} and releases(ns) == ["demo"]
    args = ns.get("deployment", "demo")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "64" in args[args.index("--max-concurrent-requests") + 1:][:1]  # the stable release runs the new spec


def test_blue_green_stays_dark_until_aborted_and_the_route_goes_back(ns: Namespace, stable: tuple[str, str]) -> None:
    _, new = stable
    started, _ = run("deploy", "-f", new, "--blue-green")
    assert started.exit_code == 0, started.output
    assert weights(ns) == {"demo": 100, "demo-canary": 0} and releases(ns) == ["demo", "demo-canary"]
    aborted, report = run("rollout", "abort", "-f", new)
    assert aborted.exit_code == 0, aborted.output
    assert report["changes"] == ["demo's route: all traffic to demo", "demo-canary uninstalled"]
    assert weights(ns) == {"demo": 100} and releases(ns) == ["demo"]


@pytest.fixture
def figures(ns: Namespace, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus evaluating the rendered rules over two vLLM-faced simulators scraped as the
    stable release (fast) and the canary (prefill 4 ms a token: p95 TTFT far above the 0.1 s SLO)."""
    with simulator("--engine", "vllm", "--decode-ms", "2", "--prefill-ms-per-token", "0.01") as fast, \
            simulator("--engine", "vllm", "--decode-ms", "2", "--prefill-ms-per-token", "4") as slow:
        targets = {"demo": fast, "demo-canary": slow}
        rules = tmp_path / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": [g for name in targets for g in fast_groups("vllm", name, ns.name)]}))
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(rules)],
                  "scrape_configs": [scrape_job("vllm", url, name, ns.name) for name, url in targets.items()]}
        with prometheus(config, tmp_path) as prom, concurrent.futures.ThreadPoolExecutor(2) as pool:
            # Traffic all through the rollout: the gate judges the requests of the window it holds.
            items = workload.synthetic(200, workload.Length.parse("fixed:64"), workload.Length.parse("fixed:8"))
            for url in targets.values():
                pool.submit(bench, Job(url, "completions", items, Profile("constant", rate=2), duration=40.0), SLOTargets())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(query(prom, "llm:ttft_seconds:p95 > 0")) < len(targets):
                time.sleep(1)
            assert len(query(prom, "llm:ttft_seconds:p95 > 0")) == len(targets), query(prom, "llm:ttft_seconds:p95")
            yield prom


def test_a_gated_canary_that_fails_on_ttft_is_aborted_and_the_route_returned(ns: Namespace, stable: tuple[str, str],
                                                                              figures: str) -> None:
    _, new = stable
    aborted, report = run("deploy", "-f", new, "--canary", "10", "--prometheus", figures, "--step-seconds", "1")
    assert aborted.exit_code != 0, aborted.output
    assert report["outcome"] == "aborted" and report["reason"].startswith("the gate failed at 10%"), report
    assert "TTFT" in report["reason"] or "ttft" in report["reason"], report
    assert weights(ns) == {"demo": 100} and releases(ns) == ["demo"]
