"""`tgictl smoke URL`: prove a running server works, as a pass/fail table."""

from __future__ import annotations

import contextlib
from typing import Annotated, Optional

import typer

from tgictl.cli import target
from tgictl.cli.output import ApiKeyOption, Format, OutputOption, handles_errors, print_data, print_table


@handles_errors
def smoke(
    url: target.URLArgument = None,
    file: Annotated[Optional[str], typer.Option("--file", "-f", help=(
        "Spec whose limits the server must report: the ones it sets, else the ones planned from model.files."))] = None,
    release: target.ReleaseOption = False,
    context: target.ReleaseContextOption = None,
    kubeconfig: target.KubeconfigOption = None,
    namespace: target.ReleaseNamespaceOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds each check may take.")] = 30.0,
    api_key: ApiKeyOption = None,
    slo_requests: Annotated[int, typer.Option(help="Streamed requests for the SLO check (0: no SLO check).")] = 0,
    ttft_p50_ms: Annotated[Optional[float], typer.Option(help="SLO: TTFT p50 at most this, ms.")] = None,
    ttft_p95_ms: Annotated[Optional[float], typer.Option(help="SLO: TTFT p95 at most this, ms.")] = None,
    itl_p50_ms: Annotated[Optional[float], typer.Option(help="SLO: inter-token latency p50 at most this, ms.")] = None,
    itl_p95_ms: Annotated[Optional[float], typer.Option(help="SLO: inter-token latency p95 at most this, ms.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Check health, limits, generation, streaming, chat, the 422 on long prompts, metrics and SLOs."""
    import asyncio

    from tgictl.smoke.runner import SLO, Expectations, run_smoke

    expect, spec = Expectations(), None
    if file:
        from tgictl.cli.cluster_options import spec_in
        from tgictl.plan.service import planned_for_render

        from tgictl.errors import SpecError

        spec = spec_in(file, namespace)
        try:
            serving = planned_for_render(spec)[0].spec.serving  # the limits the render passes the engine
        except SpecError as err:
            raise err.in_file(file) from None
        expect = Expectations(serving.max_input_tokens, serving.max_total_tokens, from_spec=True)
    if any(v is not None for v in (ttft_p50_ms, ttft_p95_ms, itl_p50_ms, itl_p95_ms)) and not slo_requests:
        slo_requests = 20
    ms = lambda v: v / 1000 if v is not None else None  # noqa: E731
    slo = SLO(slo_requests, ms(ttft_p50_ms), ms(ttft_p95_ms), ms(itl_p50_ms), ms(itl_p95_ms))
    with contextlib.ExitStack() as stack:  # holds the port-forward open for the checks, with --release
        url, headers = target.server(stack, url, release, file, namespace, context, api_key, spec)
        report = asyncio.run(run_smoke(url, expect, slo, timeout, headers))
    if output is not Format.table:
        print_data(report.as_dict(), output)
    else:
        print_table(["CHECK", "RESULT", "SECONDS", "DETAIL"],
                    [(c.name, c.status.upper(), f"{c.seconds:.3f}", c.detail) for c in report.checks])
        typer.echo(f"{'PASSED' if report.passed else 'FAILED'}: {report.url} ({report.engine})")
    if not report.passed:
        raise typer.Exit(1)
