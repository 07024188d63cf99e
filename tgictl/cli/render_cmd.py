"""`tgictl render`: a spec as chart values or as validated Kubernetes manifests."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tgictl.cli.output import handles_errors
from tgictl.errors import SpecError


class RenderFormat(str, enum.Enum):
    values = "values"
    manifests = "manifests"
    kustomize = "kustomize"
    argocd = "argocd"
    flux = "flux"


FilesOption = Annotated[Optional[list[str]], typer.Option(
    "--file", "-f", show_default=False, metavar="FILE|DIR",
    help="Spec file, or a directory of them (*.yaml, *.yml); repeat for several. Several specs render in one process, "
         "helm running side by side; with --out-dir each gets DIR/<file stem>/. Default: tgi.yaml.")]


@handles_errors
def render(
    files: FilesOption = None,
    format: Annotated[RenderFormat, typer.Option("--output", "-o", "--format",
                                                 help="values, manifests, kustomize, argocd or flux.")] = RenderFormat.manifests,
    out: Annotated[Optional[Path], typer.Option("--out-dir", "-d",
                                                help="Directory to write (one file per object); stdout when unset or '-'.")] = None,
    force: Annotated[bool,
                     typer.Option(help="Overwrite or remove files in --out-dir that tgictl did not write (or that were edited "
                                       "since).")] = False,
    include_tests: Annotated[bool, typer.Option(help="Include the chart's `helm test` pod.")] = False,
    namespace: Annotated[Optional[str], typer.Option("--namespace", "-n", help="Namespace (overrides metadata.namespace).")] = None,
    repo_url: Annotated[str,
                        typer.Option(help="argocd/flux: Git repository holding the chart or tree (Argo CD).")] = "https://git.example.com/platform/llm-deployments.git",
    revision: Annotated[str, typer.Option(help="argocd: branch, tag or commit to follow.")] = "main",
    path: Annotated[str, typer.Option(help="argocd/flux: the chart's path in the repository, or the Kustomize tree's with "
                                           "--kustomize-path.")] = "charts/tgi",
    kustomize_path: Annotated[bool, typer.Option(help="argocd/flux: point at a committed Kustomize tree instead of the chart.")] = False,
    flux_source: Annotated[str, typer.Option(help="flux: the GitRepository object to read from.")] = "llm-deployments",
) -> None:
    """Render specs through the tgi chart: values, manifests, a Kustomize tree, or an
    Argo CD / Flux object; byte-for-byte stable output for GitOps."""
    from tgictl.render import batch

    sources = batch.spec_files(files or ["tgi.yaml"])
    several = len(sources) > 1
    to_stdout = out is None or str(out) == "-"
    if several and not to_stdout:
        batch.check_distinct_outputs(sources)

    def options_for(source: Path) -> Any:
        from tgictl.render import service

        return service.Options(include_tests=include_tests, source=source.name, repo_url=repo_url, revision=revision,
                               path=path, kustomize_path=kustomize_path, flux_source=flux_source)

    failed, unchecked = 0, set()
    for done in batch.render_files(sources, format.value, options_for, include_tests=include_tests, namespace=namespace):
        if done.error is not None:
            if not several:
                raise done.error
            failed += 1
            typer.echo(str(done.error) if isinstance(done.error, SpecError) else f"error: {done.source}: {done.error}", err=True)
            continue
        assert done.rendered is not None
        unchecked.update(done.rendered.unchecked)
        if to_stdout:
            typer.echo(_labelled(done.rendered.stream, done.source) if several else done.rendered.stream, nl=False)
        else:
            assert out is not None
            for written in done.rendered.write(batch.out_dir(out, done.source, several), force=force):
                typer.echo(str(written), err=True)
    if unchecked:
        typer.echo(f"note: not schema-checked, no CRDs at hand (set TGICTL_CRDS_DIR to a directory of CRD YAML): "
                   f"{', '.join(sorted(unchecked))}", err=True)
    if failed:
        typer.echo(f"error: {failed} of {len(sources)} specs failed to render", err=True)
        raise typer.Exit(2)


def _labelled(stream: str, source: Path) -> str:
    """One spec's output among several on stdout: its own YAML document(s), headed by its file."""
    body = stream.removeprefix("---\n")
    return f"---\n# tgictl render -f {source}\n{body}"
