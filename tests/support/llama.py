"""The real llama.cpp server, built once by scripts/build-llama-server.sh, serving
the tiny random-weight model from tiny_model.py."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from support import tools
from support.servers import free_port, wait_until_up
from support.tiny_model import write_tiny_llama


def llama_server_binary() -> str:
    """The binary scripts/build-llama-server.sh cached (``$TGICTL_LLAMA_SERVER`` overrides)."""
    return tools.cached("build-llama-server.sh", "TGICTL_LLAMA_SERVER")


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
