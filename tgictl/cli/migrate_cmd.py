"""`tgictl migrate`: the same deployment on another engine, with a mapping report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tgictl.cli.output import Format, OutputOption, handles_errors, print_data


@handles_errors
def migrate(
    to: Annotated[str, typer.Option("--to", help="Target engine: tgi, vllm or llamacpp.")],
    file: Annotated[Optional[str], typer.Option("--file", "-f", help="Spec to migrate.")] = None,
    tgi_args: Annotated[Optional[Path],
                        typer.Option(help="A TGI container's args (list or string) or env block (NAME=value lines).")] = None,
    name: Annotated[str, typer.Option(help="metadata.name when migrating from TGI args.")] = "migrated",
    model: Annotated[Optional[str], typer.Option(
        "--model", help="The model the target engine loads instead of the spec's (llama.cpp: a GGUF repo or .gguf path).")] = None,
    gguf_file: Annotated[Optional[str], typer.Option(help="llama.cpp: the GGUF file inside the --model repo.")] = None,
    write: Annotated[Optional[Path], typer.Option("--write", "-w", help="Write the new spec here (stdout otherwise).")] = None,
    force: Annotated[bool, typer.Option(help="With --write: overwrite a file tgictl did not write, or one edited since.")] = False,
    output: OutputOption = Format.table,
) -> None:
    """Write the equivalent spec for another engine and report what maps exactly, approximately or not at all."""
    from tgictl.errors import SpecError, UsageError
    from tgictl.migrate import Row, migrate as run_migrate, spec_from_tgi
    from tgictl.render.service import dump_yaml
    from tgictl.spec.load import load_file

    if (file is None) == (tgi_args is None):
        raise UsageError("give either --file or --tgi-args")
    unmapped: list[Row] = []
    if file:
        spec = load_file(file)
    else:
        assert tgi_args is not None
        try:
            text = tgi_args.read_text()
        except OSError as err:
            raise UsageError(f"{tgi_args}: {err.strerror}") from None
        spec, unmapped = spec_from_tgi(text, name)
    try:
        result = run_migrate(spec, to, unmapped=unmapped, model={"id": model or "", "ggufFile": gguf_file or ""})
    except SpecError as err:  # the problems are the source file's (the migrated spec exists nowhere yet)
        raise err.in_file(file or str(tgi_args)) from None
    spec_yaml = dump_yaml(result.spec)
    rows = [{"field": r.field, "status": r.status, "note": r.note} for r in result.rows]
    if write:
        from tgictl.adapters.files import write_file

        write_file(write, spec_yaml, writer="migrate", force=force)
    if output is not Format.table:
        print_data({"spec": result.spec, "report": rows}, output)
        return
    if not write:
        typer.echo(spec_yaml, nl=False)
    report = typer.echo if write else (lambda line: typer.echo(line, err=True))
    widths = [max(len(str(r[k])) for r in rows + [{"field": "FIELD", "status": "STATUS", "note": ""}]) for k in ("field", "status")]
    report(f"{'FIELD'.ljust(widths[0])}  {'STATUS'.ljust(widths[1])}  NOTE")
    for r in rows:
        report(f"{r['field'].ljust(widths[0])}  {r['status'].ljust(widths[1])}  {r['note']}".rstrip())
