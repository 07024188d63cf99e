"""What this tgictl is made of: its own version, the chart it renders, the helm and
kubectl it drives, and each engine's default image (what `tgictl version` prints)."""

from __future__ import annotations

import subprocess
import tarfile
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

import yaml


@dataclass(frozen=True)
class Versions:
    tgictl: str
    chart: str
    chart_path: str
    helm: str
    kubectl: str
    engine_images: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tgictl_version() -> str:
    try:
        return metadata.version("tgictl")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _tool_version(tool: str, args: list[str]) -> str:
    from tgictl.adapters import toolchain
    from tgictl.errors import ToolMissingError

    try:
        done = subprocess.run([toolchain.find(tool), *args], capture_output=True, text=True, timeout=10)
    except (ToolMissingError, OSError, subprocess.TimeoutExpired):
        return "not found"
    line = done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else ""
    return line.removeprefix("Client Version: ") or "not found"


def _chart_version() -> tuple[str, str]:
    from tgictl.adapters import helm

    path = helm.chart_path()
    try:
        if path.suffix == ".tgz":  # a `helm package` archive holds <name>/Chart.yaml
            with tarfile.open(path) as archive:
                member = next(m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
                extracted = archive.extractfile(member)
                assert extracted is not None  # Chart.yaml is a regular file
                chart_yaml = extracted.read()
        else:
            chart_yaml = (path / "Chart.yaml").read_bytes()
        return str(yaml.safe_load(chart_yaml)["version"]), str(path)
    except (OSError, tarfile.TarError, StopIteration, KeyError, TypeError):
        return "not found", str(path)


def versions() -> Versions:
    from tgictl.engines import REGISTRY

    chart, chart_path = _chart_version()
    return Versions(
        tgictl=tgictl_version(),
        chart=chart,
        chart_path=chart_path,
        helm=_tool_version("helm", ["version", "--short"]),
        kubectl=_tool_version("kubectl", ["version", "--client"]),
        engine_images={name: f"{e.facts.image_repository}:{e.facts.image_tag}" for name, e in REGISTRY.items()},
    )
