"""Shared CLI plumbing: output format option, error → exit code, tables and JSON.

Commands stay thin: parse options, call one service, hand the result here.
Errors from services become one line per problem on stderr and the error's
exit code, never a traceback.
"""

from __future__ import annotations

import enum
import functools
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Optional, TypeVar

import typer

from tgictl.errors import SpecError, TgictlError

F = TypeVar("F", bound=Callable[..., Any])


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


OutputOption = Annotated[Format, typer.Option("--output", "-o", help="Print a table for people, or JSON or YAML for scripts.")]
SpecOption = Annotated[str, typer.Option("--file", "-f", help="Spec file (tgi.yaml).")]
ApiKeyOption = Annotated[Optional[str], typer.Option("--api-key", envvar="TGICTL_API_KEY", show_default=False,
                                                       help="Bearer token for a server started with an API key (prefer the env var: flags "
                                                            "show in process lists). "
                                                            "With --release, read from serving.apiKeySecret when unset.")]


def fail(error: TgictlError, exit_code: int | None = None) -> typer.Exit:
    """Print an error to stderr; spec problems are already `file: field: message` lines."""
    typer.echo(str(error) if isinstance(error, SpecError) else f"error: {error}", err=True)
    return typer.Exit(exit_code if exit_code is not None else error.exit_code)


def handles_errors(command: F) -> F:
    """Turn tgictl errors into stderr lines and exit codes."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TgictlError as err:
            raise fail(err) from None

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps F's signature, which typer reads


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def format_data(data: Any, output: Format) -> str:
    """``data`` as JSON, or as a YAML document (with its ``---``, so a stream of them parses)."""
    if output is Format.yaml:
        import yaml

        return "---\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def print_data(data: Any, output: Format) -> None:
    """Data for scripts, in the format -o asked for (never called for tables)."""
    sys.stdout.write(format_data(data, output))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table: no colours, so it pipes and diffs cleanly."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def phase_printer(output: Format) -> Callable[[Any], None]:
    """Deploy's progress callback: on stderr, for tables only, seconds since it began, the phase and
    what it is doing."""
    started = time.monotonic()

    def progress(state: Any) -> None:
        if output is Format.table:
            typer.echo(f"  {time.monotonic() - started:5.0f}s  {state.phase:<11} {state.detail}", err=True)

    return progress
