"""`tgictl bench`: metric definitions, load patterns, client health, faults,
files, exit codes; against the simulator, faulty servers and llama-server."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from support.browser import screenshot
from support.faulty import faulty_server
from support.llama import llama_server
from support.servers import simulator
from tgictl.cli.main import app
from tgictl.loadgen import workload
from tgictl.loadgen.client import StreamResult
from tgictl.loadgen.report import PLOT_BACKGROUND
from tgictl.loadgen.runner import Job, Profile, bench
from tgictl.loadgen.stats import SLOTargets, percentile, summarize

runner = CliRunner()


def result(t_send: float, arrivals: list[float], tokens: int | None = None, error: str | None = None) -> StreamResult:
    r = StreamResult(t_sched=t_send, t_send=t_send, arrivals=arrivals, error_class=error)
    if arrivals:
        r.t_first, r.t_last = arrivals[0], arrivals[-1]
    r.output_tokens = tokens if tokens is not None else len(arrivals)
    return r


def test_metric_definitions_follow_bench_md() -> None:
    r = result(10.0, [10.1, 10.15, 10.3])  # TTFT 100 ms, gaps 50 and 150 ms
    assert r.ttft == pytest.approx(0.1) and r.e2e == pytest.approx(0.3)
    assert r.tpot == pytest.approx(0.1)  # (E2E - TTFT) / (N - 1) = 0.2 / 2
    assert r.gaps == pytest.approx([0.05, 0.15])
    summary = summarize([r, result(11.0, [], error="reset")], duration=2.0, slo=SLOTargets(ttft=0.2))
    assert summary["succeeded"] == 1 and summary["errors"] == {"reset": 1}
    assert summary["ttft_ms"]["p50"] == pytest.approx(100)
    assert summary["itl_ms"]["max"] == pytest.approx(150) and summary["integrity"]["longest_stall_ms"] == pytest.approx(150)
    assert summary["ntpot_ms"]["mean"] == pytest.approx(100)  # E2E / N
    assert summary["output_tokens_per_s"] == pytest.approx(1.5)
    assert summary["slo_attainment"] == 0.5 and summary["goodput_rps"] == 0.5  # errors count as misses


def test_usage_tokens_override_event_count() -> None:
    r = result(0.0, [0.1, 0.2], tokens=4)  # 2 events carried 4 tokens
    assert r.tpot == pytest.approx(0.1 / 3)


def test_percentiles_interpolate() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 99) == 5


def test_lengths_and_datasets(tmp_path: Path) -> None:
    items = workload.synthetic(50, workload.Length.parse("uniform:10-20"), workload.Length.parse("normal:64,8"), seed=1)
    assert all(10 <= len(i.prompt.split()) <= 20 for i in items)
    assert items == workload.synthetic(50, workload.Length.parse("uniform:10-20"), workload.Length.parse("normal:64,8"), seed=1)
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "hi", "max_tokens": 5}\n\n{"prompt": "yo"}\n')
    assert [(i.prompt, i.max_tokens) for i in workload.from_jsonl(data, 32)] == [("hi", 5), ("yo", 32)]
    data.write_text('{"text": "no prompt"}\n')
    with pytest.raises(Exception, match="d.jsonl:1: needs a JSON object with a prompt"):
        workload.from_jsonl(data, 32)


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with simulator("--decode-ms", "2", "--prefill-ms-per-token", "0.01", "--output-min", "8", "--output-max", "16") as url:
        yield url


def items(n: int = 200) -> list[workload.Item]:
    return workload.synthetic(n, workload.Length.parse("fixed:16"), workload.Length.parse("fixed:16"))


@pytest.mark.parametrize("api", ["completions", "chat", "tgi"])
def test_closed_loop_against_the_simulator(sim: str, api: str) -> None:
    out = bench(Job(sim, api, items(), Profile("concurrency", concurrency=4), duration=1.0), SLOTargets())
    assert out.summary["failed"] == 0 and out.summary["succeeded"] >= 20
    assert out.summary["token_source"] == {"server": out.summary["succeeded"]}
    assert set(out.summary["integrity"]["finish_reasons"]) <= {"stop", "length", "eos_token"}
    assert out.summary["tpot_ms"]["p50"] >= 2.0  # a decode step sleeps 2 ms at least: TPOT cannot be less


def test_open_loop_poisson_holds_its_schedule(sim: str) -> None:
    out = bench(Job(sim, "completions", items(), Profile("poisson", rate=40), duration=2.0, seed=3), SLOTargets())
    client = out.summary["client"]
    assert out.summary["failed"] == 0
    assert client["achieved_rate"] == pytest.approx(client["scheduled_rate"], rel=0.1)
    assert client["dispatch_lag_ms"]["p50"] < 10


def test_max_requests_caps_the_run(sim: str) -> None:
    out = bench(Job(sim, "completions", items(), Profile("constant", rate=200), duration=5.0, max_requests=7), SLOTargets())
    assert out.summary["requests"] == 7


def test_workers_split_the_load(sim: str) -> None:
    out = bench(Job(sim, "completions", items(), Profile("concurrency", concurrency=4), duration=1.0), SLOTargets(), workers=2)
    assert out.summary["client"]["workers"] == 2 and out.summary["succeeded"] >= 10 and out.summary["failed"] == 0


def test_cli_writes_json_csv_and_gates_on_slo(sim: str, tmp_path: Path) -> None:
    ok = runner.invoke(app, ["bench", sim, "--duration", "1", "--concurrency", "2", "--slo-ttft-ms", "1000",
                             "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv")])
    assert ok.exit_code == 0, ok.output
    summary = json.loads((tmp_path / "r.json").read_text())
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert len(rows) == summary["requests"] and rows[0]["token_source"] == "server"
    missed = runner.invoke(app, ["bench", sim, "--duration", "1", "--concurrency", "2", "--slo-ttft-ms", "0.001", "-o", "json"])
    assert missed.exit_code == 1 and json.loads(missed.stdout)["slo_attainment"] == 0.0


def test_sweep_finds_a_rate_and_plots(sim: str, tmp_path: Path) -> None:
    png = tmp_path / "sweep.png"
    out = runner.invoke(app, ["bench", sim, "--profile", "sweep", "--duration", "1", "--concurrency", "8",
                              "--slo-ttft-ms", "500", "--sweep-steps", "3", "--plot", str(png), "-o", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["best"] is not None and data["best"]["slo_attainment"] >= 0.9
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Every step is tried, at 1/3, 2/3 and all of the ceiling: it once stopped after one rate when
    # the ceiling met the SLO.
    ceiling = data["ceiling"]["request_rate"]
    offered = [p["client"]["target_rate"] for p in data["points"]]
    assert offered == pytest.approx([ceiling / 3, 2 * ceiling / 3, ceiling])
    table = runner.invoke(app, ["bench", sim, "--profile", "sweep", "--duration", "1", "--concurrency", "8",
                                "--slo-ttft-ms", "500", "--sweep-steps", "2"])
    best = next(line for line in table.stdout.splitlines() if line.startswith("best rate"))
    assert re.search(r": [0-9.]+/s offered, [0-9.]+ req/s achieved \(goodput", best), best  # not the offered rate alone


class _Cells(HTMLParser):
    """Every table row of a page as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_data(self, data: str) -> None:
        if self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def test_html_report_shows_the_run_it_measured(sim: str, tmp_path: Path) -> None:
    page, summary = tmp_path / "r.html", tmp_path / "r.json"
    ran = runner.invoke(app, ["bench", sim, "--requests", "12", "--concurrency", "3", "--html", str(page), "--json", str(summary)])
    assert ran.exit_code == 0, ran.output
    data, parser = json.loads(summary.read_text()), _Cells()
    parser.feed(page.read_text())
    rows = [[cell.strip() for cell in row] for row in parser.rows]
    ttft = next(row for row in rows if row[0] == "TTFT")
    assert ttft[1:] == [f"{data['ttft_ms'][q]:.2f}" for q in ("mean", "p50", "p90", "p95", "p99", "max")]
    assert ["requests", f"{data['succeeded']} ok of 12 (0 failed) in {data['duration_s']:.2f} s"] in rows
    streams = next(line for line in ran.stdout.splitlines() if line.startswith("streams: "))
    reasons = ", ".join(f"{name} {count}" for name, count in data["integrity"]["finish_reasons"].items())
    assert streams.startswith(f"streams: finish reasons {reasons}, longest stall")  # it printed {'length': 12}


