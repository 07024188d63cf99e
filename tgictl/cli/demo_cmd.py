"""`tgictl demo`: the whole no-cluster workflow on the embedded starter spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tgictl.cli.output import Format, OutputOption, handles_errors, print_data, print_table


@handles_errors
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the spec and renders.")] = Path("tgictl-demo"),
    force: Annotated[bool, typer.Option(help="Overwrite files in --dir that tgictl did not write (or edited since).")] = False,
    output: OutputOption = Format.table,
) -> None:
    """Validate, plan and render the starter spec, then serve it with the simulator and smoke-test it."""
    from tgictl import demo as demo_service

    steps = demo_service.run(directory, force=force)
    if output is not Format.table:
        print_data([{"step": s.name, "ok": s.ok, "detail": s.detail} for s in steps], output)
    else:
        print_table(["STEP", "OK", "RESULT"], [(s.name, "yes" if s.ok else "NO", s.detail) for s in steps])
    if not all(s.ok for s in steps):
        raise typer.Exit(1)
