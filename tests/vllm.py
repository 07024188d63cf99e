"""Real vLLM (the CPU build, installed by scripts/install-vllm.sh into its own
venv) serving a tiny random-weight Llama written by tests/vllm_model.py."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from servers import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
# The KV cache vLLM's CPU backend allocates (GiB): small, so several servers fit beside the tests.
KV_CACHE_GIB = "1"


def vllm_python() -> str:
    """The vLLM venv's python (installing it the first time: about 2-3 minutes)."""
    if override := os.environ.get("TGICTL_VLLM_PYTHON"):
        return override
    done = subprocess.run(["bash", str(ROOT / "scripts" / "install-vllm.sh")], check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def write_tiny_model(directory: Path, model_type: str = "llama") -> Path:
    """config.json, bf16 safetensors and a tokenizer with a chat template (cached per directory)."""
    if not (directory / "config.json").exists():
        subprocess.run([vllm_python(), str(ROOT / "tests" / "vllm_model.py"), str(directory), model_type], check=True,
                       capture_output=True, timeout=300)
    return directory


def vllm_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "VLLM_CPU_KVCACHE_SPACE": KV_CACHE_GIB, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
            "HF_HUB_OFFLINE": "1", **(extra or {})}


@contextlib.contextmanager
def vllm_server(args: list[str], log: Path, env: dict[str, str] | None = None, ready_path: str = "/health",
                timeout: float = 300) -> Iterator[str]:
    """``python -m vllm.entrypoints.openai.api_server ARGS`` (the chart's `vllm serve` as a module: the
    console script cannot find the distribution, which is named vllm-cpu); yields the URL once
    ``ready_path`` answers 200. ``args`` must hold --host and --port."""
    port = args[args.index("--port") + 1]
    with log.open("w") as out:
        process = subprocess.Popen([vllm_python(), "-m", "vllm.entrypoints.openai.api_server", *args],
                                   stdout=out, stderr=subprocess.STDOUT, env=vllm_env(env))
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, timeout=timeout, path=ready_path, require_ok=True)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def default_args(model: Path, *extra: str) -> list[str]:
    return ["--model", str(model), "--host", "127.0.0.1", "--port", str(free_port()), "--max-model-len", "1024", *extra]
