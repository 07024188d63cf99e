"""API keys on the real control plane: the key lives in a real Secret, deploy's own smoke test,
`smoke --release` and `bench --release` read it through the API server and reach a keyed
simulator through the API server's port-forward; a Secret without the key is named. Moved
from the fake's tier (tests/cluster/test_api_keys.py keeps what needs no cluster)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from support.control_plane import TGI_START, Namespace, write_spec
from support.servers import simulator
from tgictl.cli.main import app

KEY = "sk-test-5a1t"
runner = CliRunner()


def _keyed_release(ns: Namespace, tmp_path: Path, secret_key: str) -> str:
    ns.kubectl("create", "secret", "generic", "llm-keys", "-n", ns.name, f"--from-literal={secret_key}={KEY}")
    return write_spec(ns, tmp_path, serving={"apiKeySecret": {"name": "llm-keys", "key": "api-key"}})


def test_deploy_smoke_and_bench_read_the_key_from_the_release_secret(ns: Namespace, tmp_path: Path) -> None:
    ns.route_logs(TGI_START)
    path = _keyed_release(ns, tmp_path, "api-key")
    with simulator("--api-key", KEY) as url:
        ns.route_port_forwards(url)
        deployed = runner.invoke(app, ["deploy", "-f", path, "-o", "json"])
        smoked = runner.invoke(app, ["smoke", "--release", "-f", path, "-o", "json"])
        benched = runner.invoke(app, ["bench", "--release", "-f", path, "--requests", "4", "--output-len", "fixed:4", "-o", "json"])
    assert deployed.exit_code == 0 and json.loads(deployed.stdout)["smoke"]["passed"], deployed.output
    assert smoked.exit_code == 0 and json.loads(smoked.stdout)["passed"], smoked.output
    assert benched.exit_code == 0 and json.loads(benched.stdout)["succeeded"] == 4, benched.output
    assert KEY not in deployed.output + smoked.output + benched.output


def test_a_secret_without_the_key_is_named(ns: Namespace, tmp_path: Path) -> None:
    path = _keyed_release(ns, tmp_path, "other")
    refused = runner.invoke(app, ["smoke", "--release", "-f", path])
    assert refused.exit_code == 1
    assert refused.stderr.strip() == f"error: serving.apiKeySecret: Secret {ns.name}/llm-keys has no key 'api-key'"
