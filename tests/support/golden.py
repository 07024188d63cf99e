"""Golden files: what fails silently (manifests, values, plans) is compared byte for
byte with a committed copy. TGICTL_UPDATE_GOLDEN=1 rewrites them, and the run then
fails so a rewrite is never silent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

UPDATE = os.environ.get("TGICTL_UPDATE_GOLDEN") == "1"


def check(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual)
        pytest.fail(f"rewrote {path.name}; rerun without TGICTL_UPDATE_GOLDEN")
    assert path.exists(), f"no golden {path.name}: run with TGICTL_UPDATE_GOLDEN=1"
    assert actual == path.read_text(), f"{path.name} differs from its golden file"
