"""Autoscaling for real: the HPA controller in kube-controller-manager scales the rendered
Deployment on llm_queue_size, which the real prometheus-adapter (built by scripts/cluster.sh)
serves on custom.metrics.k8s.io through the API server's aggregation layer, from a real
Prometheus evaluating the rendered rules over a vLLM-faced simulator under `tgictl bench` load.

The aggregator dials an APIService's endpoints, and the API server refuses loopback
addresses in Endpoints, so the adapter listens on this machine's own (non-loopback) address."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.control_plane import PROMETHEUS_OPERATOR_CRDS, Namespace, apply_crds, built_dir, wait_for, write_spec
from support.monitoring import fast_groups, prometheus, query, scrape_job
from support.servers import free_port, simulator
from tgictl.autoscale import adapter_values

CUSTOM_METRICS = "custom.metrics.k8s.io"
WINDOW_S = 20  # the spec's scale-down window: short, so the test sees scale-in
SYNC_S = 5  # the HPA controller's sync period on this cluster (scripts/cluster.sh)
AUTOSCALING = {"enabled": True, "kind": "hpa", "minReplicas": 1, "maxReplicas": 2, "target": 2,
               "scaleDownWindowSeconds": WINDOW_S}


def host_address() -> str:
    """This machine's first IPv4 address that is not loopback."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    addresses = [a for a in found if "." in a and not a.startswith("127.")]
    assert addresses, f"no non-loopback IPv4 address on this machine (hostname -I: {found})"
    return addresses[0]


def adapter_binary() -> Path:
    built = built_dir()
    assert built is not None, "scripts/cluster.sh build has not run"
    return built / "prometheus-adapter"


def api_services(ns: Namespace) -> list[dict[str, Any]]:
    """custom.metrics.k8s.io served by the adapter behind a selector-less Service in ``ns``."""
    return [{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": f"{version}.{CUSTOM_METRICS}"},
             "spec": {"group": CUSTOM_METRICS, "version": version, "groupPriorityMinimum": 100, "versionPriority": priority,
                      "service": {"namespace": ns.name, "name": "custom-metrics", "port": 443},
                      # The adapter's serving certificate is self-signed, made at its start.
                      "insecureSkipTLSVerify": True}}
            for version, priority in (("v1beta1", 100), ("v1beta2", 200))]


