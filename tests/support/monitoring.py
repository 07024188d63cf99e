"""Helpers for the monitoring tests: render a monitored release's rules as a
Prometheus rule file, and start a real Prometheus on a loopback port."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import yaml

from support import tools
from support.data import document
from support.servers import free_port
from tgictl.render import manifests
from tgictl.spec.load import parse

NAMESPACE, RELEASE, MODEL = "llm", "demo", "org/m"
PROMETHEUS_INSTALL = "bash scripts/setup.sh --test (Debian's prometheus package)"
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
    return tools.on_path("promtool", PROMETHEUS_INSTALL)


@contextlib.contextmanager
def prometheus(config: dict[str, Any], workdir: Path) -> Iterator[str]:
    """A real Prometheus with ``config`` on a free loopback port; yields its URL."""
    binary = tools.on_path("prometheus", PROMETHEUS_INSTALL)
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


def scrape_job(engine: str, url: str, deployment: str | None = None, namespace: str = NAMESPACE) -> dict[str, Any]:
    """Static scrape config with the labels the ServiceMonitor (and the operator) would add,
    for release ``deployment`` (demo-<engine> by default) in ``namespace``."""
    deployment = deployment or f"demo-{engine}"
    target = url.removeprefix("http://")
    labels = {"namespace": namespace, "deployment": deployment, "service": deployment, "model": "org/m", "engine": engine}
    return {"job_name": deployment, "scrape_interval": "1s", "static_configs": [{"targets": [target], "labels": labels}]}


def fast_groups(engine: str, deployment: str | None = None, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The engine's rendered rules for release ``deployment`` (demo-<engine> by default) in ``namespace``,
    evaluated every second."""
    deployment = deployment or f"demo-{engine}"
    groups = rule_groups(engine)
    text = json.dumps(groups).replace('deployment=\\"demo\\"', f'deployment=\\"{deployment}\\"')
    text = text.replace(f'namespace=\\"{NAMESPACE}\\"', f'namespace=\\"{namespace}\\"')
    groups = json.loads(text)
    for group in groups:
        group["interval"] = "1s"
        group["name"] = group["name"].replace("demo.", f"{deployment}.")
    return groups


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """Samples of ``expr`` now, without NaN ones (a quantile over no increase is NaN: no data)."""
    response = requests.get(url + "/api/v1/query", params={"query": expr}, timeout=10).json()
    assert response["status"] == "success", (expr, response)
    return [r for r in response["data"]["result"] if r["value"][1] != "NaN"]
