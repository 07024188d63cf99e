"""The options every command that reads Prometheus shares (metrics, top, status),
named as kubectl names its own: TLS is verified unless told otherwise, and
credentials come from files or the environment, never from a flag's value."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

CaFileOption = Annotated[Optional[str], typer.Option(
    "--ca-file", envvar="TGICTL_PROMETHEUS_CA_FILE",
    help="CA bundle that signed Prometheus's certificate (default: the system's).")]
InsecureOption = Annotated[bool, typer.Option(
    "--insecure-skip-tls-verify", help="Do not verify Prometheus's TLS certificate (insecure).")]
TokenFileOption = Annotated[Optional[str], typer.Option(
    "--prometheus-token-file", help="File holding a bearer token for Prometheus (or set TGICTL_PROMETHEUS_TOKEN).")]
PasswordFileOption = Annotated[Optional[str], typer.Option(
    "--prometheus-password-file",
    help="File holding the basic-auth password (user: TGICTL_PROMETHEUS_USERNAME; or set TGICTL_PROMETHEUS_PASSWORD).")]
