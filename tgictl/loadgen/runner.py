"""Load patterns and the run loop: open loop (constant or Poisson arrivals, with
dispatch lag recorded) and closed loop (fixed concurrency), optionally spread
over worker processes, each result carrying the client's own health.

A load pattern is a ``Profile`` in the ``PROFILES`` registry. ``run`` returns
raw per-request results plus client health; ``stats.summarize`` turns them
into metrics. The sweep (``sweep``) repeats open-loop runs to find the
highest rate that still meets the SLO.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp

from tgictl.cost import ServerPrice
from tgictl.errors import UsageError
from tgictl.loadgen.client import APIS, StreamResult, Timeouts, stream_one
from tgictl.loadgen.stats import SLOTargets, distribution, summarize
from tgictl.loadgen.workload import Item

Progress = Callable[[int, int, float], None]  # (done, failed, elapsed seconds)

# The client is the bottleneck, not the server, past these.
CPU_LIMIT = 0.8
LAG_P99_LIMIT = 0.010
RATE_SHORTFALL = 0.95


@dataclass(frozen=True)
class Profile:
    kind: str  # constant | poisson | concurrency
    rate: float = 0.0  # requests/s for open loop
    concurrency: int = 0  # workers for closed loop

    @property
    def open_loop(self) -> bool:
        return self.kind in ("constant", "poisson")

    def describe(self) -> str:
        return f"{self.kind} {self.rate:.2f}/s" if self.open_loop else f"concurrency {self.concurrency}"

    def split(self, workers: int) -> Profile:
        """This profile's share for one of ``workers`` processes."""
        if self.open_loop:
            return replace(self, rate=self.rate / workers)
        return replace(self, concurrency=max(1, self.concurrency // workers))


PROFILES = ("constant", "poisson", "concurrency")


@dataclass(frozen=True)
class Job:
    url: str
    api: str
    items: list[Item]
    profile: Profile
    duration: float  # seconds of sending (open loop) or of running (closed loop)
    max_requests: int = 0  # 0: no cap
    model: str | None = None
    timeouts: Timeouts = Timeouts()
    seed: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    price: ServerPrice | None = None  # what the server costs per hour: each summary then carries cost per token

    def check(self) -> None:
        if self.api not in APIS:
            raise UsageError(f"unknown api {self.api!r}; allowed: {', '.join(APIS)}")
        if self.profile.kind not in PROFILES:
            raise UsageError(f"unknown profile {self.profile.kind!r}; allowed: {', '.join(PROFILES)}, sweep")
        if self.profile.open_loop and self.profile.rate <= 0:
            raise UsageError("open-loop profiles need --rate > 0")
        if not self.profile.open_loop and self.profile.concurrency < 1:
            raise UsageError("the concurrency profile needs --concurrency >= 1")


@dataclass
class RunOutput:
    results: list[StreamResult]
    duration: float  # first send to last response
    cpu_seconds: float
    wall_seconds: float


def _arrivals(profile: Profile, duration: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    times: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(profile.rate) if profile.kind == "poisson" else 1.0 / profile.rate
        if t >= duration:
            return times
        times.append(t)


async def _run_async(job: Job, progress: Progress | None) -> RunOutput:
    results: list[StreamResult] = []
    limit = job.profile.concurrency if not job.profile.open_loop else 0
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, force_close=False)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    failed = 0

    def record(result: StreamResult) -> None:
        nonlocal failed
        results.append(result)
        failed += not result.ok
        if progress and len(results) % 25 == 0:
            progress(len(results), failed, time.perf_counter() - wall0)

    async with aiohttp.ClientSession(connector=connector) as session:
        items = job.items

        async def one(index: int, t_sched: float) -> None:
            item = items[index % len(items)]
            result = await stream_one(session, job.url, job.api, item.prompt, item.max_tokens, model=job.model,
                                      timeouts=job.timeouts, t_sched=t_sched, headers=job.headers or None)
            result.index = index
            record(result)

        start = time.perf_counter()
        if job.profile.open_loop:
            tasks = []
            for index, offset in enumerate(_arrivals(job.profile, job.duration, job.seed)):
                if job.max_requests and index >= job.max_requests:
                    break
                delay = start + offset - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(one(index, start + offset)))
            await asyncio.gather(*tasks)
        else:
            counter = iter(range(10**12))
            deadline = start + job.duration

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    index = next(counter)
                    if job.max_requests and index >= job.max_requests:
                        return
                    await one(index, time.perf_counter())

            await asyncio.gather(*(worker() for _ in range(job.profile.concurrency)))
    if progress:
        progress(len(results), failed, time.perf_counter() - wall0)
    sends = [r.t_send for r in results]
    ends = [r.t_end or r.t_last or r.t_send for r in results]
    duration = (max(ends) - min(sends)) if results else 0.0
    return RunOutput(results, duration, time.process_time() - cpu0, time.perf_counter() - wall0)


def _event_loop_run(coroutine: Any) -> Any:
    """asyncio.run on uvloop when installed (the `fast` extra): lower dispatch lag."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _worker_main(job: Job) -> RunOutput:
    return _event_loop_run(_run_async(job, None))


def run(job: Job, workers: int = 1, progress: Progress | None = None) -> RunOutput:
    """Run ``job`` in this process, or split over ``workers`` processes and merge."""
    job.check()
    if workers <= 1:
        return _event_loop_run(_run_async(job, progress))
    shares = [replace(job, profile=job.profile.split(workers), seed=job.seed + n,
                      max_requests=-(-job.max_requests // workers) if job.max_requests else 0) for n in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        outputs = pool.map(_worker_main, shares)
    # perf_counter is CLOCK_MONOTONIC on Linux: comparable across processes on one machine.
    results = [r for o in outputs for r in o.results]
    sends = [r.t_send for r in results]
    ends = [r.t_end or r.t_last or r.t_send for r in results]
    return RunOutput(results, (max(ends) - min(sends)) if results else 0.0,
                     sum(o.cpu_seconds for o in outputs), max(o.wall_seconds for o in outputs))


def client_health(job: Job, output: RunOutput, workers: int) -> dict[str, Any]:
    """How hard the client worked, and whether it, not the server, set the pace."""
    lags = [r.dispatch_lag for r in output.results]
    cpu = output.cpu_seconds / output.wall_seconds / max(1, workers) if output.wall_seconds else 0.0
    achieved = scheduled = None
    if job.profile.open_loop and len(output.results) > 1:
        # Compare the rate requests left at with the rate the schedule asked for
        # (not the nominal rate: a short Poisson schedule is noisy by itself).
        first = min(r.t_sched for r in output.results)
        span_sched = max(r.t_sched for r in output.results) - first
        span_sent = max(r.t_send for r in output.results) - first
        n = len(output.results) - 1
        scheduled = n / span_sched if span_sched else None
        achieved = n / span_sent if span_sent else None
    warnings = []
    if cpu > CPU_LIMIT:
        warnings.append(f"client CPU at {cpu:.0%} of {workers} core(s): latencies include client queueing; add --workers")
    lag = distribution(lags)
    if job.profile.open_loop and lags and lag["p99"] / 1000 > LAG_P99_LIMIT:
        warnings.append(f"dispatch lag p99 {lag['p99']:.1f} ms: requests left late; lower the rate or add --workers")
    target = job.profile.rate if job.profile.open_loop else None
    if scheduled and achieved is not None and achieved < RATE_SHORTFALL * scheduled:
        warnings.append(f"sent {achieved:.1f}/s of the {scheduled:.1f}/s scheduled")
    return {"cpu_per_core": cpu, "workers": workers, "target_rate": target, "scheduled_rate": scheduled, "achieved_rate": achieved,
            "dispatch_lag_ms": lag, "client_bound": bool(warnings), "warnings": warnings}


@dataclass(frozen=True)
class BenchRun:
    """One run: its summary (metrics and client health, what ``-o json`` prints) and
    the raw per-request results (what ``--csv`` writes)."""

    summary: dict[str, Any]
    results: tuple[StreamResult, ...]

    @property
    def runs(self) -> tuple[BenchRun, ...]:
        return (self,)

    @property
    def client_bound(self) -> bool:
        return bool(self.summary["client"]["client_bound"])

    def missed(self, slo: SLOTargets, min_attainment: float) -> bool:
        """Nothing succeeded, or fewer than ``min_attainment`` of requests met the SLO."""
        return self.summary["succeeded"] == 0 or (slo.any and self.summary["slo_attainment"] < min_attainment)

    def as_dict(self) -> dict[str, Any]:
        return self.summary


@dataclass(frozen=True)
class SweepRun:
    """A sweep: the closed-loop ceiling probe, each open-loop rate tried, and the best
    rate whose SLO attainment held (None when none did)."""

    ceiling: BenchRun
    points: tuple[BenchRun, ...]
    best: BenchRun | None
    min_attainment: float

    @property
    def runs(self) -> tuple[BenchRun, ...]:
        return (self.ceiling, *self.points)

    @property
    def results(self) -> tuple[StreamResult, ...]:
        return tuple(r for run in self.runs for r in run.results)

    @property
    def client_bound(self) -> bool:
        return any(run.client_bound for run in self.runs)

    def missed(self, slo: SLOTargets, min_attainment: float) -> bool:
        return self.best is None

    def as_dict(self) -> dict[str, Any]:
        return {"ceiling": self.ceiling.summary, "points": [p.summary for p in self.points],
                "best": self.best.summary if self.best else None, "min_attainment": self.min_attainment}


def bench(job: Job, slo: SLOTargets, workers: int = 1, progress: Progress | None = None) -> BenchRun:
    """One run, summarized: metrics, client health and the raw results."""
    output = run(job, workers, progress)
    summary = summarize(output.results, output.duration, slo)
    summary = {"profile": job.profile.describe(), "api": job.api, "url": job.url, **summary,
               "config": configuration(job, slo, workers), "client": client_health(job, output, workers)}
    if job.price:
        summary["cost"] = job.price.of_run(summary)
    return BenchRun(summary, tuple(output.results))


def configuration(job: Job, slo: SLOTargets, workers: int) -> dict[str, Any]:
    """What the run was asked to do, for reports read later."""
    def ms(seconds: float | None) -> float | None:
        return seconds * 1000 if seconds is not None else None

    return {"duration_s": job.duration, "max_requests": job.max_requests, "model": job.model, "workers": workers,
            "prompts": len(job.items), "seed": job.seed,
            "slo_ms": {"ttft": ms(slo.ttft), "tpot": ms(slo.tpot), "e2e": ms(slo.e2e)}}


def sweep(job: Job, slo: SLOTargets, steps: int, min_attainment: float, workers: int = 1,
          progress: Progress | None = None) -> SweepRun:
    """Find the highest request rate whose SLO attainment stays at ``min_attainment``.

    First a closed-loop run at the job's concurrency measures the server's ceiling; then
    ``steps`` open-loop Poisson runs at evenly spaced fractions of it (1/steps … all of it),
    as guidellm's sweep does, so the report draws a curve. It once bisected, and stopped
    after one rate whenever the ceiling itself met the SLO."""
    ceiling_job = replace(job, profile=Profile("concurrency", concurrency=max(1, job.profile.concurrency or 32)))
    ceiling = bench(ceiling_job, slo, workers, progress)
    top = max(ceiling.summary["request_rate"], 0.1)
    points = tuple(bench(replace(job, profile=Profile("poisson", rate=top * step / steps)), slo, workers, progress)
                   for step in range(1, steps + 1))
    met = [point for point in points if point.summary["slo_attainment"] >= min_attainment]
    best = max(met, key=lambda point: point.summary["client"]["target_rate"], default=None)
    return SweepRun(ceiling, points, best, min_attainment)
