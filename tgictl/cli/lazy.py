"""Commands imported when they run, not when tgictl starts.

Building every command up front imported each command module and had typer
turn 25 signatures into click commands (~35 ms of a ~110 ms `--help`, and of
every render). A ``LazyGroup`` lists the commands from a registry, shows each
one's summary in `tgictl --help` without importing it, and builds a command
only when it is invoked. A test keeps each summary equal to its docstring.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
import typer.core
import typer.main


@dataclass(frozen=True)
class Lazy:
    """Where a command lives (``tgictl.cli.<module>.<attr>``: a function, or a Typer of
    subcommands) and the summary `tgictl --help` shows for it."""

    module: str
    attr: str
    summary: str
    context_settings: dict[str, Any] | None = None

    def target(self) -> Any:
        return getattr(importlib.import_module(f"tgictl.cli.{self.module}"), self.attr)

    def load(self, name: str) -> Any:
        """The click command typer builds for it, exactly as when it was registered on the root
        app: built under a root with the same settings, then taken out of it."""
        target = self.target()
        root = typer.Typer(rich_markup_mode=None, add_completion=False)
        root.callback()(_no_options)
        if isinstance(target, typer.Typer):
            root.add_typer(target, name=name)
        else:
            root.command(name, context_settings=self.context_settings)(target)
        return typer.main.get_command(root).commands[name]  # type: ignore[attr-defined]  # a group: it has a callback


def _no_options() -> None:
    """The stand-in root's callback (a root with a callback is a group)."""


class LazyGroup(typer.core.TyperGroup):
    """The root group: commands come from ``registry`` and are built on first use."""

    registry: dict[str, Lazy] = {}

    @classmethod
    def of(cls, registry: dict[str, Lazy]) -> type[LazyGroup]:
        return type("TgictlGroup", (cls,), {"registry": registry})

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.registry)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        lazy = self.registry.get(cmd_name)
        if lazy is None:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = lazy.load(cmd_name)
        return self.commands[cmd_name]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list from the summaries, shortened as click shortens a command's help."""
        limit = formatter.width - 6 - max(len(name) for name in self.registry)
        rows = [(name, typer.core.TyperCommand(name=name, help=lazy.summary).get_short_help_str(limit))
                for name, lazy in self.registry.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
