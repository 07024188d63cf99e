"""The `tgictl …` commands README.md (and docs/) show, for the tests that hold them to the CLI."""

from __future__ import annotations

import re
import shlex

from support.data import ROOT

README = (ROOT / "README.md").read_text()
DOCS = [README, *(page.read_text() for page in sorted((ROOT / "docs").glob("*.md")))]


def shown_commands() -> list[str]:
    """Each `tgictl …` of the README and docs/: in backticks, or a line of a code block."""
    spans = [span for page in DOCS for span in re.findall(r"`((?:\.venv/bin/)?tgictl [^`]+)`", page)]
    blocks = [block for page in DOCS for block in re.findall(r"^```\w*\n(.*?)^```", page, flags=re.S | re.M)]
    lines = [line.split("  #")[0].removeprefix("$ ") for block in blocks for line in block.splitlines()]
    pieces = [piece.strip() for line in lines for piece in line.split("&&")]
    found = [c.replace("\\|", "|").removeprefix(".venv/bin/") for c in spans + pieces]
    return sorted({c.strip() for c in found if c.startswith("tgictl ")})


SHOWN = shown_commands()


def tokens(command: str) -> list[str]:
    """The command's words, optional parts `[…]` opened, `a | b` alternatives kept as one word."""
    text = re.sub(r"\s*\|\s*", "|", command.replace("[", " ").replace("]", " "))
    return shlex.split(text)[1:]
