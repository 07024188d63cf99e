"""The real llama.cpp server, built once by scripts/build-llama-server.sh, serving
the tiny random-weight model from tiny_model.py."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from servers import free_port, wait_until_up
from tiny_model import write_tiny_llama

ROOT = Path(__file__).resolve().parents[1]


def llama_server_binary() -> str:
    """The cached binary (building it the first time: about 6-20 minutes)."""
    if override := os.environ.get("TGICTL_LLAMA_SERVER"):
        return override
    built = subprocess.run(["bash", str(ROOT / "scripts" / "build-llama-server.sh")], check=True,
                           capture_output=True, text=True)
    return built.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def llama_server(model_dir: Path, *extra: str, args: list[str] | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start llama-server on the tiny model; ``args`` replaces the default arguments, ``env`` adds variables."""
    model = write_tiny_llama(model_dir / "tiny-llama.gguf")
    port = free_port()
    command = [llama_server_binary(), *(args if args is not None else
               ["--model", str(model), "--ctx-size", "512", "--parallel", "2", "--metrics", "--threads", "1"]),
               "--host", "127.0.0.1", "--port", str(port), *extra]
    log = (model_dir / "llama-server.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout=60, path="/health", require_ok=True)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