def test_html_report_shows_configuration_client_health_and_cost(sim: str, tmp_path: Path) -> None:
    page, summary = tmp_path / "r.html", tmp_path / "r.json"
    ran = runner.invoke(app, ["bench", sim, "--requests", "12", "--concurrency", "3", "--slo-ttft-ms", "5000", "--gpu", "h100",
                              "--gpu-count", "2", "--html", str(page), "--json", str(summary)])
    assert ran.exit_code == 0, ran.output
    data, parser = json.loads(summary.read_text()), _Cells()
    parser.feed(page.read_text())
    rows = {row[0].strip(): " ".join("".join(row[1:]).split()) for row in parser.rows if row}
    spent = data["cost"]
    # 2x $2.95 an hour over the tokens the run measured, every request and the SLO-meeting ones.
    assert spent["usd_per_hour"] == pytest.approx(5.9)
    assert spent["usd_per_million_output_tokens"] == pytest.approx(5.9 / (data["output_tokens_per_s"] * 3600) * 1e6, rel=1e-3)
    assert spent["usd_per_million_output_tokens_at_goodput"] == pytest.approx(
        5.9 / (data["goodput_output_tokens_per_s"] * 3600) * 1e6, rel=1e-3)
    assert rows["cost"].startswith(f"${spent['usd_per_million_output_tokens']:.4g} per million output tokens;")
    assert "2x h100-80gb at $2.95/h (median over 37 providers, on demand, 2026-05-20)" in rows["cost"]
    assert rows["SLO"] == "TTFT ≤ 5000 ms"
    assert rows["configuration"] == f"{data['config']['duration_s']:g} s, at most 12 requests; {data['config']['prompts']} prompts, seed 0"
    assert rows["client"].startswith(f"CPU {data['client']['cpu_per_core'] * 100:.0f}% per core × 1;")
    assert "cost: $" in ran.stdout and "counting only SLO-meeting requests" in ran.stdout


