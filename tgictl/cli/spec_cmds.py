"""Commands about the spec and tgictl itself: version, install-tools, init, validate, schema."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from tgictl.cli.output import Format, OutputOption, SpecOption, handles_errors, print_data, print_table
from tgictl.spec import starter_files


@handles_errors
def version(output: OutputOption = Format.table) -> None:
    """tgictl's version, the chart it renders, the helm and kubectl it drives, and each engine's default image."""
    from tgictl.version import versions

    found = versions()
    if output is not Format.table:
        print_data(found.as_dict(), output)
        return
    rows = [("tgictl", found.tgictl), ("chart", f"{found.chart} ({found.chart_path})"), ("helm", found.helm),
            ("kubectl", found.kubectl), *((f"image: {name}", image) for name, image in found.engine_images.items())]
    print_table(["COMPONENT", "VERSION"], rows)


@handles_errors
def install_tools(
    force: Annotated[bool, typer.Option(help="Download and unpack them again even when present.")] = False,
    output: OutputOption = Format.table,
) -> None:
    """Install the helm v4 and kubectl v1.35 tgictl drives into its tools directory ($TGICTL_TOOLS_DIR)."""
    from tgictl.adapters.toolchain import ensure

    found = {tool: {"path": str(path), "version": version} for tool, (path, version) in ensure(force).items()}
    if output is not Format.table:
        print_data(found, output)
        return
    print_table(["TOOL", "VERSION", "PATH"], [(tool, f["version"], f["path"]) for tool, f in found.items()])


@handles_errors
def init(
    file: Annotated[str, typer.Option("--file", "-f", help="Where to write the starter spec.")] = "tgi.yaml",
    force: Annotated[bool, typer.Option(help="Overwrite a file tgictl did not write, or one edited since.")] = False,
) -> None:
    """Write a commented starter spec, and beside it (demo-model/) the model config it plans from."""
    from tgictl.adapters.files import write_files

    target = Path(file)
    write_files(target.parent, starter_files(target.name), writer="init", force=force)
    typer.echo(f"wrote {target} and {target.parent / 'demo-model'}/: edit the spec, then `tgictl validate -f {target}`")


@handles_errors
def validate(file: SpecOption = "tgi.yaml", output: OutputOption = Format.table) -> None:
    """Check a spec: schema, types and the engine's own rules.

    With model.files, also what the model's own files rule out (its context, the KV cache, the
    accelerators), as render would."""
    from tgictl.engines import engine_for
    from tgictl.errors import SpecError
    from tgictl.plan.service import planned_for_render
    from tgictl.spec.load import load_file

    spec = load_file(file)
    engine = engine_for(spec)
    try:
        planned_for_render(spec)  # what render, and deploy after a GPU node came up, would refuse
    except SpecError as err:
        raise err.in_file(file) from None
    summary = {
        "file": file,
        "valid": True,
        "name": spec.metadata.name,
        "engine": engine.name,
        "model": spec.spec.model.id,
        "accelerator": f"{spec.spec.hardware.accelerator.count}x {spec.spec.hardware.accelerator.type}",
    }
    if output is not Format.table:
        print_data(summary, output)
    else:
        print_table(["FIELD", "VALUE"], [(k, v) for k, v in summary.items() if k != "valid"])
        typer.echo(f"{file} is valid")


class SchemaFormat(str, enum.Enum):
    json = "json"
    yaml = "yaml"


def schema(output: Annotated[SchemaFormat, typer.Option("--output", "-o", help="json or yaml.")] = SchemaFormat.json) -> None:
    """Print the spec's JSON Schema (for editors and CI)."""
    from tgictl.spec.schema import json_schema

    print_data(json_schema(), Format(output.value))
