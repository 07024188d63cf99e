"""Autoscaling, exposure and rate limits: refusals, rendered objects, `autoscale
explain`, and the ScaledObject's exact query crossing its threshold in a real
Prometheus while a load ramp builds a queue in the simulator, then falling back."""

from __future__ import annotations

import concurrent.futures
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from typer.testing import CliRunner

from support.data import SPECS, document
from support.monitoring import NAMESPACE, prometheus
from support.servers import simulator
from tgictl.cli.main import app
from tgictl.errors import SpecError
from tgictl.render import manifests, service
from tgictl.spec.load import load_file, parse

runner = CliRunner()
GPU = {"accelerator": {"type": "l4", "count": 1}}


def problems_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(doc)
    return [str(p) for p in caught.value.problems]


def objects(spec_file: Path) -> dict[str, dict[str, Any]]:
    return {o.kind: o.obj for o in manifests.render(load_file(spec_file))}


@pytest.mark.parametrize(("spec", "fragment"), [
    ({"autoscaling": {"enabled": True}}, "spec.autoscaling.enabled: autoscaling reads the llm: series"),
    ({"monitoring": {"enabled": True}, "autoscaling": {"enabled": True, "minReplicas": 0}},
     "scaling to zero needs autoscaling.upstreamQuery"),
    ({"monitoring": {"enabled": True}, "autoscaling": {"enabled": True, "kind": "hpa", "minReplicas": 0}}, "an HPA cannot scale to zero"),
    ({"rateLimit": {"enabled": True}}, "set exposure.kind httproute"),
    ({"inferencePool": {"enabled": True}}, "does not support TGI"),
    ({"exposure": {"kind": "httproute"}}, "needs gateway.name"),
])
def test_refusals(spec: dict[str, Any], fragment: str) -> None:
    assert any(fragment in p for p in problems_of(document(hardware=GPU, **spec)))


def test_llamacpp_cannot_scale_on_kv_cache() -> None:
    doc = document(engine={"name": "llamacpp"}, model={"id": "/m.gguf"}, monitoring={"enabled": True},
                   autoscaling={"enabled": True, "metric": "llm:kv_cache_utilization"})
    assert any("llama.cpp has no llm:kv_cache_utilization" in p for p in problems_of(doc))


def test_keda_scaled_object() -> None:
    rendered = objects(SPECS / "autoscaled-vllm-gateway.yaml")
    scaled = rendered["ScaledObject"]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (0, 6)
    first, upstream = scaled["triggers"]
    assert first["metadata"]["query"] == 'sum(llm:queue_size{namespace="llm",deployment="qwen-public"})'
    assert first["metadata"]["threshold"] == "8" and "metricName" not in first["metadata"]  # removed in KEDA 2.12
    assert "envoy_cluster_upstream_rq_total" in upstream["metadata"]["query"]
    up = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]
    values = yaml.safe_load(service.render(load_file(SPECS / "autoscaled-vllm-gateway.yaml"), "values").stream)
    assert up["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": values["autoscaling"]["scaleUpPeriodSeconds"]}]
    assert "replicas" not in rendered["Deployment"]["spec"]  # the autoscaler owns the count


