"""`tgictl bench URL`: a load test reporting TTFT, TPOT, ITL, throughput and goodput."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tgictl.cli import target
from tgictl.cli.output import ApiKeyOption, Format, OutputOption, handles_errors, print_data, print_table

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
    lag = client["dispatch_lag_ms"]
    typer.echo(f"client: CPU {client['cpu_per_core']:.0%} per core x{client['workers']}, dispatch lag p50 "
               f"{lag.get('p50', 0):.2f} / p99 {lag.get('p99', 0):.2f} ms"
               + (f", achieved {client['achieved_rate']:.1f}/s of {client['target_rate']:g}/s" if client["target_rate"] else ""))
    if result["errors"]:
        typer.echo(f"errors: {result['errors']}")
    integrity = result["integrity"]
    typer.echo(f"streams: finish reasons {integrity['finish_reasons']}, longest stall {integrity['longest_stall_ms']:.1f} ms, "
               f"token counts from {result['token_source']}")
    for warning in client["warnings"]:
        typer.echo(f"WARNING client-bound: {warning}", err=True)


def _print_sweep(result: dict[str, Any], min_attainment: float) -> None:
    steps = [result["ceiling"], *result["points"]]
    print_table(["STEP", "TARGET/s", "ACHIEVED req/s", "TTFT p95 ms", "TPOT p95 ms", "ATTAINMENT"],
                [(p["profile"], f"{p['client']['target_rate']:.2f}" if p["client"]["target_rate"] else "-", f"{p['request_rate']:.2f}",
                  f"{p['ttft_ms'].get('p95', float('nan')):.1f}", f"{p['tpot_ms'].get('p95', float('nan')):.1f}",
                  f"{p['slo_attainment']:.1%}") for p in steps])
    best = result["best"]
    typer.echo(f"best rate meeting the SLO for {min_attainment:.0%} of requests: "
               + (f"{best['client']['target_rate']:.2f}/s (goodput {best['goodput_rps']:.2f} req/s)" if best else "none"))


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
    sweep_steps: Annotated[int, typer.Option(help="Rates the sweep tries.")] = 6,
    workers: Annotated[int, typer.Option(help="Client processes sharing the load.")] = 1,
    timeout: Annotated[float, typer.Option(help="Longest silence allowed in a stream, s.")] = 60.0,
    strict: Annotated[bool, typer.Option(help="Fail (exit 4) when the client, not the server, was the bottleneck.")] = False,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the summary as JSON here.")] = None,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Write one CSV row per request here.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Sweep only: PNG of latency against load.")] = None,
    html: Annotated[Optional[Path], typer.Option(help="Write a self-contained HTML report here.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --json/--csv/--plot/--html files tgictl did not write (or edited since).")] = False,
    seed: Annotated[int, typer.Option(help="Seed for arrivals and prompt lengths.")] = 0,
    api_key: ApiKeyOption = None,
    output: OutputOption = Format.table,
) -> None:
    """Load-test a server: open or closed loop, or a sweep for the best rate meeting the SLO."""
    from tgictl.adapters.files import check_writable, write_file
    from tgictl.errors import UsageError
    from tgictl.loadgen import report, workload
    from tgictl.loadgen.client import Timeouts
    from tgictl.loadgen.runner import Job, Profile, bench as run_bench, sweep
    from tgictl.loadgen.stats import SLOTargets

    if profile == "sweep" and not any(v is not None for v in (slo_ttft_ms, slo_tpot_ms, slo_e2e_ms)):
        raise UsageError("a sweep searches for the best rate meeting an SLO: give --slo-ttft-ms, --slo-tpot-ms or --slo-e2e-ms")
    if dataset:
        items = workload.from_jsonl(dataset, workload.Length.parse(output_len).draw(__import__("random").Random(seed)))
    else:
        items = workload.synthetic(max(requests, 1000), workload.Length.parse(input_len), workload.Length.parse(output_len), seed)
    check_writable([p for p in (json_out, csv_out, plot, html) if p], force=force)  # before the load, not after it
    ms = lambda v: v / 1000 if v is not None else None  # noqa: E731
    slo = SLOTargets(ms(slo_ttft_ms), ms(slo_tpot_ms), ms(slo_e2e_ms))
    progress = _progress if sys.stderr.isatty() else None
    with contextlib.ExitStack() as stack:  # holds the port-forward open for the run, with --release
        url, headers = target.server(stack, url, release, file, namespace, context, api_key)
        job = Job(url.rstrip("/"), api, items, Profile(profile if profile != "sweep" else "concurrency", rate, concurrency),
                  duration, requests, model, Timeouts(read=timeout, total=max(timeout * 10, 600)), seed, headers=headers)
        if profile == "sweep":
            result = sweep(job, slo, sweep_steps, min_attainment, workers, progress)
        else:
            result = run_bench(job, slo, workers, progress)
    files: dict[Path, str | bytes] = {}
    if profile == "sweep":
        steps = [result["ceiling"], *result["points"]]
        if plot:
            files[plot] = report.plot_png(result["points"], f"{url} sweep")
        if csv_out:
            files[csv_out] = report.as_csv([r for p in steps for r in p["_results"]])
        client_bound = any(p["client"]["client_bound"] for p in steps)
        missed = result["best"] is None
    else:
        if progress:
            sys.stderr.write("\n")
        if csv_out:
            files[csv_out] = report.as_csv(result["_results"])
        client_bound = result["client"]["client_bound"]
        missed = (slo.any and result["slo_attainment"] < min_attainment) or result["succeeded"] == 0
    if json_out:
        files[json_out] = report.as_json(result)
    if html:
        files[html] = report.as_html(result)
    for path, data in files.items():
        write_file(path, data, writer="bench", force=force)
    if output is not Format.table:
        print_data(report.public(result), output)
    elif profile == "sweep":
        _print_sweep(result, min_attainment)
    else:
        _print_summary(result)
    if missed:
        raise typer.Exit(EXIT_SLO_MISSED)
    if strict and client_bound:
        raise typer.Exit(EXIT_CLIENT_BOUND)