def endpoint(ns: Namespace, address: str, port: int) -> list[dict[str, Any]]:
    meta = {"name": "custom-metrics", "namespace": ns.name}
    return [{"apiVersion": "v1", "kind": "Service", "metadata": meta,
             "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}},
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta,
             "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port}]}]}]


@contextlib.contextmanager
def custom_metrics(ns: Namespace, prometheus_url: str, spec_file: str, workdir: Path) -> Iterator[None]:
    """The real prometheus-adapter with the rules `tgictl autoscale adapter-values` renders, registered
    as custom.metrics.k8s.io until the block ends."""
    from tgictl.spec.load import load_file

    rules = adapter_values(load_file(spec_file))["rules"]
    config = workdir / "adapter.yaml"
    config.write_text(yaml.safe_dump({"rules": rules["custom"], "externalRules": rules["external"]}))
    address, port, kubeconfig = host_address(), free_port(), str(ns.kubeconfig)
    log = (workdir / "adapter.log").open("w")
    adapter = subprocess.Popen(
        [str(adapter_binary()), f"--bind-address={address}", f"--secure-port={port}", f"--cert-dir={workdir / 'certs'}",
         f"--lister-kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
         f"--authorization-kubeconfig={kubeconfig}", f"--prometheus-url={prometheus_url}", f"--config={config}",
         "--metrics-relist-interval=2s"], stdout=log, stderr=subprocess.STDOUT)
    registered = api_services(ns)
    try:
        ns.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([*endpoint(ns, address, port), *registered]))
        wait_for("custom.metrics.k8s.io to be available", lambda: adapter.poll() is None and ns.kubectl(
            "wait", "--for", "condition=Available", "apiservice", registered[1]["metadata"]["name"], "--timeout", "1s",
            check=False).returncode == 0, timeout=60)
        yield
    finally:
        ns.kubectl("delete", "apiservice", *(a["metadata"]["name"] for a in registered), "--ignore-not-found", check=False)
        adapter.terminate()
        adapter.wait(timeout=10)
        log.close()


def served_queue(ns: Namespace, pod: str) -> float | None:
    """The queue per pod as the HPA controller reads it, through the aggregation layer."""
    path = f"/apis/{CUSTOM_METRICS}/v1beta2/namespaces/{ns.name}/pods/{pod}/llm_queue_size"
    got = ns.kubectl("get", "--raw", path, check=False)
    if got.returncode != 0:
        return None
    served = yaml.safe_load(got.stdout)
    value: str = (served["items"][0] if "items" in served else served)["value"]  # a quantity: "10" or "10500m"
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


@pytest.fixture
def monitored(kubeconfig: Path, ns: Namespace, tmp_path: Path) -> tuple[str, str]:
    """An autoscaled release deployed (its ServiceMonitor and PrometheusRule need the operator's CRDs),
    and the name of its one pod."""
    apply_crds(kubeconfig, PROMETHEUS_OPERATOR_CRDS)
    path = write_spec(ns, tmp_path, engine={"name": "vllm"}, monitoring={"enabled": True}, autoscaling=AUTOSCALING)
    done = subprocess.run([str(Path(sys.executable).parent / "tgictl"), "deploy", "-f", path, "--no-smoke"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [pod] = ns.get("pods", selector="app.kubernetes.io/instance=demo")["items"]
    return path, pod["metadata"]["name"]


def test_the_hpa_scales_out_on_the_served_queue_and_back_in_after_the_rendered_window(
        ns: Namespace, monitored: tuple[str, str], tmp_path: Path) -> None:
    path, pod = monitored
    hpa = ns.get("hpa", "demo")
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == WINDOW_S
    # A KV budget of 512 tokens holds two 250-token requests: of 12 in flight, about 10 wait.
    with simulator("--engine", "vllm", "--decode-ms", "20", "--max-input-tokens", "256", "--max-total-tokens", "300",
                   "--max-batch-total-tokens", "512") as server:
        job = scrape_job("vllm", server, "demo", ns.name)
        job["static_configs"][0]["labels"]["pod"] = pod  # what the ServiceMonitor's relabelling adds
        rules = tmp_path / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": fast_groups("vllm", "demo", ns.name)}))
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(rules)],
                  "scrape_configs": [job]}
        with prometheus(config, tmp_path) as prom, custom_metrics(ns, prom, path, tmp_path):
            assert ns.replicas() == 1
            load = subprocess.Popen([str(Path(sys.executable).parent / "tgictl"), "bench", server, "--profile", "concurrency",
                                     "--concurrency", "12", "--duration", "45", "--input-len", "fixed:200", "--output-len",
                                     "fixed:50", "--json", str(tmp_path / "bench.json")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                queued = wait_for("the adapter to serve a queue above the target", lambda: (q := served_queue(ns, pod)) and q > 2 and q,
                                  timeout=40, every=1)
                wait_for("the HPA to add a replica", lambda: ns.replicas() == 2, timeout=60, every=1)
                assert query(prom, "llm:queue_size:pod")[0]["metric"]["pod"] == pod
                # With one pod of two reporting, the HPA recommends one replica only once the queue is empty.
                wait_for("the queue to empty as the load ends", lambda: served_queue(ns, pod) == 0, timeout=90, every=0.5)
                emptied = time.monotonic()
            finally:
                _, errors = load.communicate(timeout=120)
            assert load.returncode == 0, errors
            wait_for("the HPA to remove the replica", lambda: ns.replicas() == 1, timeout=WINDOW_S + 60, every=0.5)
            held = time.monotonic() - emptied
    # The HPA records a recommendation per sync and scales in once none in the window asks for more,
    # so it can act up to one sync sooner than the window after the queue empties; with no window it
    # would act within a sync.
    assert held >= WINDOW_S - SYNC_S - 1, f"scaled in {held:.0f}s after the queue emptied, within the {WINDOW_S}s window"
    events = [e["reason"] for e in ns.get("events")["items"] if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"]
    assert events.count("SuccessfulRescale") == 2, (events, queued)
