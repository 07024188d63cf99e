"""Key SLIs of deployments, read from Prometheus's engine-neutral llm: series.

The same queries serve every engine, because the recording rules already
mapped each engine's own metrics; a series an engine lacks (llama.cpp has
no request counter) simply reads as missing, never as zero.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tgictl.errors import TgictlError, UsageError

# Where credentials come from: the environment or a file, never a flag's value
# (it would land in shell history and in `ps`).
TOKEN_ENV = "TGICTL_PROMETHEUS_TOKEN"
USERNAME_ENV = "TGICTL_PROMETHEUS_USERNAME"
PASSWORD_ENV = "TGICTL_PROMETHEUS_PASSWORD"
TIMEOUT_S = 10.0

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


@dataclass(frozen=True)
class PrometheusAccess:
    """How to reach Prometheus: TLS verified by default (the system CAs, or ``ca_file``),
    and a bearer token or basic auth. Credentials never show in repr or errors."""

    url: str
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    timeout_s: float = TIMEOUT_S

    @property
    def shown_url(self) -> str:
        """The URL without any user:password@ it was given."""
        parts = urlsplit(self.url)
        return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl() if parts.hostname else self.url

    def verify(self) -> bool | str:
        return False if self.insecure_skip_tls_verify else (self.ca_file or True)

    def headers(self) -> dict[str, str] | None:
        return {"Authorization": f"Bearer {self.token}"} if self.token else None


def _secret_file(path: str, option: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as err:
        raise UsageError(f"{option}: cannot read {path}: {err.strerror}") from None


def prometheus_access(url: str, *, ca_file: str | None = None, insecure_skip_tls_verify: bool = False,
                      token_file: str | None = None, password_file: str | None = None) -> PrometheusAccess:
    """The access the options and the environment describe: a token from ``token_file`` or
    $TGICTL_PROMETHEUS_TOKEN; basic auth as $TGICTL_PROMETHEUS_USERNAME with the password
    from ``password_file`` or $TGICTL_PROMETHEUS_PASSWORD."""
    if ca_file and insecure_skip_tls_verify:
        raise UsageError("--ca-file and --insecure-skip-tls-verify exclude each other")
    if ca_file and not Path(ca_file).is_file():
        raise UsageError(f"--ca-file: no such file {ca_file}")
    token = _secret_file(token_file, "--prometheus-token-file") if token_file else os.environ.get(TOKEN_ENV)
    username = os.environ.get(USERNAME_ENV)
    password = _secret_file(password_file, "--prometheus-password-file") if password_file else os.environ.get(PASSWORD_ENV)
    if password and not username:
        raise UsageError(f"a Prometheus password needs a user name: set {USERNAME_ENV}")
    if token and username:
        raise UsageError(f"both a bearer token and basic auth for Prometheus: set {TOKEN_ENV} or {USERNAME_ENV}, not both")
    basic = (username, password or "") if username else None
    return PrometheusAccess(url.rstrip("/"), ca_file, insecure_skip_tls_verify, token or None, basic)


def _failure(access: PrometheusAccess, err: Exception) -> TgictlError:
    """One line naming what went wrong and what to change; never a credential or a response body."""
    from prometheus_api_client import PrometheusApiClientException
    from requests.exceptions import ConnectionError, SSLError, Timeout

    where = f"Prometheus at {access.shown_url}"
    if isinstance(err, SSLError):
        return TgictlError(f"{where}: TLS certificate not verified; pass --ca-file with the CA that signed it "
                           "(or --insecure-skip-tls-verify to trust any certificate)")
    if isinstance(err, Timeout):
        return TgictlError(f"{where} did not answer within {access.timeout_s:g}s")
    if isinstance(err, ConnectionError):
        return TgictlError(f"{where} is unreachable: {type(err).__name__}")
    status = str(err).split("HTTP Status Code ")[-1].split(" ")[0] if isinstance(err, PrometheusApiClientException) else ""
    if status in ("401", "403"):
        sent = "a bearer token" if access.token else "basic auth" if access.basic_auth else "no credentials"
        return TgictlError(f"{where} refused the request (HTTP {status}) with {sent}: set {TOKEN_ENV} or "
                           f"--prometheus-token-file, or {USERNAME_ENV} with {PASSWORD_ENV} or --prometheus-password-file")
    if status:
        return TgictlError(f"{where} answered HTTP {status} to a query")
    return TgictlError(f"{where} did not answer: {type(err).__name__}")


def selector(namespace: str | None, deployment: str | None) -> str:
    parts = []
    if namespace:
        parts.append(f'namespace="{namespace}"')
    if deployment:
        parts.append(f'deployment="{deployment}"')
    return ",".join(parts)


def _client(access: PrometheusAccess) -> Any:
    import requests
    from prometheus_api_client import PrometheusConnect

    session = requests.Session()
    session.verify = access.verify()
    return PrometheusConnect(url=access.url, headers=access.headers(), auth=access.basic_auth, session=session,
                             timeout=access.timeout_s)


def read_slis(prometheus: PrometheusAccess, namespace: str | None = None, deployment: str | None = None) -> list[Row]:
    """One row per deployment matching the filters."""
    client = _client(prometheus)
    sel = selector(namespace, deployment)
    table: dict[tuple[str, str], dict[str, float | None]] = {}
    for column, template in SLIS.items():
        try:
            results = client.custom_query(template.format(sel=sel))
        except Exception as err:  # requests' errors, and the client's own for HTTP statuses
            raise _failure(prometheus, err) from None
        for result in results:
            metric = result["metric"]
            key = (metric.get("namespace", ""), metric.get("deployment", ""))
            value = float(result["value"][1])
            table.setdefault(key, dict.fromkeys(SLIS))[column] = None if math.isnan(value) else value
    return [Row(ns, name, values) for (ns, name), values in sorted(table.items())]


def as_dicts(rows: list[Row]) -> list[dict[str, Any]]:
    return [{"namespace": r.namespace, "deployment": r.deployment, **r.values} for r in rows]
