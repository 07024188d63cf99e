"""Commands about the spec itself: init, validate, schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tgictl.cli.output import Format, OutputOption, SpecOption, handles_errors, print_json, print_table
from tgictl.errors import UsageError

from tgictl.spec import STARTER


@handles_errors
def init(
    file: Annotated[str, typer.Option("--file", "-f", help="Where to write the starter spec.")] = "tgi.yaml",
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter spec."""
    target = Path(file)
    if target.exists() and not force:
        raise UsageError(f"{target} exists; pass --force to overwrite it")
    target.write_text(STARTER.read_text())
    typer.echo(f"wrote {target}: edit it, then `tgictl validate -f {target}`")


@handles_errors
def validate(file: SpecOption = "tgi.yaml", output: OutputOption = Format.table) -> None:
    """Check a spec: schema, types and the engine's own rules."""
    from tgictl.engines import engine_for
    from tgictl.spec.load import load_file

    spec = load_file(file)
    engine = engine_for(spec)
    summary = {
        "file": file,
        "valid": True,
        "name": spec.metadata.name,
        "engine": engine.name,
        "model": spec.spec.model.id,
        "accelerator": f"{spec.spec.hardware.accelerator.count}x {spec.spec.hardware.accelerator.type}",
    }
    if output is Format.json:
        print_json(summary)
    else:
        print_table(["FIELD", "VALUE"], [(k, v) for k, v in summary.items() if k != "valid"])
        typer.echo(f"{file} is valid")


def schema() -> None:
    """Print the spec's JSON Schema (for editors and CI)."""
    from tgictl.spec.schema import json_schema

    print_json(json_schema())
