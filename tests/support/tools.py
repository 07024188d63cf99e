"""Real tools the tests need. Outside CI a missing tool skips its tests with the
command that installs it; in CI (``CI`` set) it fails them, so a fresh machine that
lost a tool can never pass by skipping."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from support.data import ROOT


def missing(what: str, install: str) -> None:
    """Skip (or, in CI, fail) the calling test: ``what`` is absent; ``install`` adds it."""
    message = f"{what} is not installed: {install}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def on_path(name: str, install: str) -> str:
    """The executable ``name`` from PATH."""
    found = shutil.which(name)
    if not found:
        missing(name, install)
    assert found
    return found


def cached(script: str, override: str) -> str:
    """A tool one of scripts/ installs into the tools cache: ``$override`` when set, else
    the cached path the script prints (``--cached``: never builds or downloads)."""
    if path := os.environ.get(override):
        return path
    command = ["bash", str(ROOT / "scripts" / script)]
    done = subprocess.run([*command, "--cached"], capture_output=True, text=True)
    if done.returncode != 0:
        missing(script.removesuffix(".sh").removeprefix("build-").removeprefix("install-"), f"bash scripts/{script}")
    return done.stdout.strip().splitlines()[-1]
