"""`tgictl bench URL`: a load test reporting TTFT, TPOT, ITL, throughput and goodput."""

from __future__ import annotations

import contextlib
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from tgictl.cli import target
from tgictl.cli.output import ApiKeyOption, Format, OutputOption, handles_errors, print_data, print_table
from tgictl.errors import UsageError

if TYPE_CHECKING:  # the load generator (aiohttp) is imported when bench runs: `tgictl --help` stays fast
    from tgictl.cost import ServerPrice
    from tgictl.loadgen.runner import BenchRun, Job, SweepRun
    from tgictl.loadgen.stats import SLOTargets
    from tgictl.loadgen.workload import Item

EXIT_SLO_MISSED = 1
EXIT_CLIENT_BOUND = 4


def _progress(done: int, failed: int, elapsed: float) -> None:
    sys.stderr.write(f"\r  {elapsed:6.1f}s  {done} done  {failed} failed  ")
    sys.stderr.flush()


def _row(name: str, dist: dict[str, float]) -> tuple[str, ...]:
    return (name, *(f"{dist.get(k, float('nan')):.2f}" for k in ("mean", "p50", "p90", "p95", "p99", "max")))


def _print_summary(result: dict[str, Any]) -> None:
    typer.echo(f"{result['profile']} against {result['url']} ({result['api']}): {result['succeeded']}/{result['requests']} ok "
               f"in {result['duration_s']:.2f}s")
    print_table(["ms", "mean", "p50", "p90", "p95", "p99", "max"],
                [_row(n, result[k]) for n, k in (("TTFT", "ttft_ms"), ("TPOT", "tpot_ms"), ("ITL", "itl_ms"),
                                                  ("E2E", "e2e_ms"), ("NTPOT", "ntpot_ms")) if result[k]])
    client = result["client"]
    typer.echo(f"throughput: {result['request_rate']:.2f} req/s, {result['output_tokens_per_s']:.1f} output tok/s; "
               f"goodput {result['goodput_rps']:.2f} req/s, SLO attainment {result['slo_attainment']:.1%}")
    if "cost" in result:
        typer.echo(_cost_line(result["cost"]))
    lag = client["dispatch_lag_ms"]
    typer.echo(f"client: CPU {client['cpu_per_core']:.0%} per core x{client['workers']}, dispatch lag p50 "
               f"{lag.get('p50', 0):.2f} / p99 {lag.get('p99', 0):.2f} ms"
               + (f", achieved {client['achieved_rate']:.1f}/s of {client['target_rate']:g}/s" if client["target_rate"] else ""))
    if result["errors"]:
        typer.echo(f"errors: {_counts(result['errors'])}")
    integrity = result["integrity"]
    typer.echo(f"streams: finish reasons {_counts(integrity['finish_reasons']) or 'none'}, "
               f"longest stall {integrity['longest_stall_ms']:.1f} ms, token counts from {_counts(result['token_source']) or 'none'}")
    for warning in client["warnings"]:
        typer.echo(f"WARNING client-bound: {warning}", err=True)


def _counts(counted: dict[str, int]) -> str:
    """``{'stop': 40, 'length': 2}`` as people read it: ``stop 40, length 2``."""
    return ", ".join(f"{name} {count}" for name, count in counted.items())


def _usd(value: float | None) -> str:
    return f"${value:.4g}" if value is not None else "n/a (no output tokens)"


def _cost_line(cost: dict[str, Any]) -> str:
    return (f"cost: {_usd(cost['usd_per_million_output_tokens'])} per million output tokens, "
            f"{_usd(cost['usd_per_million_output_tokens_at_goodput'])} counting only SLO-meeting requests "
            f"(server ${cost['usd_per_hour']:.4g}/h: {cost['basis']})")


def _print_sweep(sweep: SweepRun) -> None:
    print_table(["STEP", "TARGET/s", "ACHIEVED req/s", "TTFT p95 ms", "TPOT p95 ms", "ATTAINMENT"],
                [(p["profile"], f"{p['client']['target_rate']:.2f}" if p["client"]["target_rate"] else "-", f"{p['request_rate']:.2f}",
                  f"{p['ttft_ms'].get('p95', float('nan')):.1f}", f"{p['tpot_ms'].get('p95', float('nan')):.1f}",
                  f"{p['slo_attainment']:.1%}") for p in (run.summary for run in sweep.runs)])
    best = sweep.best.summary if sweep.best else None
    typer.echo(f"best rate meeting the SLO for {sweep.min_attainment:.0%} of requests: "
               + (f"{best['client']['target_rate']:.2f}/s offered, {best['request_rate']:.2f} req/s achieved "
                  f"(goodput {best['goodput_rps']:.2f} req/s)" if best else "none"))
    if best and "cost" in best:
        typer.echo(f"at that rate, {_cost_line(best['cost'])}")


