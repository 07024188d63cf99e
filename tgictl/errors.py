"""The errors tgictl raises, each with the exit code the CLI maps it to.

Services raise these and never print; the CLI prints ``str(error)`` (one line
per problem) and exits with ``exit_code``. Exit 2 means the user's input was
wrong, 1 means something outside (a tool, a server, a cluster) failed.
"""

from __future__ import annotations

from dataclasses import dataclass


class TgictlError(Exception):
    """Base class: a failure with a message fit to show the user as is."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (a dotted field path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(TgictlError):
    """The spec is invalid; carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[Problem], source: str = "spec") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in problems))

    def in_file(self, file: str) -> SpecError:
        """The problems as ``file``'s, when they are the spec's (a config.json's stay its own)."""
        return SpecError(self.problems, file) if self.source == "spec" else self


class UsageError(TgictlError):
    """Command-line arguments that cannot work together."""

    exit_code = 2


class ToolMissingError(TgictlError):
    """helm, kubectl or another binary tgictl drives is not installed."""


class ToolFailedError(TgictlError):
    """An external tool ran and failed; the message carries its stderr."""


class UnreachableError(TgictlError):
    """A server tgictl was pointed at does not answer: nothing was sent (exit 1)."""


class ValidationFailedError(TgictlError):
    """A rendered object does not match its Kubernetes or CRD schema.

    Free-form spec fields (tolerations, affinity) reach the objects as given,
    so this is most often bad input: exit 2, like a spec error.
    """

    exit_code = 2


def not_utf8(err: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8 text, for the one line that says so."""
    return f"not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}); save it as UTF-8"
