"""Real vLLM (the CPU build, installed by scripts/install-vllm.sh into its own
venv) serving a tiny random-weight Llama written by tests/support/vllm_model.py."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from support import tools


# The KV cache vLLM's CPU backend allocates (GiB): small, so several servers fit beside the tests.
KV_CACHE_GIB = "1"


def vllm_python() -> str:
    """The python of the venv scripts/install-vllm.sh made (``$TGICTL_VLLM_PYTHON`` overrides)."""
    return tools.cached("install-vllm.sh", "TGICTL_VLLM_PYTHON")


def write_tiny_model(directory: Path, model_type: str = "llama") -> Path:
    """config.json, bf16 safetensors and a tokenizer with a chat template (cached per directory)."""
    if not (directory / "config.json").exists():
        subprocess.run([vllm_python(), str(Path(__file__).with_name("vllm_model.py")), str(directory), model_type], check=True,
                       capture_output=True, timeout=300)
    return directory


def vllm_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "VLLM_CPU_KVCACHE_SPACE": KV_CACHE_GIB, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
            "HF_HUB_OFFLINE": "1", **(extra or {})}


@contextlib.contextmanager
def vllm_process(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m vllm.entrypoints.openai.api_server ARGS`` (the chart's `vllm serve` as a module: the
    console script cannot find the distribution, which is named vllm-cpu), output to ``log``.

    vLLM forks an EngineCore and workers (about 1.5 GB each); killing only the API server
    orphans them, and a few runs later the machine swaps. So it runs in a session of its own,
    and the whole process group is stopped afterwards: SIGTERM, then SIGKILL."""
    with log.open("w") as out:
        process = subprocess.Popen([vllm_python(), "-m", "vllm.entrypoints.openai.api_server", *args], stdout=out,
                                   stderr=subprocess.STDOUT, env=vllm_env(env), start_new_session=True)
    try:
        yield process
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break  # the whole group is gone
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + wait  # the leader is gone: give its children the same time
        while time.monotonic() < deadline and _group_alive(process.pid):
            time.sleep(0.2)
        if not _group_alive(process.pid):
            break


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
