"""Key SLIs of deployments, read from Prometheus's engine-neutral llm: series.

The same queries serve every engine, because the recording rules already
mapped each engine's own metrics; a series an engine lacks (llama.cpp has
no request counter) simply reads as missing, never as zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tgictl.errors import TgictlError

# Column → PromQL template; {sel} selects namespace/deployment.
SLIS: dict[str, str] = {
    "requests_per_s": "sum by (namespace, deployment) (llm:requests:rate5m{{{sel}}})",
    "errors_per_s": "sum by (namespace, deployment) (llm:request_errors:rate5m{{{sel}}})",
    "waiting": "sum by (namespace, deployment) (llm:queue_size{{{sel}}})",
    "running": "sum by (namespace, deployment) (llm:running_requests{{{sel}}})",
    "ttft_p95_s": "max by (namespace, deployment) (llm:ttft_seconds:p95{{{sel}}})",
    "e2e_p95_s": "max by (namespace, deployment) (llm:e2e_seconds:p95{{{sel}}})",
    "tpot_p95_s": "max by (namespace, deployment) (llm:time_per_output_token_seconds:p95{{{sel}}})",
    "tokens_per_s": "sum by (namespace, deployment) (llm:generated_tokens:rate5m{{{sel}}})",
    "kv_cache_used": "max by (namespace, deployment) (llm:kv_cache_utilization{{{sel}}})",
    "replicas": "count by (namespace, deployment) (llm:running_requests{{{sel}}})",
}


@dataclass(frozen=True)
class Row:
    namespace: str
    deployment: str
    values: dict[str, float | None]


def selector(namespace: str | None, deployment: str | None) -> str:
    parts = []
    if namespace:
        parts.append(f'namespace="{namespace}"')
    if deployment:
        parts.append(f'deployment="{deployment}"')
    return ",".join(parts)


def read_slis(prometheus_url: str, namespace: str | None = None, deployment: str | None = None) -> list[Row]:
    """One row per deployment matching the filters."""
    from prometheus_api_client import PrometheusConnect
    from requests import RequestException

    client = PrometheusConnect(url=prometheus_url, disable_ssl=True, timeout=10)
    sel = selector(namespace, deployment)
    table: dict[tuple[str, str], dict[str, float | None]] = {}
    for column, template in SLIS.items():
        try:
            results = client.custom_query(template.format(sel=sel))
        except (RequestException, Exception) as err:  # the client wraps HTTP errors in its own types
            raise TgictlError(f"Prometheus at {prometheus_url} did not answer: {type(err).__name__}: {err}") from None
        for result in results:
            metric = result["metric"]
            key = (metric.get("namespace", ""), metric.get("deployment", ""))
            value = float(result["value"][1])
            table.setdefault(key, dict.fromkeys(SLIS))[column] = None if math.isnan(value) else value
    return [Row(ns, name, values) for (ns, name), values in sorted(table.items())]


def as_dicts(rows: list[Row]) -> list[dict[str, Any]]:
    return [{"namespace": r.namespace, "deployment": r.deployment, **r.values} for r in rows]
