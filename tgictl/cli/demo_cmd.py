"""`tgictl demo`: the whole no-cluster workflow on the embedded starter spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tgictl.cli.output import Format, OutputOption, handles_errors, print_json, print_table


@handles_errors
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the spec and renders.")] = Path("tgictl-demo"),
    output: OutputOption = Format.table,
) -> None:
    """Run init, validate and render on the embedded starter spec (no cluster needed)."""
    from tgictl import demo as demo_service

    steps = demo_service.run(directory)
    if output is Format.json:
        print_json([{"step": s.name, "detail": s.detail} for s in steps])
    else:
        print_table(["STEP", "RESULT"], [(s.name, s.detail) for s in steps])