def _near(colour: str, tolerance: int) -> Callable[[tuple[int, ...]], bool]:
    want = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return lambda pixel: all(abs(a - b) <= tolerance for a, b in zip(pixel, want))


def _pixels(image: Image.Image, colour: str, tolerance: int = 40) -> list[tuple[int, int]]:
    """Where ``image`` (RGB) has ``colour``, as (x, y)."""
    near, width = _near(colour, tolerance), image.width
    return [(i % width, i // width) for i, pixel in enumerate(image.get_flattened_data()) if near(pixel)]


def test_html_report_draws_in_a_browser(sim: str, tmp_path: Path) -> None:
    """The sweep's report as headless Chromium draws it: the page fills the window with text and
    both TTFT series are on the chart. (This caught a one-rate sweep whose chart drew nothing: a
    polyline of one point is invisible.)"""
    page = tmp_path / "sweep.html"
    ran = runner.invoke(app, ["bench", sim, "--profile", "sweep", "--duration", "1", "--sweep-steps", "1", "--concurrency", "4",
                              "--slo-ttft-ms", "5000", "--gpu", "a10g", "--html", str(page)])
    assert ran.exit_code == 0, ran.output
    image = Image.open(screenshot(page, tmp_path / "sweep.png")).convert("RGB")
    assert image.size == (1000, 700)
    area = _pixels(image, PLOT_BACKGROUND, tolerance=2)
    assert len(area) > 50_000, "no chart on the page"
    # Rows and columns mostly of the fill: a few light fringe pixels of blue text are not the plot.
    xs = [x for x, n in Counter(x for x, _ in area).items() if n > 100]
    ys = [y for y, n in Counter(y for _, y in area).items() if n > 300]
    plot = image.crop((min(xs), min(ys) - 5, max(xs) + 5, max(ys) + 5))  # the plot area; the key is below it
    assert len(_pixels(plot, "#1565c0")) > 20 and len(_pixels(plot, "#c62828")) > 20  # TTFT p50 and p95 data
    assert len(_pixels(image, "#222222", tolerance=30)) > 2000  # body text drawn, not a blank or error page


def test_html_report_escapes_what_the_server_and_user_sent() -> None:
    from tgictl.loadgen.report import as_html

    stats = {q: 1.0 for q in ("mean", "p50", "p90", "p95", "p99", "max")}
    run = {"profile": "concurrency 1", "api": "chat", "url": "http://x/<script>alert(1)</script>", "requests": 1, "succeeded": 0,
           "failed": 1, "duration_s": 1.0, "request_rate": 1.0, "output_tokens_per_s": 0.0, "goodput_rps": 0.0,
           "slo_attainment": 0.0, "token_source": {}, "errors": {"<img src=x onerror=alert(1)>": 1},
           "ttft_ms": stats, "tpot_ms": {}, "itl_ms": {}, "e2e_ms": stats, "ntpot_ms": {},
           "config": {"duration_s": 1.0, "max_requests": 1, "model": "<b>m</b>", "prompts": 1, "seed": 0, "slo_ms": {}},
           "client": {"warnings": [], "cpu_per_core": 0.1, "workers": 1, "dispatch_lag_ms": {}, "achieved_rate": None}}
    page = as_html(run)
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt; 1" in page


def test_sweep_needs_an_slo(sim: str) -> None:
    out = runner.invoke(app, ["bench", sim, "--profile", "sweep"])
    assert out.exit_code == 2 and "needs" not in out.stdout and "SLO" in out.stderr


def test_strict_fails_when_the_client_is_the_bottleneck(sim: str) -> None:
    # 2,000 requests scheduled within 20 ms: no client sends that fast, so dispatch
    # lag (and the schedule shortfall) say the client, not the server, set the pace.
    out = runner.invoke(app, ["bench", sim, "--profile", "constant", "--rate", "100000", "--duration", "0.02", "--strict", "-o", "json"])
    data = json.loads(out.stdout)
    assert data["client"]["client_bound"] and data["client"]["warnings"]
    assert any("dispatch lag" in w for w in data["client"]["warnings"])
    assert out.exit_code == 4


def test_client_health_flags_each_bottleneck() -> None:
    from tgictl.loadgen.runner import RunOutput, client_health

    job = Job("http://x", "completions", items(10), Profile("constant", rate=100), duration=1.0)
    on_time = [StreamResult(t_sched=i / 100, t_send=i / 100 + 0.001) for i in range(100)]
    assert not client_health(job, RunOutput(on_time, 1.0, 0.2, 1.0), 1)["client_bound"]
    late = [StreamResult(t_sched=i / 100, t_send=i / 100 + 0.05) for i in range(100)]
    assert any("dispatch lag p99 50.0 ms" in w for w in client_health(job, RunOutput(late, 1.0, 0.2, 1.0), 1)["warnings"])
    drifting = [StreamResult(t_sched=i / 100, t_send=i / 50) for i in range(100)]  # sends at half the schedule
    assert any("sent 50.0/s of the 100.0/s scheduled" in w for w in client_health(job, RunOutput(drifting, 2.0, 0.2, 2.0), 1)["warnings"])
    busy = client_health(job, RunOutput(on_time, 1.0, 0.95, 1.0), 1)
    assert busy["client_bound"] and "client CPU at 95%" in busy["warnings"][0]


def test_faults_are_counted_by_class() -> None:
    with faulty_server() as base:
        for fault, error in (("reset", "reset"), ("in_stream_error", "in_stream_error"), ("malformed", "malformed"),
                             ("server_error", "http_5xx"), ("no_terminator", "incomplete")):
            out = bench(Job(f"{base}/{fault}", "completions", items(10), Profile("concurrency", concurrency=2),
                            duration=0.3, max_requests=4), SLOTargets())
            assert out.summary["errors"] == {error: 4}, fault


def test_bench_against_real_llama_server(tmp_path: Path) -> None:
    with llama_server(tmp_path) as url:
        out = bench(Job(url, "completions", items(), Profile("concurrency", concurrency=2), duration=2.0), SLOTargets(ttft=1.0))
    assert out.summary["failed"] == 0 and out.summary["succeeded"] > 20
    assert out.summary["token_source"] == {"server": out.summary["succeeded"]}  # llama-server reports usage when asked
    assert out.summary["integrity"]["finish_reasons"] == {"length": out.summary["succeeded"]}
    assert out.summary["slo_attainment"] == 1.0
