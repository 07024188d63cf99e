"""Scale to zero for real: KEDA's operator (v2.21.0, built by scripts/cluster.sh) moves the
rendered ScaledObject's Deployment to 0 replicas when the signal upstream of the pods is
quiet, and back to 1 when it rises, read from a real Prometheus scraping a stand-in gateway.

The operator runs out of the cluster, as the test's own process, watching only the test's
namespace. Its gRPC metrics service (the one KEDA's metrics adapter reads) needs a serving
certificate even when no adapter runs, so the test makes one."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from support.control_plane import PROMETHEUS_OPERATOR_CRDS, Namespace, apply_crds, built_dir, wait_for, write_spec
from support.monitoring import prometheus
from support.servers import TGICTL, app_in_thread, simulator

COOLDOWN_S = 5
STARTUP_S = 10  # the spec's start-up budget: short, so KEDA's initial cooldown passes soon
UPSTREAM = 'sum(gateway_pending_requests{route="demo"})'


def serving_certificate(directory: Path) -> Path:
    """A self-signed certificate, its own CA, where KEDA's gRPC server looks (tls.crt, tls.key, ca.crt)."""
    directory.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt"), "-days", "1",
                    "-subj", "/CN=keda-operator", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    (directory / "ca.crt").write_bytes((directory / "tls.crt").read_bytes())
    return directory


@contextlib.contextmanager
def keda_operator(ns: Namespace, workdir: Path) -> Iterator[Path]:
    """KEDA's operator watching ``ns`` until the block ends; yields its log's path."""
    built = built_dir()
    assert built is not None, "scripts/cluster.sh build has not run"
    apply_crds(ns.kubeconfig, built / "keda-config" / "crds")
    env = {**os.environ, "WATCH_NAMESPACE": ns.name, "KEDA_CLUSTER_OBJECT_NAMESPACE": ns.name, "POD_NAMESPACE": ns.name}
    log_path = workdir / "keda.log"
    with log_path.open("w") as log:
        operator = subprocess.Popen(
            [str(built / "keda-operator"), f"--kubeconfig={ns.kubeconfig}", "--metrics-bind-address=127.0.0.1:0",
             "--health-probe-bind-address=127.0.0.1:0", "--metrics-service-bind-address=127.0.0.1:0",
             f"--cert-dir={serving_certificate(workdir / 'keda-certs')}", "--zap-log-level=info"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for("KEDA's ScaledObject controller to start", lambda: operator.poll() is None and
                     '"controller":"scaledobject"' in log_path.read_text() and "Starting workers" in log_path.read_text(),
                     timeout=60)
            yield log_path
        finally:
            operator.terminate()
            operator.wait(timeout=20)


class Gateway:
    """A stand-in for the gateway in front of the pods: its pending requests are what the test sets."""

    def __init__(self) -> None:
        self.pending = 0

    def app(self) -> web.Application:
        async def metrics(_: web.Request) -> web.Response:
            return web.Response(text=f'gateway_pending_requests{{route="demo"}} {self.pending}\n')

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        return app


def condition(ns: Namespace, kind: str) -> dict[str, Any]:
    found = ns.get("scaledobject", "demo").get("status", {}).get("conditions") or []
    return next((c for c in found if c["type"] == kind), {})


def tgictl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TGICTL, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def gateway() -> Iterator[tuple[Gateway, str]]:
    stand_in = Gateway()
    with app_in_thread(stand_in.app()) as url:
        yield stand_in, url


def test_keda_scales_the_release_to_zero_and_back_on_the_upstream_signal(
        kubeconfig: Path, ns: Namespace, tmp_path: Path, gateway: tuple[Gateway, str]) -> None:
    stand_in, gateway_url = gateway
    apply_crds(kubeconfig, PROMETHEUS_OPERATOR_CRDS)
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [{"job_name": "gateway", "static_configs": [{"targets": [gateway_url.removeprefix("http://")]}]}]}
    with prometheus(config, tmp_path) as prom, keda_operator(ns, tmp_path), simulator() as engine:
        ns.route_port_forwards(engine)
        path = write_spec(ns, tmp_path, monitoring={"enabled": True}, probes={"startupBudgetSeconds": STARTUP_S, "periodSeconds": 1},
                          autoscaling={"enabled": True, "kind": "keda", "minReplicas": 0, "maxReplicas": 2, "upstreamQuery": UPSTREAM,
                                       "prometheusAddress": prom, "cooldownSeconds": COOLDOWN_S})
        # KEDA holds off scaling to zero for the start-up window and the cooldown: the first pod starts and is smoke-tested.
        first = tgictl("deploy", "-f", path)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "smoke: PASSED" in first.stdout, first.stdout
        assert ns.get("scaledobject", "demo")["spec"]["initialCooldownPeriod"] == STARTUP_S + COOLDOWN_S

        wait_for("KEDA to scale the quiet release to zero", lambda: ns.replicas() == 0, timeout=60, every=1)
        assert condition(ns, "Active")["status"] == "False"
        wait_for("its pod to go", lambda: not ns.get("pods", selector="app.kubernetes.io/instance=demo")["items"], timeout=30)
        # An upgrade at zero has no pod to watch: deploy says so instead of waiting out its budget.
        again = tgictl("deploy", "-f", path, "-o", "json")
        assert again.returncode == 0, again.stdout + again.stderr
        assert json.loads(again.stdout)["scaled_to_zero"] is True and "smoke" not in json.loads(again.stdout)
        status = tgictl("status", "-f", path, "-o", "json")
        assert status.returncode == 0, status.stderr
        assert (json.loads(status.stdout)["phase"], json.loads(status.stdout)["pods"]) == ("scaled to zero", [])

        stand_in.pending = 3
        wait_for("KEDA to activate the release on the upstream queue", lambda: ns.replicas() == 1, timeout=60, every=1)
        assert condition(ns, "Active")["status"] == "True"
        wait_for("the woken pod to be ready", lambda: any(
            c.get("ready") for p in ns.get("pods", selector="app.kubernetes.io/instance=demo")["items"]
            for c in (p.get("status") or {}).get("containerStatuses") or []), timeout=60, every=1)

        stand_in.pending = 0
        wait_for("KEDA to scale back to zero after the cooldown", lambda: ns.replicas() == 0, timeout=60, every=1)
    events = [e["reason"] for e in ns.get("events")["items"] if e["involvedObject"]["kind"] == "ScaledObject"]
    assert events.count("KEDAScaleTargetActivated") >= 1 and events.count("KEDAScaleTargetDeactivated") >= 2, events
