"""Helpers for the monitoring tests: render a monitored release's rules as a
Prometheus rule file, and start a real Prometheus on a loopback port."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import yaml

from conftest import document
from servers import free_port
from tgictl.render import manifests
from tgictl.spec.load import parse

NAMESPACE, RELEASE, MODEL = "llm", "demo", "org/m"
LABELS = {"namespace": NAMESPACE, "deployment": RELEASE, "model": MODEL}


def monitored(engine: str, **spec: Any) -> Any:
    model = {"id": "/models/m.gguf"} if engine == "llamacpp" else {"id": MODEL}
    settings: dict[str, Any] = {"engine": {"name": engine}, "model": model, "monitoring": {"enabled": True, "dashboards": True},
                                "hardware": {"accelerator": {"type": "l4", "count": 1}}}
    doc = document(**{**settings, **spec})
    doc["metadata"] = {"name": RELEASE, "namespace": NAMESPACE}
    return parse(doc)


def rule_groups(engine: str, **spec: Any) -> list[dict[str, Any]]:
    objects = manifests.render(monitored(engine, **spec))
    rule = next(o.obj for o in objects if o.kind == "PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def write_rules(path: Path, engine: str, **spec: Any) -> Path:
    path.write_text(yaml.safe_dump({"groups": rule_groups(engine, **spec)}, sort_keys=False))
    return path


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool missing: scripts/setup.sh --test installs Debian's prometheus package"
    return found


@contextlib.contextmanager
def prometheus(config: dict[str, Any], workdir: Path) -> Iterator[str]:
    """A real Prometheus with ``config`` on a free loopback port; yields its URL."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus missing: scripts/setup.sh --test installs Debian's prometheus package"
    port = free_port()
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("prometheus exited: " + (workdir / "prometheus.log").read_text()[-2000:])
            try:
                if requests.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
