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
    kustomize = "kustomize"
    argocd = "argocd"
    flux = "flux"


@handles_errors
def render(
    file: SpecOption = "tgi.yaml",
    format: Annotated[RenderFormat, typer.Option("--output", "-o", "--format",
                                                 help="values, manifests, kustomize, argocd or flux.")] = RenderFormat.manifests,
    out: Annotated[Optional[Path], typer.Option("--out-dir", "-d",
                                                help="Directory to write (one file per object); stdout when unset or '-'.")] = None,
    force: Annotated[bool,
                     typer.Option(help="Overwrite or remove files in --out-dir that tgictl did not write (or that were edited "
                                       "since).")] = False,
    include_tests: Annotated[bool, typer.Option(help="Include the chart's `helm test` pod.")] = False,
    repo_url: Annotated[str,
                        typer.Option(help="argocd/flux: Git repository holding the chart or tree (Argo CD).")] = "https://git.example.com/platform/llm-deployments.git",
    revision: Annotated[str, typer.Option(help="argocd: branch, tag or commit to follow.")] = "main",
    path: Annotated[str, typer.Option(help="argocd/flux: the chart's path in the repository, or the Kustomize tree's with "
                                           "--kustomize-path.")] = "charts/tgi",
    kustomize_path: Annotated[bool, typer.Option(help="argocd/flux: point at a committed Kustomize tree instead of the chart.")] = False,
    flux_source: Annotated[str, typer.Option(help="flux: the GitRepository object to read from.")] = "llm-deployments",
) -> None:
    """Render a spec through the tgi chart: values, manifests, a Kustomize tree, or an
    Argo CD / Flux object; byte-for-byte stable output for GitOps."""
    from pathlib import PurePath

    from tgictl.render import service
    from tgictl.spec.load import load_file

    spec = load_file(file)
    options = service.Options(include_tests=include_tests, source=PurePath(file).name, repo_url=repo_url,
                              revision=revision, path=path, kustomize_path=kustomize_path, flux_source=flux_source)
    result = service.render(spec, format.value, options=options)
    if result.unchecked:
        typer.echo(f"note: not schema-checked, no CRDs at hand (set TGICTL_CRDS_DIR to a directory of CRD YAML): "
                   f"{', '.join(result.unchecked)}", err=True)
    if out is None or str(out) == "-":
        typer.echo(result.stream, nl=False)
        return
    for written in result.write(out, force=force):
        typer.echo(str(written), err=True)