def test_gateway_route_rate_limit_and_pool() -> None:
    rendered = objects(SPECS / "autoscaled-vllm-gateway.yaml")
    route = rendered["HTTPRoute"]["spec"]
    assert route["parentRefs"] == [{"name": "public", "namespace": "gateway-system"}]
    assert route["rules"][0]["timeouts"] == {"request": "600s", "backendRequest": "600s"}
    assert route["rules"][0]["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen-public"}]
    policy = rendered["BackendTrafficPolicy"]["spec"]["rateLimit"]
    assert policy["type"] == "Local"  # always emitted, for older Envoy Gateway versions
    assert policy["local"]["rules"][0]["clientSelectors"] == [{"headers": [{"name": "x-api-key", "type": "Distinct"}]}]
    pool = rendered["InferencePool"]["spec"]
    assert pool["targetPorts"] == [{"number": 8000}] and pool["endpointPickerRef"]["name"] == "qwen-public-epp"
    labels = rendered["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert labels["llm-d.ai/engine-type"] == "vllm"


def test_hpa_and_ingress() -> None:
    rendered = objects(SPECS / "autoscaled-tgi-hpa-ingress.yaml")
    metric = rendered["HorizontalPodAutoscaler"]["spec"]["metrics"][0]
    assert metric == {"type": "Pods",
                      "pods": {"metric": {"name": "llm_queue_size"}, "target": {"type": "AverageValue", "averageValue": "4"}}}
    annotations = rendered["Ingress"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "900"


def test_autoscale_explain_and_adapter_values() -> None:
    explained = runner.invoke(app, ["autoscale", "explain", "-f", str(SPECS / "autoscaled-vllm-gateway.yaml"), "-o", "json"])
    assert explained.exit_code == 0, explained.output
    data = json.loads(explained.stdout)
    assert data["worst_case_seconds_to_one_more_ready_replica"] == 15 + 15 + data["cold_start_s"]
    assert data["query"] == 'sum(llm:queue_size{namespace="llm",deployment="qwen-public"})'
    adapter = yaml.safe_load(runner.invoke(app, ["autoscale", "adapter-values", "-f",
                                                 str(SPECS / "autoscaled-tgi-hpa-ingress.yaml")]).stdout)
    assert adapter["rules"]["external"] == [] and adapter["rules"]["custom"][0]["name"]["as"] == "llm_queue_size"
    off = runner.invoke(app, ["autoscale", "explain", "-f", str(SPECS / "tiny-cpu.yaml")])
    assert off.exit_code == 2


def test_scaled_object_query_crosses_threshold_under_a_load_ramp(tmp_path: Path) -> None:
    """The sim runs 2 requests at a time (token budget), so a 12-request burst queues ~10."""
    spec = document(hardware=GPU, monitoring={"enabled": True}, autoscaling={"enabled": True, "target": 4})
    spec["metadata"] = {"name": "demo", "namespace": NAMESPACE}
    rendered = {o.kind: o.obj for o in manifests.render(parse(spec))}
    trigger = rendered["ScaledObject"]["spec"]["triggers"][0]["metadata"]
    query, threshold = trigger["query"], float(trigger["threshold"])
    groups = rendered["PrometheusRule"]["spec"]["groups"]
    for group in groups:
        group["interval"] = "1s"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    args = ("--decode-ms", "20", "--max-batch-total-tokens", "300", "--max-input-tokens", "20",
            "--max-total-tokens", "150", "--output-min", "120", "--output-max", "120")
    with simulator(*args) as sim:
        labels = {"namespace": NAMESPACE, "deployment": "demo", "model": "x", "engine": "tgi"}
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(tmp_path / "rules.yaml")],
                  "scrape_configs": [{"job_name": "sim", "static_configs": [{"targets": [sim.removeprefix("http://")], "labels": labels}]}]}
        with prometheus(config, tmp_path) as prom:
            def value() -> float:
                result = requests.get(prom + "/api/v1/query", params={"query": query}, timeout=5).json()["data"]["result"]
                return float(result[0]["value"][1]) if result else 0.0

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not requests.get(prom + "/api/v1/query", params={"query": "up == 1"},
                                                                   timeout=5).json()["data"]["result"]:
                time.sleep(0.5)
            idle = value()
            body = {"inputs": "Hi", "parameters": {"max_new_tokens": 120}}
            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                futures = [pool.submit(requests.post, sim + "/generate", json=body, timeout=120) for _ in range(12)]
                peak, deadline = 0.0, time.monotonic() + 20
                while time.monotonic() < deadline and peak <= threshold:
                    time.sleep(0.5)
                    peak = max(peak, value())
                assert all(f.result().status_code == 200 for f in futures)
            deadline = time.monotonic() + 20
            after = value()
            while time.monotonic() < deadline and after > 0:
                time.sleep(0.5)
                after = value()
    assert idle < threshold < peak  # the queue built past the per-replica target: KEDA would add pods
    assert after == 0  # and fell back once the burst drained
