"""Cluster commands that look before or while Helm changes the release:
doctor, deploy, status, diff. Helm changes the release; the Kubernetes API is
only read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from tgictl.cli.cluster_options import Release, release_command
from tgictl.cli.output import Format, OutputOption, fail, handles_errors, phase_printer, print_data, print_table
from tgictl.cli.prometheus_options import CaFileOption, InsecureOption, PasswordFileOption, TokenFileOption
from tgictl.lifecycle.progress import NODE_WAIT_S  # stdlib only: cheap at start-up

if TYPE_CHECKING:
    from tgictl.lifecycle.capacity import CapacityCheck


@handles_errors
@release_command
def doctor(release: Release,
           output: OutputOption = Format.table) -> None:
    """Pre-flight checks of the cluster for a spec: API, helm, GPUs, storage, CRDs, metrics APIs, secrets, quota."""
    from tgictl.lifecycle.doctor import FAIL, run_doctor

    checks = run_doctor(release.spec, release.kube, release.context)
    if output is not Format.table:
        print_data([c.as_dict() for c in checks], output)
    else:
        print_table(["CHECK", "RESULT", "DETAIL", "FIX"], [(c.name, c.status.upper(), c.detail, c.fix) for c in checks])
    if any(c.status == FAIL for c in checks):
        raise typer.Exit(1)


@handles_errors
@release_command
def deploy(
    release: Release,
    smoke: Annotated[bool, typer.Option(help="Smoke-test through a port-forward once ready.")] = True,
    poll: Annotated[float, typer.Option(help="Seconds between looks at the pods.")] = 2.0,
    timeout: Annotated[Optional[float], typer.Option(help="Seconds to wait for ready in all (default: the start-up probe budget + 60 "
                                                      "once the pod has a node, and --node-wait for the node).")] = None,
    node_wait: Annotated[float, typer.Option(help="Seconds a pod may wait for a node when no cluster autoscaler adds one.")] = NODE_WAIT_S,
    canary: Annotated[Optional[int], typer.Option(
        min=0, max=100, help="Deploy beside the running release as <name>-canary with this % of its route; with --prometheus, "
                             "walk rollout.steps through the gate.")] = None,
    blue_green: Annotated[bool, typer.Option(help="Deploy beside it with 0% of the route until `tgictl rollout promote`.")] = False,
    prometheus: Annotated[Optional[str], typer.Option("--prometheus", envvar="TGICTL_PROMETHEUS",
                                                      help="With --canary: the Prometheus the gate reads.")] = None,
    step_seconds: Annotated[Optional[float], typer.Option(min=1, help="With --canary: hold each step this long "
                                                                       "(default: rollout.stepSeconds).")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Install or upgrade the release and watch it start; explain and undo a failure."""
    from tgictl.lifecycle.deploy import deploy as run_deploy

    if canary is not None or blue_green:
        return _beside(release, 0 if blue_green else canary, prometheus, step_seconds, output)
    spec, kube = release.spec, release.kube
    result = run_deploy(spec, kube, context=release.context, progress=phase_printer(output), poll_s=poll, budget_s=timeout,
                        node_wait_s=node_wait)
    if smoke and not result.scaled_to_zero:  # no pod to smoke-test: the autoscaler's to wake
        from tgictl.lifecycle.portforward import smoke_release

        result.smoke = smoke_release(spec, kube)
    smoke_passed = result.smoke is None or bool(result.smoke["passed"])
    if output is not Format.table:
        print_data(result.as_dict(), output)
    elif result.scaled_to_zero:
        typer.echo(f"{result.release} revision {result.revision} applied and scaled to zero by its autoscaler (no demand): "
                   "its first pod starts on demand; no smoke test ran")
    else:
        typer.echo(f"{result.release} revision {result.revision} ready in {result.seconds:.0f}s of a "
                   f"{result.startup_budget_s:.0f}s start-up budget ({' → '.join(result.phases)})")
        echo_capacity(result.capacity)
        if result.smoke is not None:
            typer.echo(f"smoke: {'PASSED' if smoke_passed else 'FAILED'}")
    if not smoke_passed:
        raise typer.Exit(1)


def _beside(release: Release, weight: int | None, prometheus: str | None, step_seconds: float | None, output: Format) -> None:
    from tgictl.cli.rollout_cmds import rollout_deploy
    from tgictl.monitor import prometheus_access

    access = prometheus_access(prometheus) if prometheus and weight else None  # blue-green has no steps to gate
    rollout_deploy(release, weight or 0, access, step_seconds, output)


@handles_errors
@release_command
def status(
    release: Release,
    prometheus: Annotated[Optional[str], typer.Option("--prometheus", envvar="TGICTL_PROMETHEUS",
                                                      help="Also show key SLIs from this Prometheus.")] = None,
    ca_file: CaFileOption = None,
    insecure_skip_tls_verify: InsecureOption = False,
    prometheus_token_file: TokenFileOption = None,
    prometheus_password_file: PasswordFileOption = None,
    output: OutputOption = Format.table,
) -> None:
    """Release, revision, pods, readiness, restarts, where they run, and key metrics when Prometheus is known."""
    from tgictl.lifecycle.status import release_status
    from tgictl.monitor import prometheus_access

    access = prometheus and prometheus_access(prometheus, ca_file=ca_file, insecure_skip_tls_verify=insecure_skip_tls_verify,
                                              token_file=prometheus_token_file, password_file=prometheus_password_file)
    found = release_status(release.spec, release.kube, release.context, access or None)
    if output is not Format.table:
        print_data(found.as_dict(), output)
        return
    typer.echo(f"{found.release} ({found.engine} serving {found.model}) revision {found.revision}: {found.status}, {found.phase}")
    print_table(["POD", "PHASE", "READY", "RESTARTS", "NODE", "GPU"],
                [(r.pod, r.phase, r.ready, r.restarts, r.node, r.gpu or "-") for r in found.pods])
    if found.metrics:
        typer.echo("  ".join(f"{k}={v:.3g}" for k, v in found.metrics.items() if v is not None))
    echo_capacity(found.capacity)


def echo_capacity(checks: Sequence[CapacityCheck]) -> None:
    """What each pod's engine found at start-up beside the plan, and any limit that will fail."""
    for check in checks:
        typer.echo(f"{check.pod}: {check.summary()}")
        for warning in check.warnings:
            typer.echo(f"  warning: {warning}")


EXIT_DIFF_ERROR = 2


@handles_errors
@release_command
def diff(release: Release,
         output: OutputOption = Format.table) -> None:
    """What a deploy would change in the cluster, field by field. Exit codes as `kubectl diff`:
    0 nothing would change, 1 something would, 2 or more an error."""
    from tgictl.errors import TgictlError
    from tgictl.lifecycle.diff import diff as run_diff

    try:
        changes = run_diff(release.spec, release.kube)
    except TgictlError as err:  # 1 means "changes" here, so no error may exit 1
        raise fail(err, exit_code=max(EXIT_DIFF_ERROR, err.exit_code)) from None
    if output is not Format.table:
        print_data([c.as_dict() for c in changes], output)
    else:
        for change in changes:
            mark = {"new": "+", "changed": "~", "unchanged": " "}[change.status]
            typer.echo(f"{mark} {change.kind}/{change.name}")
            for line in change.fields:
                typer.echo(f"    {line}")
    if any(c.status != "unchanged" for c in changes):
        raise typer.Exit(1)