def _print_run(run: BenchRun | SweepRun, output: Format) -> None:
    from tgictl.loadgen.runner import SweepRun

    if output is not Format.table:
        print_data(run.as_dict(), output)
    elif isinstance(run, SweepRun):
        _print_sweep(run)
    else:
        _print_summary(run.summary)


def _items(dataset: Path | None, requests: int, input_len: str, output_len: str, seed: int) -> list[Item]:
    """The requests to send: a JSONL dataset's, or synthetic prompts of the given lengths."""
    from tgictl.loadgen import workload

    if dataset:
        return workload.from_jsonl(dataset, workload.Length.parse(output_len).draw(random.Random(seed)))
    return workload.synthetic(max(requests, 1000), workload.Length.parse(input_len), workload.Length.parse(output_len), seed)


def _slo(ttft_ms: float | None, tpot_ms: float | None, e2e_ms: float | None, profile: str) -> SLOTargets:
    from tgictl.loadgen.stats import SLOTargets

    if profile == "sweep" and all(v is None for v in (ttft_ms, tpot_ms, e2e_ms)):
        raise UsageError("a sweep searches for the best rate meeting an SLO: give --slo-ttft-ms, --slo-tpot-ms or --slo-e2e-ms")
    seconds = [v / 1000 if v is not None else None for v in (ttft_ms, tpot_ms, e2e_ms)]
    return SLOTargets(*seconds)


def _load(job: Job, slo: SLOTargets, sweep_steps: int, min_attainment: float, workers: int) -> BenchRun | SweepRun:
    """One run, or a sweep of ``sweep_steps`` rates, with progress on a terminal; nothing is sent
    to a server that accepts no connection."""
    from tgictl.loadgen.client import check_reachable
    from tgictl.loadgen.runner import bench, sweep

    check_reachable(job.url)
    progress = _progress if sys.stderr.isatty() else None
    run = sweep(job, slo, sweep_steps, min_attainment, workers, progress) if sweep_steps else bench(job, slo, workers, progress)
    if progress:
        sys.stderr.write("\n")
    return run


def _release_spec(release: bool, url: str | None, file: str | None, namespace: str | None, gpu: str | None) -> Any:
    """The spec of the release under test (None for a URL; target.server refuses a release without one)."""
    if not release or not file or url:
        return None
    if gpu:
        raise UsageError("--gpu names what serves a URL; with --release the spec says it")
    from tgictl.cli.cluster_options import spec_in

    return spec_in(file, namespace)


def _server_price(spec: Any, price: float | None, prices: Path | None, gpu: str | None, gpu_count: int) -> ServerPrice | None:
    """What the server under test costs per hour: the release's spec, else --gpu/--price for a URL (None: not asked)."""
    from tgictl.plan.service import server_price, url_price

    if spec is not None:
        return server_price(spec, price=price, prices_file=prices)
    return url_price(gpu, gpu_count, price=price, prices_file=prices) if gpu or price is not None else None


