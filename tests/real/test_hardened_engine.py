"""The real llama.cpp server starts and serves under the security context the chart
renders for it (Pod Security restricted): UID 65532, no capabilities, no_new_privs, a
read-only root with tmpfs at its rendered mounts (support/hardened.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from support.data import SPECS, rendered_pod
from support.hardened import contained, own_volume
from support.llama import llama_server_binary
from support.servers import free_port, wait_until_up
from support.tiny_model import write_tiny_llama


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_llama_server_serves_under_its_rendered_security_context(tmp_path: Path) -> None:
    pod = rendered_pod(SPECS / "llamacpp-cpu-gguf.yaml")
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    (tmp_path / "model").mkdir()
    write_tiny_llama(tmp_path / "model" / "tiny-llama.gguf")
    own_volume(tmp_path / "model", pod)  # the model arrives on a volume, owned by fsGroup
    binary = Path(llama_server_binary())
    port = free_port()
    command = [f"/srv/tools/{binary.name}", "--model", "/srv/model/tiny-llama.gguf", "--ctx-size", "256", "--threads", "1",
               "--host", "127.0.0.1", "--port", str(port)]
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(contained(command, pod, container, {binary.parent: "/srv/tools", tmp_path / "model": "/srv/model"}),
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", timeout=60, path="/health", require_ok=True)
        answer = requests.post(f"http://127.0.0.1:{port}/v1/completions", json={"prompt": "Hi", "max_tokens": 2}, timeout=30)
        assert answer.status_code == 200, answer.text
        status = _status(process.pid)
        assert status["Name"].startswith("llama-server")
        assert status["Uid"].split()[:2] == ["65532", "65532"] and status["Gid"].split()[0] == "65532"
        assert (status["NoNewPrivs"], status["CapEff"], status["CapBnd"]) == ("1", "0" * 16, "0" * 16)
        root = next(line for line in Path(f"/proc/{process.pid}/mountinfo").read_text().splitlines() if line.split()[4] == "/")
        assert " ro," in f" {root.split()[5]},"  # the container's root filesystem is read-only
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        print((tmp_path / "server.log").read_text()[-2000:])
