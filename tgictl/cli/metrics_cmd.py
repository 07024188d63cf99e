"""`tgictl metrics` and `tgictl top`: deployments' key SLIs from Prometheus."""

from __future__ import annotations

import time
from typing import Annotated, Any, Optional

import typer

from tgictl.cli.output import Format, OutputOption, handles_errors, print_data, print_table
from tgictl.cli.prometheus_options import CaFileOption, InsecureOption, PasswordFileOption, TokenFileOption

PrometheusOption = Annotated[str, typer.Option("--prometheus", envvar="TGICTL_PROMETHEUS", help="Prometheus base URL.")]
COLUMNS = [("requests_per_s", "REQ/S", "{:.2f}"), ("errors_per_s", "ERR/S", "{:.2f}"), ("waiting", "WAIT", "{:.0f}"),
           ("running", "RUN", "{:.0f}"), ("ttft_p95_s", "TTFT95", "{:.3f}s"), ("e2e_p95_s", "E2E95", "{:.2f}s"),
           ("tpot_p95_s", "TPOT95", "{:.1f}ms"), ("tokens_per_s", "TOK/S", "{:.0f}"), ("kv_cache_used", "KV", "{:.0%}"),
           ("replicas", "PODS", "{:.0f}")]


def _cell(value: Any, pattern: str) -> str:
    if value is None:
        return "-"
    return pattern.format(value * 1000 if pattern.endswith("ms") else value)


def _show(rows: list[Any], output: Format) -> None:
    from tgictl.monitor import as_dicts

    if output is not Format.table:
        print_data(as_dicts(rows), output)
        return
    print_table(["NAMESPACE", "DEPLOYMENT", *[h for _, h, _ in COLUMNS]],
                [(r.namespace, r.deployment, *[_cell(r.values[k], p) for k, _, p in COLUMNS]) for r in rows])


@handles_errors
def metrics(
    prometheus: PrometheusOption = "http://127.0.0.1:9090",
    namespace: Annotated[Optional[str], typer.Option("--namespace", "-n", help="Only this namespace.")] = None,
    deployment: Annotated[Optional[str], typer.Option(help="Only this deployment (metadata.name of its spec).")] = None,
    file: Annotated[Optional[str], typer.Option("--file", "-f", help="The deployment of this spec.")] = None,
    ca_file: CaFileOption = None,
    insecure_skip_tls_verify: InsecureOption = False,
    prometheus_token_file: TokenFileOption = None,
    prometheus_password_file: PasswordFileOption = None,
    output: OutputOption = Format.table,
) -> None:
    """A deployment's key SLIs now: traffic, errors, queue, latency, tokens, KV cache."""
    from tgictl.monitor import prometheus_access, read_slis

    access = prometheus_access(prometheus, ca_file=ca_file, insecure_skip_tls_verify=insecure_skip_tls_verify,
                               token_file=prometheus_token_file, password_file=prometheus_password_file)
    if file:
        from tgictl.spec.load import load_file

        spec = load_file(file)
        namespace, deployment = spec.metadata.namespace or "default", spec.metadata.name
    rows = read_slis(access, namespace, deployment)
    if not rows:
        typer.echo("no llm: series found: is the ServiceMonitor and PrometheusRule installed (spec.monitoring.enabled)?", err=True)
        raise typer.Exit(1)
    _show(rows, output)


@handles_errors
def top(
    prometheus: PrometheusOption = "http://127.0.0.1:9090",
    namespace: Annotated[Optional[str], typer.Option("--namespace", "-n", help="Only this namespace.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 5.0,
    iterations: Annotated[int, typer.Option(help="Refreshes before exiting (0: until Ctrl-C).")] = 0,
    ca_file: CaFileOption = None,
    insecure_skip_tls_verify: InsecureOption = False,
    prometheus_token_file: TokenFileOption = None,
    prometheus_password_file: PasswordFileOption = None,
    output: OutputOption = Format.table,
) -> None:
    """Every deployment's SLIs, refreshed like `top`."""
    from tgictl.monitor import prometheus_access, read_slis

    access = prometheus_access(prometheus, ca_file=ca_file, insecure_skip_tls_verify=insecure_skip_tls_verify,
                               token_file=prometheus_token_file, password_file=prometheus_password_file)
    count = 0
    try:
        while True:
            rows = read_slis(access, namespace)
            if output is Format.table:
                typer.echo("\x1b[2J\x1b[H", nl=False)  # clear the screen, cursor home
                typer.echo(f"tgictl top  {time.strftime('%H:%M:%S')}  {access.shown_url}  (every {interval:g}s, Ctrl-C to quit)\n")
            _show(rows, output)
            count += 1
            if iterations and count >= iterations:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
