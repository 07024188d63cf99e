"""`tgictl render`: a spec as chart values or as validated Kubernetes manifests."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from tgictl.cli.output import SpecOption, handles_errors


class RenderFormat(str, enum.Enum):
    values = "values"
    manifests = "manifests"


@handles_errors
def render(
    file: SpecOption = "tgi.yaml",
    format: Annotated[RenderFormat, typer.Option("--format", help="values: the chart's values; manifests: the objects.")] = RenderFormat.manifests,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Directory to write (one file per object); stdout when unset.")] = None,
    include_tests: Annotated[bool, typer.Option(help="Include the chart's `helm test` pod.")] = False,
) -> None:
    """Render a spec through the tgi chart: byte-for-byte stable output for GitOps."""
    from tgictl.render import service
    from tgictl.spec.load import load_file

    spec = load_file(file)
    result = service.render(spec, format.value, include_tests=include_tests)
    if out is None:
        typer.echo(result.stream, nl=False)
        return
    for path in result.write(out):
        typer.echo(str(path), err=True)
