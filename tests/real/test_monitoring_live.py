"""A real Prometheus scrapes the simulator in each engine flavour and a real
llama-server, loads the rendered rules, and every recording rule and every
dashboard panel query returns data."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from support.data import ROOT
from support.llama import llama_server
from support.monitoring import NAMESPACE, fast_groups, prometheus, query, scrape_job
from support.servers import simulator
from tgictl.loadgen import workload
from tgictl.loadgen.runner import Job, Profile, bench
from tgictl.loadgen.stats import SLOTargets

DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))


def traffic(url: str, api: str) -> None:
    """Steady load across several scrapes, so counters and histograms rise between samples."""
    items = workload.synthetic(50, workload.Length.parse("fixed:16"), workload.Length.parse("fixed:16"))
    out = bench(Job(url, api, items, Profile("constant", rate=20), duration=4.0), SLOTargets())
    assert out.summary["succeeded"] > 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    work = tmp_path_factory.mktemp("prometheus")
    fast = ("--decode-ms", "2", "--prefill-ms-per-token", "0.01", "--max-input-tokens", "64", "--max-total-tokens", "128")
    with simulator(*fast) as tgi, simulator(*fast, "--engine", "vllm") as vllm, llama_server(work) as llamacpp:
        urls = {"tgi": tgi, "vllm": vllm, "llamacpp": llamacpp}
        rules = work / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": [g for engine in urls for g in fast_groups(engine)]}, sort_keys=False))
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(rules)],
                  "scrape_configs": [scrape_job(engine, url) for engine, url in urls.items()]}
        with prometheus(config, work) as prom:
            # Prometheus applies discovered targets every 5 s: load sent before its first
            # scrape would be one flat sample, with no rate and no quantile.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(query(prom, "up == 1")) < len(urls):
                time.sleep(0.5)
            with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
                list(pool.map(lambda item: traffic(item[1], "tgi" if item[0] == "tgi" else "completions"), urls.items()))
            # Refused requests: the first creates TGI's failure series (TGI exports a
            # series only after its first observation), the later ones give it a rate.
            for _ in range(3):
                requests.post(tgi + "/generate", json={"inputs": "x", "parameters": {"max_new_tokens": 500}}, timeout=5)
                time.sleep(1.2)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                query(prom, f'llm:generated_tokens:rate5m{{deployment="demo-{e}"}} > 0') for e in urls):
                time.sleep(1)
            time.sleep(3)
            yield prom, urls


@pytest.mark.parametrize("engine", ["tgi", "vllm", "llamacpp"])
def test_every_recording_rule_returns_data(stack: tuple[str, dict[str, str]], engine: str) -> None:
    prom, _ = stack
    records = [r["record"] for g in fast_groups(engine) for r in g["rules"] if "record" in r]
    empty = [r for r in records if not query(prom, f'{r}{{deployment="demo-{engine}"}}')]
    assert records and empty == []


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.stem)
def test_every_dashboard_panel_query_returns_data(stack: tuple[str, dict[str, str]], dashboard: Path) -> None:
    """Each query returns data for at least one engine's deployment (llama.cpp, for
    one, has no request counter or latency histograms)."""
    prom, urls = stack
    board = json.loads(dashboard.read_text())
    empty = []
    for panel in board["panels"]:
        for target in panel["targets"]:
            found = False
            for engine in urls:
                expr = target["expr"].replace("$namespace", NAMESPACE).replace("$deployment", f"demo-{engine}")
                if query(prom, expr):
                    found = True
                    break
            if not found:
                empty.append(f"{panel['title']}: {target['expr']}")
    assert empty == []


def test_dashboard_variables_resolve(stack: tuple[str, dict[str, str]]) -> None:
    prom, urls = stack
    values = requests.get(prom + "/api/v1/label/deployment/values", params={"match[]": "llm:running_requests"}, timeout=10).json()["data"]
    assert set(values) == {f"demo-{e}" for e in urls}


def test_tgictl_metrics_and_top_read_the_slis(stack: tuple[str, dict[str, str]]) -> None:
    from typer.testing import CliRunner

    from tgictl.cli.main import app

    prom, urls = stack
    runner = CliRunner()
    result = runner.invoke(app, ["metrics", "--prometheus", prom, "-n", NAMESPACE, "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["deployment"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {f"demo-{e}" for e in urls}
    assert rows["demo-tgi"]["requests_per_s"] > 0 and rows["demo-tgi"]["errors_per_s"] > 0
    assert rows["demo-vllm"]["ttft_p95_s"] > 0
    assert rows["demo-llamacpp"]["requests_per_s"] is None  # llama.cpp counts no requests: missing, not zero
    assert rows["demo-llamacpp"]["tokens_per_s"] > 0
    table = runner.invoke(app, ["top", "--prometheus", prom, "--iterations", "1", "--interval", "0"])
    assert table.exit_code == 0 and "demo-vllm" in table.stdout and "TTFT95" in table.stdout
    one = runner.invoke(app, ["metrics", "--prometheus", prom, "--deployment", "demo-tgi"])
    assert one.exit_code == 0 and "demo-vllm" not in one.stdout
    down = runner.invoke(app, ["metrics", "--prometheus", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and "is unreachable" in down.stderr
