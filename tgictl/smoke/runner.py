"""Run the smoke checks in order, each under its own timeout, and report as data."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass

import aiohttp

from tgictl.loadgen.client import Timeouts
from tgictl.smoke.checks import CHECKS, FAIL, PASS, SKIP, SLO, Context, Expectations


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # pass | fail | skip
    seconds: float
    detail: str


@dataclass(frozen=True)
class SmokeReport:
    url: str
    engine: str
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {"url": self.url, "engine": self.engine, "passed": self.passed, "checks": [asdict(c) for c in self.checks]}


async def run_smoke(
    url: str,
    expect: Expectations = Expectations(),
    slo: SLO = SLO(),
    check_timeout: float = 30.0,
    headers: dict[str, str] | None = None,
) -> SmokeReport:
    """Run every check against ``url``. A check that overruns ``check_timeout`` fails;
    when health fails the rest are skipped, since they would only repeat it."""
    url = url.rstrip("/")
    timeouts = Timeouts(connect=min(5.0, check_timeout), read=check_timeout, total=check_timeout)
    results: list[CheckResult] = []
    # One connection per request: smoke is not about throughput, and servers
    # that drop keep-alive connections after streams must not fail a check.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        ctx = Context(session, url, expect, slo, timeouts, headers or {})
        for name, function in CHECKS.items():
            if results and results[0].status == FAIL:
                results.append(CheckResult(name, SKIP, 0.0, "skipped: the server is not healthy"))
                continue
            budget = check_timeout * (slo.requests + 1) if name == "slo" else check_timeout
            started = time.perf_counter()
            try:
                status, detail = await asyncio.wait_for(function(ctx), budget)
            except asyncio.TimeoutError:
                status, detail = FAIL, f"no answer within {budget:g}s"
            except aiohttp.ClientError as err:
                status, detail = FAIL, f"{type(err).__name__}: {err}"
            results.append(CheckResult(name, status, round(time.perf_counter() - started, 4), detail))
    return SmokeReport(url, ctx.engine or "unknown", results)


__all__ = ["run_smoke", "SmokeReport", "CheckResult", "Expectations", "SLO", "PASS", "FAIL", "SKIP"]
