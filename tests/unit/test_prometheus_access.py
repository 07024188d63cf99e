"""`tgictl metrics` against Prometheus over TLS with credentials: verification on by
default, a CA file or an explicit opt-out, a bearer token or basic auth from a file or
the environment, and no credential in any output or error."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tgictl.cli.main import app

TOKEN = "s3cr3t-token-value"
PASSWORD = "pa55-word-value"
ANSWER = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"namespace": "llm", "deployment": "demo"}, "value": [0, "1.5"]}]}}


class _Prometheus(BaseHTTPRequestHandler):
    """Prometheus's query API behind auth: 401 unless the expected credential comes."""

    expected: str = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        ok = self.headers.get("Authorization") == self.expected
        body = json.dumps(ANSWER if ok else {"status": "error", "error": f"unauthorized: {self.headers.get('Authorization')}"})
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    key, crt = directory / "tls.key", directory / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    return crt, key


@pytest.fixture()
def prometheus(cert: tuple[Path, Path]) -> Iterator[tuple[str, type[_Prometheus]]]:
    handler = type("Handler", (_Prometheus,), {"expected": f"Bearer {TOKEN}"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def metrics(url: str, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["metrics", "--prometheus", url, "-o", "json", *args], env=env or {})


def test_tls_is_verified_by_default(prometheus: tuple[str, type[_Prometheus]]) -> None:
    result = metrics(prometheus[0], env={"TGICTL_PROMETHEUS_TOKEN": TOKEN})
    assert result.exit_code == 1
    assert "TLS certificate not verified; pass --ca-file" in result.output
    assert "Traceback" not in result.output and TOKEN not in result.output


def test_a_ca_file_verifies_the_certificate(prometheus: tuple[str, type[_Prometheus]], cert: tuple[Path, Path]) -> None:
    result = metrics(prometheus[0], "--ca-file", str(cert[0]), env={"TGICTL_PROMETHEUS_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["requests_per_s"] == 1.5


def test_skipping_verification_is_explicit(prometheus: tuple[str, type[_Prometheus]], tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    result = metrics(prometheus[0], "--insecure-skip-tls-verify", "--prometheus-token-file", str(token_file))
    assert result.exit_code == 0, result.output


def test_a_refused_token_is_named_without_showing_it(prometheus: tuple[str, type[_Prometheus]]) -> None:
    result = metrics(prometheus[0], "--insecure-skip-tls-verify", env={"TGICTL_PROMETHEUS_TOKEN": "wrong-" + TOKEN})
    assert result.exit_code == 1
    assert "refused the request (HTTP 401) with a bearer token" in result.output
    assert TOKEN not in result.output  # the server echoed it in its body; the error does not


def test_basic_auth_from_a_password_file(prometheus: tuple[str, type[_Prometheus]], tmp_path: Path) -> None:
    url, handler = prometheus
    handler.expected = "Basic " + base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    result = metrics(url, "--insecure-skip-tls-verify", "--prometheus-password-file", str(password),
                     env={"TGICTL_PROMETHEUS_USERNAME": "ops"})
    assert result.exit_code == 0, result.output
    wrong = metrics(url, "--insecure-skip-tls-verify", env={"TGICTL_PROMETHEUS_USERNAME": "ops",
                                                            "TGICTL_PROMETHEUS_PASSWORD": "x" + PASSWORD})
    assert "HTTP 401) with basic auth" in wrong.output and PASSWORD not in wrong.output


def test_credentials_in_the_url_never_show(prometheus: tuple[str, type[_Prometheus]]) -> None:
    url = prometheus[0].replace("https://", f"https://ops:{PASSWORD}@")
    result = metrics(url)
    assert result.exit_code == 1 and PASSWORD not in result.output
    assert "Prometheus at https://127.0.0.1:" in result.output


def test_unreachable_and_conflicting_options_are_one_line_errors(cert: tuple[Path, Path]) -> None:
    down = metrics("http://127.0.0.1:9", env={})
    assert down.exit_code == 1 and "is unreachable" in down.output and "Traceback" not in down.output
    both = metrics("https://127.0.0.1:9", "--ca-file", str(cert[0]), "--insecure-skip-tls-verify")
    assert both.exit_code == 2 and "exclude each other" in both.output