@handles_errors
def bench(
    url: target.URLArgument = None,
    file: Annotated[Optional[str], typer.Option("--file", "-f", help="With --release: the spec of the release to load.")] = None,
    release: target.ReleaseOption = False,
    context: target.ReleaseContextOption = None,
    kubeconfig: target.KubeconfigOption = None,
    namespace: target.ReleaseNamespaceOption = None,
    profile: Annotated[str, typer.Option(help="constant, poisson (open loop), concurrency (closed loop) or sweep.")] = "concurrency",
    rate: Annotated[float, typer.Option(help="Requests/s for constant and poisson.")] = 10.0,
    concurrency: Annotated[int, typer.Option(help="In-flight requests for concurrency (and the sweep's ceiling probe).")] = 8,
    duration: Annotated[float, typer.Option(help="Seconds to send load (per sweep step).")] = 10.0,
    requests: Annotated[int, typer.Option(help="Stop after this many requests (0: run for --duration).")] = 0,
    api: Annotated[str, typer.Option(help="completions, chat (OpenAI) or tgi (/generate_stream).")] = "completions",
    model: Annotated[Optional[str], typer.Option(help="Model name to send (OpenAI APIs).")] = None,
    input_len: Annotated[str, typer.Option(help="Prompt length: fixed:N, uniform:A-B or normal:MEAN,SD.")] = "fixed:128",
    output_len: Annotated[str, typer.Option(help="max_tokens: fixed:N, uniform:A-B or normal:MEAN,SD.")] = "fixed:64",
    dataset: Annotated[Optional[Path], typer.Option(help="JSONL of {prompt, max_tokens} instead of synthetic prompts.")] = None,
    slo_ttft_ms: Annotated[Optional[float], typer.Option(help="SLO: TTFT at most this, ms.")] = None,
    slo_tpot_ms: Annotated[Optional[float], typer.Option(help="SLO: TPOT at most this, ms.")] = None,
    slo_e2e_ms: Annotated[Optional[float], typer.Option(help="SLO: end-to-end at most this, ms.")] = None,
    min_attainment: Annotated[float, typer.Option(help="Fraction of requests that must meet the SLOs (exit 1 below).")] = 0.9,
    sweep_steps: Annotated[int, typer.Option(
        min=1, help="Rates the sweep tries: evenly spaced fractions of the measured ceiling, 1/N to all of it.")] = 6,
    workers: Annotated[int, typer.Option(help="Client processes sharing the load.")] = 1,
    timeout: Annotated[float, typer.Option(help="Longest silence allowed in a stream, s.")] = 60.0,
    strict: Annotated[bool, typer.Option(help="Fail (exit 4) when the client, not the server, was the bottleneck.")] = False,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the summary as JSON here.")] = None,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Write one CSV row per request here.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Sweep only: PNG of latency against load.")] = None,
    html: Annotated[Optional[Path], typer.Option(help="Write a self-contained HTML report here.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --json/--csv/--plot/--html files tgictl did not write (or edited since).")] = False,
    seed: Annotated[int, typer.Option(help="Seed for arrivals and prompt lengths.")] = 0,
    price: Annotated[Optional[float], typer.Option(min=0.0, help="Cost: USD per accelerator-hour (default: the catalog's).")] = None,
    prices: Annotated[Optional[Path], typer.Option(help="Cost: YAML of accelerator: USD per accelerator-hour.")] = None,
    gpu: Annotated[Optional[str], typer.Option(help="Cost: the accelerator serving URL (with --release: the spec's).")] = None,
    gpu_count: Annotated[int, typer.Option(min=1, help="Cost: how many of them serve URL.")] = 1,
    api_key: ApiKeyOption = None,
    output: OutputOption = Format.table,
) -> None:
    """Load-test a server: open or closed loop, or a sweep for the best rate meeting the SLO."""
    from tgictl.adapters.files import check_writable, write_file
    from tgictl.loadgen.client import Timeouts
    from tgictl.loadgen.report import ReportPaths, report_files
    from tgictl.loadgen.runner import Job, Profile

    slo = _slo(slo_ttft_ms, slo_tpot_ms, slo_e2e_ms, profile)
    items = _items(dataset, requests, input_len, output_len, seed)
    paths = ReportPaths(json_out, csv_out, plot, html)
    check_writable(paths.asked, force=force)  # before the load, not after it
    spec = _release_spec(release, url, file, namespace, gpu)
    server_price = _server_price(spec, price, prices, gpu, gpu_count)
    with contextlib.ExitStack() as stack:  # holds the port-forward open for the run, with --release
        url, headers = target.server(stack, url, release, file, namespace, context, api_key, spec)
        job = Job(url.rstrip("/"), api, items, Profile(profile if profile != "sweep" else "concurrency", rate, concurrency),
                  duration, requests, model, Timeouts(read=timeout, total=max(timeout * 10, 600)), seed, headers=headers,
                  price=server_price)
        run = _load(job, slo, sweep_steps if profile == "sweep" else 0, min_attainment, workers)
    for path, data in report_files(run, paths, f"{url} sweep").items():
        write_file(path, data, writer="bench", force=force)
    _print_run(run, output)
    if run.missed(slo, min_attainment):
        raise typer.Exit(EXIT_SLO_MISSED)
    if strict and run.client_bound:
        raise typer.Exit(EXIT_CLIENT_BOUND)
