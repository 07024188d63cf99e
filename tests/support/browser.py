"""Debian's headless Chromium, for looking at what tgictl writes for a browser."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.tools import on_path

# Quiet on a closed network: without the background-networking flags Chromium keeps
# dialling Google's hosts, refused one after another (the machine notes in .library/env).
QUIET = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def screenshot(page: Path, out: Path, width: int = 1000, height: int = 700) -> Path:
    """A PNG of ``page`` as headless Chromium draws it in a ``width`` x ``height`` window."""
    chromium = on_path("chromium", "apt-get install chromium (scripts/setup.sh --test does)")
    profile = out.parent / "chromium-profile"
    done = subprocess.run([chromium, *QUIET, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                           f"--screenshot={out}", page.resolve().as_uri()], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and out.exists(), done.stderr[-2000:]
    return out
