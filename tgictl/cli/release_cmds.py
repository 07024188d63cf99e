"""Commands on an installed release: history, rollback, delete (Helm), logs and
port-forward (the Kubernetes API, read-only), and warming its model cache."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from tgictl.cli.cluster_options import Release, release_command
from tgictl.cli.output import Format, OutputOption, format_data, handles_errors, print_data, print_table


@handles_errors
@release_command
def history(release: Release,
            output: OutputOption = Format.table) -> None:
    """The release's revisions, oldest first, as Helm keeps them (what `rollback --revision` takes)."""
    from tgictl.lifecycle.release import revisions

    found = revisions(release.spec, release.context)
    if output is not Format.table:
        print_data(found, output)
        return
    print_table(["REVISION", "UPDATED", "STATUS", "CHART", "DESCRIPTION"],
                [(r.get("revision"), r.get("updated", ""), r.get("status"), r.get("chart", ""), r.get("description", "")) for r in found])


@handles_errors
@release_command
def rollback(release: Release,
             revision: Annotated[Optional[int], typer.Option(help="Revision to return to (the previous one when unset).")] = None,
             output: OutputOption = Format.table) -> None:
    """Return the release to an earlier revision (Helm keeps them)."""
    from tgictl.lifecycle.release import rollback as run_rollback

    revision = run_rollback(release.spec, release.context, revision)
    if output is not Format.table:
        print_data({"release": release.name, "namespace": release.namespace, "rolled_back_to": revision}, output)
    else:
        typer.echo(f"{release.name} rolled back to revision {revision}")


@handles_errors
@release_command
def delete(release: Release,
           wait: Annotated[bool, typer.Option(help="Return once the release's objects are gone.")] = True,
           output: OutputOption = Format.table) -> None:
    """Uninstall the release. The model-cache PVC is kept (weights are slow to download)."""
    from tgictl.lifecycle.release import delete as run_delete

    kept = run_delete(release.spec, release.context, wait)
    if output is not Format.table:
        print_data({"release": release.name, "namespace": release.namespace, "uninstalled": True, "kept_pvc": kept}, output)
    else:
        typer.echo(f"{release.name} uninstalled" + (f"; PVC {kept} kept" if kept else ""))


@handles_errors
@release_command
def logs(
    release: Release,
    tail: Annotated[int, typer.Option(help="Lines from the end of each pod's log.")] = 100,
    previous: Annotated[bool, typer.Option(help="The previous (crashed) container's log.")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing lines as they are written (JSON lines with -o json).")] = False,
    output: OutputOption = Format.table,
) -> None:
    """The engine's log lines from every pod of the release.

    Unlike kubectl's, -f is the spec file (as in every tgictl command): --follow streams."""
    import json

    from tgictl.lifecycle import logs as pod_logs

    spec, kube = release.spec, release.kube
    if follow:
        def emit(pod: str, line: str) -> None:
            record = {"pod": pod, "line": line}  # JSON lines, or one YAML document a line
            text = {Format.table: f"[{pod}] {line}", Format.json: json.dumps(record)}.get(output) or format_data(record, output)
            typer.echo(text.rstrip("\n"))

        _stop_on_sigterm()
        try:
            errors = pod_logs.follow(kube, spec, tail, emit)
        except KeyboardInterrupt:
            return
        for error in errors:
            typer.echo(f"error: {error}", err=True)
        if errors:
            raise typer.Exit(1)
        return
    found = pod_logs.tails(kube, spec, tail, previous)
    if output is not Format.table:
        print_data([log.as_dict() for log in found], output)
    else:
        for log in found:
            for line in log.lines:
                typer.echo(f"[{log.pod}] {line}")
    for log in found:
        if log.error:
            typer.echo(f"note: [{log.pod}] no log: {log.error}", err=True)
    if found and all(log.error for log in found):
        raise typer.Exit(1)


@handles_errors
@release_command
def port_forward(release: Release,
                 local_port: Annotated[int, typer.Option(help="Local port (a free one when 0).")] = 0) -> None:
    """Reach a ready pod of the release on a local port until interrupted (Ctrl-C)."""
    import signal

    from tgictl.lifecycle.portforward import forwarded

    with forwarded(release.spec, release.kube, local_port) as url:
        typer.echo(url)  # alone on stdout, for scripts: URL=$(tgictl port-forward ... | head -1)
        typer.echo("forwarding; Ctrl-C to stop", err=True)
        _stop_on_sigterm()
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


def _stop_on_sigterm() -> None:
    """A command that runs until stopped ends the same way on SIGTERM as on Ctrl-C: a process
    started in the background of a script ignores SIGINT, and supervisors send SIGTERM."""
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)


cache = typer.Typer(help="The model-cache PVC.", no_args_is_help=True)


@cache.command("warm")
@handles_errors
@release_command
def cache_warm(release: Release,
               poll: Annotated[float, typer.Option(help="Seconds between looks at the Job.")] = 2.0,
               output: OutputOption = Format.table) -> None:
    """Download the model into the cache PVC with a Job, before the first deploy."""
    from tgictl.lifecycle.cachewarm import check_warmable, warm

    spec = release.spec
    check_warmable(spec)
    last = warm(spec, release.kube, context=release.context, progress=lambda line: typer.echo(f"  {line}", err=True), poll_s=poll)
    if output is not Format.table:
        print_data({"release": spec.metadata.name, "pvc": f"{spec.metadata.name}-cache", "warm": True, "last_log_line": last}, output)
    else:
        typer.echo(f"cache of {spec.metadata.name} warm: {last}")
