"""The real llama-server (the pinned build scripts/build-llama-server.sh makes) failing to load
a model, each way a user's model goes wrong: its own output, read by deploy's assessment while
the container still runs and after it restarted, names the cause and what to change."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.llama import llama_server_binary
from support.tiny_model import write_tiny_llama
from tgictl.engines import REGISTRY
from tgictl.lifecycle.progress import assess

LLAMACPP = REGISTRY["llamacpp"].facts


def missing(path: Path) -> Path:
    return path / "not-downloaded.gguf"


def old_ggml(path: Path) -> Path:
    """A GGML file of before GGUF (its "ggjt" v3 magic), as llama.cpp wrote them until August 2023."""
    model = path / "model.ggml"
    model.write_bytes(b"ggjt\x03\x00\x00\x00" + bytes(4096))
    return model


def truncated(path: Path) -> Path:
    """A download cut off half-way."""
    whole = write_tiny_llama(path / "whole.gguf").read_bytes()
    model = path / "model.gguf"
    model.write_bytes(whole[: len(whole) // 2])
    return model


def newer_architecture(path: Path) -> Path:
    """A GGUF of an architecture this build has never heard of (a model newer than the image)."""
    return write_tiny_llama(path / "model.gguf", architecture="granitemoehybrid5")


BROKEN: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing-file": (missing, "the GGUF file is missing in the container"),
    "old-ggml": (old_ggml, "the model file is not GGUF (an old GGML file"),
    "truncated": (truncated, "the GGUF file is truncated or corrupted"),
    "unknown-architecture": (newer_architecture, "does not know the model's architecture (the image is older than the model)"),
}


def pod(waiting: dict[str, Any] | None) -> dict[str, Any]:
    state = {"waiting": waiting} if waiting else {"running": {}}
    return {"metadata": {"name": "llama-0"}, "status": {"phase": "Running", "containerStatuses": [
        {"name": "server", "ready": False, "restartCount": 1 if waiting else 0, "state": state}]}}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_model_llama_server_cannot_load_is_named_from_its_own_output(case: str, tmp_path: Path) -> None:
    make, cause = BROKEN[case]
    crashed = subprocess.run([llama_server_binary(), "--model", str(make(tmp_path)), "--port", "0"],
                             capture_output=True, text=True, timeout=60)
    assert crashed.returncode != 0
    lines = (crashed.stdout + crashed.stderr).splitlines()
    live = assess(pod(None), [], lines, LLAMACPP)  # it logged its last words: failed before the restart
    after = assess(pod({"reason": "CrashLoopBackOff"}), [], [], LLAMACPP, previous_log=lines)
    for state in (live, after):
        assert state.failed and cause in (state.failure or ""), (state, lines[-8:])
        assert state.evidence and all(line in lines for line in state.evidence)
