"""The simulator image stands in for TGI on a cluster (the e2e suite deploys it):
the chart's TGI container, with the Dockerfile's entrypoint in front of the
rendered args, starts the simulator, which then passes smoke with the spec's limits."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import yaml

from support.data import ROOT
from support.servers import TGICTL, free_port, wait_until_up

E2E_SPEC = {
    "apiVersion": "tgictl.dev/v1alpha1", "kind": "InferenceDeployment", "metadata": {"name": "e2e-sim", "namespace": "default"},
    "spec": {"model": {"id": "tgictl/sim"}, "image": {"repository": "ghcr.io/tgictl/tgictl", "tag": "0.1.0"},
             "hardware": {"cpu": "500m", "memory": "256Mi"}, "serving": {"maxInputTokens": 1000, "maxTotalTokens": 2000},
             "cache": {"ephemeral": True}, "probes": {"startupBudgetSeconds": 300}},
}


def entrypoint() -> list[str]:
    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("ENTRYPOINT"))
    return json.loads(line.removeprefix("ENTRYPOINT"))  # type: ignore[no-any-return]


def test_the_chart_starts_the_simulator_image_as_tgi(tmp_path: Path) -> None:
    from tgictl.render import service
    from tgictl.spec.load import load_file

    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(E2E_SPEC))
    objects = {o["kind"]: o for o in yaml.safe_load_all(service.render(load_file(path), "manifests").stream) if o}
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container  # the image's entrypoint runs, as TGI's does
    command = entrypoint()
    assert command[:2] == ["tgictl", "sim"] and container["ports"][0]["containerPort"] == int(command[command.index("--port") + 1])
    port = free_port()
    # As in the pod, but on a free loopback port: the rendered args come after the entrypoint's.
    argv = [TGICTL, *command[1:], *container["args"], "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", path="/health", require_ok=True)
        smoked = subprocess.run([TGICTL, "smoke", f"http://127.0.0.1:{port}", "-f", str(path), "-o", "json"],
                                capture_output=True, text=True, timeout=120)
    finally:
        process.terminate()
        process.wait(timeout=10)
    report = json.loads(smoked.stdout)
    assert smoked.returncode == 0, shlex.join(argv) + "\n" + smoked.stdout
    assert {c["name"]: c["status"] for c in report["checks"]}["limits"] == "pass"
