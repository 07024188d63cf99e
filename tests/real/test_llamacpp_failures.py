"""The real llama-server (the pinned build scripts/build-llama-server.sh makes) failing to load
a model, each way a user's model goes wrong: its own output, read by deploy's assessment while
the container still runs and after it restarted, names the cause and what to change."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.data import document
from support.llama import llama_server_binary
from support.servers import TGICTL
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


# What `tgictl validate` says of the same file, planning from it before anything deploys.
REFUSED_BEFORE_DEPLOY = {
    "missing-file": "spec.model.files: ",
    "old-ggml": "give the path of a .gguf file",
    "truncated": "the GGUF file is truncated",
    "unknown-architecture": "does not know the architecture 'granitemoehybrid5'",
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_the_files_llama_server_refuses_are_refused_before_deploy(case: str, tmp_path: Path) -> None:
    """The real binary and tgictl's reading of the file agree, so the failure is found on a laptop, not on a GPU node."""
    model = BROKEN[case][0](tmp_path)
    refused = subprocess.run([llama_server_binary(), "--model", str(model), "--port", "0"], capture_output=True, timeout=60)
    assert refused.returncode != 0
    spec = tmp_path / "tgi.yaml"
    spec.write_text(yaml.safe_dump(document(model={"id": str(model), "files": str(model)}, engine={"name": "llamacpp"},
                                            hardware={"cpu": "2", "memory": "2Gi"}, serving={"maxTotalTokens": 256})))
    done = subprocess.run([TGICTL, "validate", "-f", str(spec)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and REFUSED_BEFORE_DEPLOY[case] in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_file_llama_server_loads_is_valid(tmp_path: Path) -> None:
    model = write_tiny_llama(tmp_path / "model.gguf")
    spec = tmp_path / "tgi.yaml"
    spec.write_text(yaml.safe_dump(document(model={"id": str(model), "files": str(model)}, engine={"name": "llamacpp"},
                                            hardware={"cpu": "2", "memory": "2Gi"}, serving={"maxTotalTokens": 256})))
    assert subprocess.run([TGICTL, "validate", "-f", str(spec)], capture_output=True, text=True, timeout=60).returncode == 0
