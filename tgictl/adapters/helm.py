"""The helm binary: template rendering now, release lifecycle later.

Values go to helm on stdin as JSON (a subset of YAML), so nothing with a
secret reference or a user value touches the disk, and no temp file can be
left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tgictl.adapters import toolchain
from tgictl.errors import ToolFailedError

# The repository's chart; $TGICTL_CHART points elsewhere (e.g. a packaged copy).
CHART_DIR = Path(os.environ.get("TGICTL_CHART", Path(__file__).resolve().parents[2] / "charts" / "tgi"))


class Running:
    """A helm process started but not yet waited for, so callers can overlap work with it."""

    def __init__(self, args: list[str], stdin: str | None) -> None:
        self.args = args
        self._process = subprocess.Popen(
            [toolchain.find("helm"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._stdin = stdin

    def result(self) -> str:
        stdout, stderr = self._process.communicate(self._stdin)
        if self._process.returncode != 0:
            raise ToolFailedError(f"helm {self.args[0]} failed: {stderr.strip()}")
        return stdout


def _run(args: list[str], stdin: str | None = None) -> str:
    return Running(args, stdin).result()


def start_template(
    values: dict[str, Any],
    *,
    release: str,
    namespace: str,
    chart: Path = CHART_DIR,
    include_tests: bool = False,
    api_versions: tuple[str, ...] = (),
) -> str:
    """Start rendering the chart with ``values``; ``.result()`` is helm's multi-document YAML."""
    args = ["template", release, str(chart), "--namespace", namespace, "--values", "-"]
    if not include_tests:
        args.append("--skip-tests")
    for api in api_versions:
        args += ["--api-versions", api]
    return Running(args, stdin=json.dumps(values))


def template(values: dict[str, Any], **options: Any) -> str:
    """Render the chart with ``values``; returns helm's multi-document YAML."""
    return start_template(values, **options).result()


def lint(chart: Path = CHART_DIR, values: dict[str, Any] | None = None) -> str:
    """``helm lint --strict`` on the chart, optionally with values."""
    args = ["lint", "--strict", str(chart)]
    if values is not None:
        args += ["--values", "-"]
    return _run(args, stdin=json.dumps(values) if values is not None else None)
