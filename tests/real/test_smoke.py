"""`tgictl smoke` against the simulator in each flavour, the real llama.cpp
server, and servers that fail in every way a stream can fail."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiohttp
import pytest
from typer.testing import CliRunner

from support.faulty import faulty_server
from support.llama import llama_server
from support.servers import simulator
from tgictl.cli.main import app
from tgictl.loadgen.client import Timeouts, stream_one
from tgictl.smoke.runner import SLO, Expectations, run_smoke

runner = CliRunner()
FAST = ("--decode-ms", "1", "--prefill-ms-per-token", "0.01")


def statuses(report: object) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}  # type: ignore[attr-defined]


@pytest.mark.parametrize("engine", ["tgi", "vllm", "llamacpp"])
def test_smoke_passes_against_each_simulator_flavour(engine: str) -> None:
    with simulator(*FAST, "--engine", engine, "--max-input-tokens", "100", "--max-total-tokens", "200") as url:
        report = asyncio.run(run_smoke(url, slo=SLO(requests=5, ttft_p95=0.5)))
    assert report.passed, report.checks
    assert report.engine == engine
    found = statuses(report)
    assert found["limits"] == "skip" and found["slo"] == "pass"
    assert found["compat"] == ("pass" if engine == "tgi" else "skip")  # POST / is TGI's alone
    assert all(found[name] == "pass" for name in ("health", "generate", "stream", "chat", "token-limit", "metrics"))


def test_limits_checked_against_the_spec() -> None:
    with simulator(*FAST, "--max-input-tokens", "100", "--max-total-tokens", "200") as url:
        good = asyncio.run(run_smoke(url, Expectations(100, 200)))
        bad = asyncio.run(run_smoke(url, Expectations(100, 4096)))
    assert statuses(good)["limits"] == "pass"
    assert statuses(bad)["limits"] == "fail" and not bad.passed
    assert "max_total_tokens is 200, spec wants 4096" in next(c.detail for c in bad.checks if c.name == "limits")


def test_slo_threshold_fails_a_slow_server() -> None:
    with simulator("--decode-ms", "1", "--prefill-ms-per-token", "20") as url:  # ~100 ms prefill for the SLO prompt
        report = asyncio.run(run_smoke(url, slo=SLO(requests=3, ttft_p50=0.02)))
    slo = next(c for c in report.checks if c.name == "slo")
    assert slo.status == "fail" and "ttft_p50" in slo.detail


def test_smoke_cli_table_json_and_exit_codes() -> None:
    with simulator(*FAST) as url:
        table = runner.invoke(app, ["smoke", url])
        as_json = runner.invoke(app, ["smoke", url, "-o", "json", "--ttft-p95-ms", "500", "--slo-requests", "3"])
    assert table.exit_code == 0 and "PASSED" in table.stdout
    data = json.loads(as_json.stdout)
    assert data["passed"] and [c["name"] for c in data["checks"]][-1] == "slo"
    down = runner.invoke(app, ["smoke", "http://127.0.0.1:9", "--timeout", "2"])
    assert down.exit_code == 1 and "FAILED" in down.stdout


def test_smoke_with_a_spec_compares_the_limits_it_plans(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A spec that leaves its limits to the plan (model.files) is compared on the planned ones,
    as the render passes them; smoke once skipped them as if no spec were given."""
    import yaml

    from support.data import MODELS, document

    def spec_file(name: str, **serving: int) -> str:
        model = {"id": "meta-llama/Llama-3.1-8B-Instruct", "files": str(MODELS / "llama-3.1-8b")}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(document(model=model, hardware={"accelerator": {"type": "a10g", "count": 1}},
                                                serving=serving)))
        return str(path)

    planned, written = spec_file("planned.yaml"), spec_file("written.yaml", maxTotalTokens=1024)
    unplanned = tmp_path / "unplanned.yaml"
    unplanned.write_text(yaml.safe_dump(document()))
    with simulator("-f", planned) as url:
        served = runner.invoke(app, ["smoke", url, "-f", planned, "-o", "json"])
        wrong = runner.invoke(app, ["smoke", url, "-f", written, "-o", "json"])
        open_limits = runner.invoke(app, ["smoke", url, "-f", str(unplanned), "-o", "json"])
    check = lambda result: next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "limits")  # noqa: E731
    assert served.exit_code == 0 and check(served)["status"] == "pass", served.stdout
    assert wrong.exit_code == 1 and "spec wants 1024" in check(wrong)["detail"]
    assert (check(open_limits)["status"], check(open_limits)["detail"]) == (
        "skip", "the spec leaves the limits to the engine (no model.files to plan them from): nothing to compare")


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_server(tmp_path_factory.mktemp("llama")) as url:
        yield url


def test_smoke_passes_against_real_llama_server(llama: str) -> None:
    report = asyncio.run(run_smoke(llama, slo=SLO(requests=10, ttft_p95=1.0)))
    assert report.passed, report.checks
    assert report.engine == "llamacpp"
    assert statuses(report)["token-limit"] == "pass"  # llama-server refuses prompts beyond its context with 400


def test_simulator_llamacpp_metrics_match_the_real_server(llama: str) -> None:
    import requests

    def types(url: str) -> set[str]:
        return {line for line in requests.get(url + "/metrics", timeout=5).text.splitlines() if line.startswith("# TYPE")}

    with simulator(*FAST, "--engine", "llamacpp") as sim:
        assert types(sim) == types(llama)


# --- faulty servers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty() -> Iterator[str]:
    with faulty_server() as url:
        yield url


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [("healthy", None), ("reset", "reset"), ("malformed", "malformed"), ("stall_first", "timeout_first_byte"),
     ("stall_between", "stall"), ("server_error", "http_5xx"), ("in_stream_error", "in_stream_error"),
     ("no_terminator", "incomplete")],
)
def test_stream_faults_are_classified_within_the_timeout(faulty: str, fault: str, error_class: str | None) -> None:
    async def one() -> tuple[object, float]:
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            result = await stream_one(session, f"{faulty}/{fault}", "completions", "hi", 8, timeouts=Timeouts(2, 1.0, 5))
            return result, time.perf_counter() - started

    result, elapsed = asyncio.run(one())
    assert result.error_class == error_class, result.error  # type: ignore[attr-defined]
    assert elapsed < 3.0  # the 1 s read timeout bounds every stall
    if fault == "in_stream_error":
        assert result.error == "CUDA out of memory"  # type: ignore[attr-defined]
    if fault == "reset":
        assert result.output_tokens == 1  # type: ignore[attr-defined]


def test_stream_check_fails_a_buffered_stream(faulty: str) -> None:
    from tgictl.smoke.checks import Context, stream

    async def check() -> tuple[str, str]:
        async with aiohttp.ClientSession() as session:
            ctx = Context(session, f"{faulty}/buffered", Expectations(), SLO(), Timeouts(2, 2, 5), engine="openai")
            return await stream(ctx)

    status, detail = asyncio.run(check())
    assert status == "fail" and "buffered" in detail


def test_smoke_needs_a_url_or_a_release() -> None:
    assert runner.invoke(app, ["smoke"]).exit_code == 2
    both = runner.invoke(app, ["smoke", "http://127.0.0.1:9", "--release"])
    assert both.exit_code == 2 and "--release reaches the release of a spec" in both.stderr
