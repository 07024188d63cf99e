"""The rendered PrometheusRule under the real promtool: `check rules`, and
`test rules` for every recording rule and alert, fed with series shaped like
each engine's own metrics (names, labels, buckets as the engines expose them,
plus the labels the ServiceMonitor adds). Expected values are worked out by
hand in the comments: a counter rising 60 per minute has rate 1/s; with all
observations in the first bucket [0, le], the q-quantile is q x le.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.monitoring import LABELS, NAMESPACE, RELEASE, promtool, rule_groups, write_rules


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    all_labels = {**LABELS, **labels}
    rendered = ",".join(f'{k}="{v}"' for k, v in all_labels.items())
    return {"series": f"{name}{{{rendered}}}", "values": values}


def sample(value: float, engine: str, **labels: str) -> dict[str, Any]:
    rendered = ",".join(f'{k}="{v}"' for k, v in {**LABELS, "engine": engine, **labels}.items())
    return {"labels": f"{{{rendered}}}", "value": value}


def histogram(name: str, le: str, per_minute: int, engine: str, **labels: str) -> list[dict[str, str]]:
    """All observations in the first bucket [0, le]."""
    return [series(f"{name}_bucket", f"0+{per_minute}x30", engine=engine, le=le, **labels),
            series(f"{name}_bucket", f"0+{per_minute}x30", engine=engine, le="+Inf", **labels)]


# Waiting requests: +2 a minute until 22m (44), then flat, so the alert's value
# at 25m does not depend on which rule group promtool evaluates first.
QUEUE = "0+2x22 44x8"

INPUTS: dict[str, list[dict[str, str]]] = {
    "tgi": [
        series("tgi_request_count", "0+60x30", engine="tgi"),  # 1 req/s
        series("tgi_request_failure", "0+6x30", engine="tgi", err="overloaded"),  # 0.1/s
        series("tgi_queue_size", QUEUE, engine="tgi"),  # 20 at 10m, growing
        series("tgi_batch_current_size", "5x30", engine="tgi"),
        *histogram("tgi_request_queue_duration", "0.125", 60, "tgi"),  # p95 = 0.11875
        *histogram("tgi_batch_forward_duration", "0.25", 60, "tgi", method="prefill"),  # p95 = 0.2375
        *histogram("tgi_request_duration", "2", 60, "tgi"),  # p50 = 1, p95 = 1.9
        *histogram("tgi_request_mean_time_per_token_duration", "0.0625", 60, "tgi"),  # p95 = 0.059375
        series("tgi_request_input_length_sum", "0+6000x30", engine="tgi"),  # 100 tokens/s
        series("tgi_request_generated_tokens_sum", "0+3000x30", engine="tgi"),  # 50 tokens/s
        series("tgi_batch_current_max_tokens", "2000x30", engine="tgi"),
        series("tgi_batch_max_total_tokens", "8000x30", engine="tgi"),  # 2000 / 8000 = 0.25
    ],
    "vllm": [
        series("vllm:request_success_total", "0+60x30", engine="vllm", finished_reason="stop"),
        series("vllm:admission_rejections_total", "0+6x30", engine="vllm", reason="max_num_queued_reqs"),  # 0.1/s
        series("vllm:admission_rejections_total", "0x30", engine="vllm", reason="max_num_queued_tokens"),
        series("vllm:num_requests_waiting", QUEUE, engine="vllm"),
        series("vllm:num_requests_running", "5x30", engine="vllm"),
        *histogram("vllm:time_to_first_token_seconds", "0.25", 60, "vllm"),  # p95 = 0.2375
        *histogram("vllm:e2e_request_latency_seconds", "2", 60, "vllm"),
        *histogram("vllm:inter_token_latency_seconds", "0.0625", 60, "vllm"),
        series("vllm:prompt_tokens_total", "0+6000x30", engine="vllm"),
        series("vllm:generation_tokens_total", "0+3000x30", engine="vllm"),
        series("vllm:kv_cache_usage_perc", "0.25x30", engine="vllm"),
    ],
    "llamacpp": [
        series("llamacpp:requests_deferred", QUEUE, engine="llamacpp"),
        series("llamacpp:requests_processing", "5x30", engine="llamacpp"),
        series("llamacpp:prompt_tokens_total", "0+6000x30", engine="llamacpp"),
        series("llamacpp:tokens_predicted_total", "0+3000x30", engine="llamacpp"),  # 50 tokens/s
        series("llamacpp:tokens_predicted_seconds_total", "0+1.5x30", engine="llamacpp"),  # 0.025 s/s → 0.0005 s/token
    ],
}

# Recording rule → expected samples at 10m, per engine.
EXPECTED: dict[str, dict[str, list[dict[str, Any]]]] = {
    engine: {
        "llm:requests:rate5m": [sample(1, engine)],
        "llm:queue_size": [sample(20, engine)],
        "llm:running_requests": [sample(5, engine)],
        "llm:e2e_seconds:p50": [sample(1, engine)],
        "llm:e2e_seconds:p95": [sample(1.9, engine)],
        "llm:time_per_output_token_seconds:p95": [sample(0.059375, engine)],
        "llm:prompt_tokens:rate5m": [sample(100, engine)],
        "llm:generated_tokens:rate5m": [sample(50, engine)],
        "llm:kv_cache_utilization": [sample(0.25, engine)],
    }
    for engine in ("tgi", "vllm")
}
for engine in ("tgi", "vllm"):
    EXPECTED[engine]["llm:queue_size:pod"] = [sample(20, engine)]
for engine in ("tgi", "vllm"):
    EXPECTED[engine]["llm:request_errors:rate5m"] = [sample(0.1, engine, kind="overloaded")]
EXPECTED["tgi"]["llm:ttft_seconds:p95"] = [sample(0.11875 + 0.2375, "tgi")]  # queue p95 + prefill p95
EXPECTED["vllm"]["llm:ttft_seconds:p95"] = [sample(0.2375, "vllm")]
EXPECTED["llamacpp"] = {
    "llm:queue_size": [sample(20, "llamacpp")],
    "llm:running_requests": [sample(5, "llamacpp")],
    "llm:prompt_tokens:rate5m": [sample(100, "llamacpp")],
    "llm:generated_tokens:rate5m": [sample(50, "llamacpp")],
    "llm:time_per_output_token_seconds:mean": [sample(0.0005, "llamacpp")],
    "llm:queue_size:pod": [sample(20, "llamacpp")],
}

KUBE = [
    {"series": f'kube_deployment_status_replicas_available{{namespace="{NAMESPACE}",deployment="{RELEASE}"}}', "values": "0x30"},
    {"series": f'kube_pod_container_status_restarts_total{{namespace="{NAMESPACE}",pod="{RELEASE}-abc",container="server"}}',
     "values": "0+1x30"},
    {"series": f'kube_pod_container_status_last_terminated_reason{{namespace="{NAMESPACE}",pod="{RELEASE}-abc",container="server",'
               'reason="OOMKilled"}', "values": "1x30"},
    {"series": f'up{{namespace="{NAMESPACE}",service="{RELEASE}",instance="10.0.0.1:80"}}', "values": "0x30"},
]


RUNBOOK = "https://github.com/tgictl/tgictl/blob/main/docs/runbooks.md#"


def alert(name: str, severity: str, summary: str, description: str, **labels: str) -> dict[str, Any]:
    annotations = {"summary": summary, "description": description, "runbook_url": RUNBOOK + name.lower()}
    return {"alertname": name, "exp_alerts": [{"exp_labels": {"severity": severity, **labels}, "exp_annotations": annotations}]}


def alert_tests(engine: str) -> list[dict[str, Any]]:
    keyed = {**LABELS, "engine": engine}
    pod = {"namespace": NAMESPACE, "pod": f"{RELEASE}-abc"}
    tests = [
        alert("LLMNoReadyReplicas", "critical", "demo has no ready replicas",
              "No pod of demo in llm has been ready for 5 minutes: the model serves nothing.", namespace=NAMESPACE, deployment=RELEASE),
        # 44 waiting at 25m, above 16, and the 10-minute trend still rises.
        alert("LLMQueueGrowing", "warning", "demo queue keeps growing",
              "44 requests wait and the queue has grown for 10 minutes: add replicas or lower load.", **keyed),
        # One restart a minute: 15 in 15 minutes.
        alert("LLMPodRestarting", "warning", "demo pods keep restarting", "Pod demo-abc restarted 15 times in 15 minutes.",
              container="server", **pod),
        alert("LLMOOMKilled", "critical", "demo was OOMKilled",
              "Pod demo-abc ran out of host memory: raise hardware.memory (loading weights needs headroom).", **pod),
        alert("LLMScrapeTargetDown", "warning", "Prometheus cannot scrape demo",
              "Target 10.0.0.1:80 has been down for 5 minutes: metrics, dashboards and autoscaling are blind.",
              namespace=NAMESPACE, service=RELEASE, instance="10.0.0.1:80"),
    ]
    if engine in ("tgi", "vllm"):
        # 0.1 failures/s over 1 request/s: 10%, above 5% (vLLM's failures: its queue limit's refusals).
        tests.append(alert("LLMErrorRatioHigh", "warning", "demo fails over 5% of requests",
                           "10% of requests failed over the last 10 minutes.", namespace=NAMESPACE, deployment=RELEASE))
    if engine in ("tgi", "vllm"):
        # TGI: 118.75 ms queue p95 + 237.5 ms prefill p95; vLLM: its own TTFT p95. SLO 0.2 s.
        ttft = "356.2ms" if engine == "tgi" else "237.5ms"
        tests.append(alert("LLMTimeToFirstTokenHigh", "warning", "demo TTFT p95 above 0.2s",
                           f"Time to first token p95 is {ttft}, over the SLO of 0.2s.", **keyed))
    else:
        # llama.cpp has neither request counters nor a TTFT series: these cannot fire.
        tests += [{"alertname": "LLMErrorRatioHigh", "exp_alerts": []}, {"alertname": "LLMTimeToFirstTokenHigh", "exp_alerts": []}]
    return tests


def named(record: str, expected: dict[str, Any]) -> dict[str, Any]:
    return {**expected, "labels": f'{record}{expected["labels"]}'}


def unit_test(rules: Path, engine: str) -> dict[str, Any]:
    return {
        "rule_files": [rules.name],
        "evaluation_interval": "30s",
        "tests": [{
            "interval": "1m",
            "input_series": INPUTS[engine] + KUBE,
            "promql_expr_test": [{"expr": record, "eval_time": "10m", "exp_samples": [named(record, s) for s in samples]}
                                 for record, samples in EXPECTED[engine].items()],
            "alert_rule_test": [{"eval_time": "25m", **t} for t in alert_tests(engine)],
        }],
    }


ENGINES = ("tgi", "vllm", "llamacpp")
SLO = {"monitoring": {"enabled": True, "slo": {"ttftP95Seconds": 0.2}}}


@pytest.mark.parametrize("engine", ENGINES)
def test_promtool_check_rules(engine: str, tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules.yaml", engine)
    done = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize("engine", ENGINES)
def test_every_recording_rule_and_alert_is_unit_tested(engine: str) -> None:
    groups = rule_groups(engine)
    records = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    assert records == set(EXPECTED[engine])
    assert alerts == {t["alertname"] for t in alert_tests(engine)}


@pytest.mark.parametrize("engine", ENGINES)
def test_promtool_test_rules(engine: str, tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules.yaml", engine, **SLO)
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(unit_test(rules, engine), sort_keys=False))
    done = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
