"""`tgictl deploy --canary N | --blue-green` and `tgictl rollout status|promote|abort`: a new
spec beside the running release, traffic shifted on its HTTPRoute, gated by its SLIs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from tgictl.cli.cluster_options import Release, release_command
from tgictl.cli.output import Format, OutputOption, handles_errors, phase_printer, print_data
from tgictl.cli.prometheus_options import CaFileOption, InsecureOption, PasswordFileOption, TokenFileOption

if TYPE_CHECKING:
    from tgictl.lifecycle.gate import Verdict
    from tgictl.lifecycle.rollout import RolloutResult
    from tgictl.monitor import PrometheusAccess

EXIT_ABORTED = 1

PrometheusOption = Annotated[Optional[str], typer.Option("--prometheus", envvar="TGICTL_PROMETHEUS",
                                                         help="Prometheus holding the llm: series the gate reads.")]


def _print(result: RolloutResult, output: Format) -> None:
    if output is not Format.table:
        print_data(result.as_dict(), output)
        return
    for change in result.changes:
        typer.echo(f"  {change}")
    typer.echo(f"{result.release}: {result.outcome}" + (f" ({result.reason})" if result.reason else ""))


def _show_step(weight: int, verdict: Verdict) -> None:
    typer.echo(f"  gate at {weight}%: {'passed' if verdict.passed else 'FAILED'}: "
               + "; ".join(c.why for c in verdict.checks), err=True)


def rollout_deploy(release: Release, weight: int, access: PrometheusAccess | None, step_seconds: float | None,
                   output: Format) -> None:
    """Deploy the release's spec as a canary at ``weight``% (0: blue-green, promoted by hand); with a
    Prometheus, walk rollout.steps through the gate, then promote or abort."""
    from tgictl.lifecycle import gate, rollout
    from tgictl.render.manifests import namespace_of

    spec, progress = release.spec, phase_printer(output)
    if access is None:
        result = rollout.start(spec, release.kube, weight, context=release.context, progress=progress)
    else:
        def figures(canary: str, stable: str) -> tuple[gate.Figures | None, gate.Figures | None]:
            return gate.read(access, namespace_of(spec), canary, stable)

        result = rollout.run_steps(spec, release.kube, figures, weight, context=release.context, step_seconds=step_seconds,
                                   progress=progress, on_step=_show_step if output is Format.table else None)
    _print(result, output)
    if result.outcome == "aborted":
        raise typer.Exit(EXIT_ABORTED)


app = typer.Typer(help="Canary and blue-green rollouts: where one stands, promote it, abort it.", no_args_is_help=True)


@app.command("status")
@handles_errors
@release_command
def status(release: Release,
           prometheus: PrometheusOption = None,
           ca_file: CaFileOption = None,
           insecure_skip_tls_verify: InsecureOption = False,
           prometheus_token_file: TokenFileOption = None,
           prometheus_password_file: PasswordFileOption = None,
           output: OutputOption = Format.table) -> None:
    """The canary's share of the route, and (with --prometheus) what the gate would decide now."""
    from tgictl.lifecycle import gate, rollout
    from tgictl.monitor import prometheus_access
    from tgictl.render.manifests import namespace_of

    spec = release.spec
    weight = rollout.current_weight(spec, release.context)
    found: dict[str, Any] = {"release": spec.metadata.name, "canary": rollout.canary_name(spec), "weight": weight}
    if prometheus and weight is not None:
        access = prometheus_access(prometheus, ca_file=ca_file, insecure_skip_tls_verify=insecure_skip_tls_verify,
                                   token_file=prometheus_token_file, password_file=prometheus_password_file)
        verdict = gate.judge(*gate.read(access, namespace_of(spec), found["canary"], found["release"]), gate.Thresholds.of(spec))
        found["gate"] = verdict.as_dict()
    if output is not Format.table:
        print_data(found, output)
        return
    typer.echo(f"{found['release']}: no canary on its route" if weight is None
               else f"{found['release']}: {weight}% of its route to {found['canary']}")
    for check in (found.get("gate") or {}).get("checks", []):
        typer.echo(f"  {'ok ' if check['passed'] else '-- ' if check['passed'] is None else 'BAD'} {check['why']}")


@app.command("promote")
@handles_errors
@release_command
def promote(release: Release,
            output: OutputOption = Format.table) -> None:
    """Upgrade the release to the spec (the canary keeps its share meanwhile), send it all traffic, remove the canary."""
    from tgictl.lifecycle import rollout

    _print(rollout.promote(release.spec, release.kube, context=release.context, progress=phase_printer(output)), output)


@app.command("abort")
@handles_errors
@release_command
def abort(release: Release,
          output: OutputOption = Format.table) -> None:
    """Send all traffic back to the release, then remove the canary."""
    from tgictl.lifecycle import rollout

    _print(rollout.abort(release.spec, release.context, reason="aborted by hand"), output)
