"""Real start-up logs of each engine (tests/fixtures/<engine>-logs, sources in each SOURCES.md)
replayed through deploy's assessment: each failure is named in words that say what to change,
both while the container still runs and after it restarted; progress lines move the phase; an
error the engine survives is no failure; an unknown one is named by the error a person would
read, never by a traceback's frame, code or caret line."""

from __future__ import annotations

from typing import Any

import pytest

from support.data import FIXTURES
from tgictl.engines import REGISTRY
from tgictl.lifecycle.progress import assess

TGI = REGISTRY["tgi"].facts

# engine → file → words the named cause must contain
NAMED: dict[str, dict[str, str]] = {
    "tgi": {
        "warmup-allocation-a10g.log": "ran out of memory at start-up: lower serving.maxBatchPrefillTokens",
        "sigill-shard-cannot-start.log": "SIGILL (signal 4)",
        "flash-attention-t4.log": "flash attention needs an Ampere-or-newer GPU",
        "hf-transfer-download.log": "download failed inside hf_transfer",
        "launcher-args.log": "serving.maxInputTokens must be below serving.maxTotalTokens",
        "shard-heads.log": "attention heads do not divide among the shards",
        "nccl-timeout.log": "a collective between the shards timed out (NCCL)",
        "wrong-quantize.log": "quantization does not match serving.quantize",
        "sharded-without-flash.log": "without it TGI cannot shard",
        "master-port.log": "rendezvous port (29500) is taken",
    },
    "vllm": {
        **{f"no-kv-memory{n}.log": "no GPU memory is left for the KV cache" for n in ("", "-2", "-3")},
        **{f"max-model-len-too-big{n}.log": "KV cache cannot hold one sequence of max-model-len" for n in ("", "-2", "-3", "-4", "-5")},
        **{f"bf16-old-gpu{n}.log": "cannot run bfloat16: set serving.dtype: float16" for n in ("", "-2")},
        **{f"free-memory-below-utilization{n}.log": "another process holds part of the GPU" for n in ("", "-2", "-3")},
        **{f"driver-missing{n}.log": "the container sees no NVIDIA driver" for n in ("", "-2")},
        # The first names the architecture unsupported, but a kernel's import failed before it.
        **{f"unsupported-architecture{n}.log": "could not import the model's code" for n in ("", "-2", "-3")},
        **{f"shm-too-small{n}.log": "NCCL failed between shards" for n in ("", "-2")},
        "gated-or-missing-model.log": "model not found",
        "gated-or-missing-model-2.log": "gated or private model",
        # A 401: the Hub answers so for a private repository and for one that does not exist.
        "gated-or-missing-model-3.log": "gated or private model",
    },
    "llamacpp": {
        "unknown-architecture.log": "does not know the model's architecture (the image is older than the model)",
        "vram-buffer.log": "the layers offloaded to the GPU do not fit in its memory: lower features.gpuLayers",
        "not-gguf.log": "the model file is not GGUF",
        "not-gguf.alt-ggml-magic.log": "the model file is not GGUF",
        "missing-file.log": "the GGUF file is missing in the container",
        "missing-file.alt-enoent.log": "the GGUF file is missing in the container",
    },
}
# engine → file → the error line a failure with no known cause is named by
UNRECOGNISED: dict[str, dict[str, str]] = {
    "tgi": {
        "rocm-kernel-mi300x.log": "RuntimeError: CUDA kernel failed : 1",
        "warmup-shard-crashed.log": "Shard 0 crashed",
        "init-error.log": "Error when initializing model",
    },
    # The excerpt stops before the exception (no KV memory, says the thread): only the exit line is there.
    "vllm": {"no-kv-memory-4.log": "EngineCore failed to start."},
    "llamacpp": {},
}
# engine → file → the phase its lines show while the engine is still starting
PROGRESS: dict[str, dict[str, str]] = {
    "tgi": {
        "shards-ready-8xh100.log": "load",
        "shards-waiting-gemma3.log": "load",
        "cuda-graph-warmup.log": "starting",  # a survived OOM in graph capture: no failure, no phase of its own
    },
    "vllm": {"shm-too-small-3.log": "starting"},  # Ray's warning of a small /dev/shm: vLLM goes on
    "llamacpp": {},
}
CASES = [(engine, name) for engine, files in NAMED.items() for name in sorted(files)]


def log_of(engine: str, name: str) -> list[str]:
    return (FIXTURES / f"{engine}-logs" / name).read_text().splitlines()


def lines(name: str) -> list[str]:
    return log_of("tgi", name)


def running() -> dict[str, Any]:
    return {"metadata": {"name": "server-0"}, "status": {"phase": "Running", "containerStatuses": [
        {"name": "server", "ready": False, "restartCount": 0, "state": {"running": {}}}]}}


def restarted() -> dict[str, Any]:
    waiting = {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container"}
    return {"metadata": {"name": "server-0"}, "status": {"phase": "Running", "containerStatuses": [
        {"name": "server", "ready": False, "restartCount": 1, "state": {"waiting": waiting},
         "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}


@pytest.mark.parametrize("engine", list(NAMED))
def test_each_catalog_is_replayed_whole_and_every_file_has_its_source(engine: str) -> None:
    folder = FIXTURES / f"{engine}-logs"
    files = {p.name for p in folder.glob("*.log")}
    assert files == set(NAMED[engine]) | set(PROGRESS[engine]) | set(UNRECOGNISED[engine])
    sources = (folder / "SOURCES.md").read_text()
    assert all(f"| `{name}` | https://github.com/" in sources for name in files), sources


@pytest.mark.parametrize(("engine", "name"), CASES)
def test_known_failures_are_named_while_running_and_after_a_restart(engine: str, name: str) -> None:
    log, facts = log_of(engine, name), REGISTRY[engine].facts
    live = assess(running(), [], log, facts)
    after = assess(restarted(), [], [], facts, previous_log=log)
    for state in (live, after):
        assert state.failed and NAMED[engine][name] in (state.failure or ""), state
        assert state.evidence and all(line in log for line in state.evidence)


UNNAMED = [(engine, name) for engine, files in UNRECOGNISED.items() for name in sorted(files)]


@pytest.mark.parametrize(("engine", "name"), UNNAMED)
def test_unrecognised_failures_name_their_last_error_line(engine: str, name: str) -> None:
    log, facts = log_of(engine, name), REGISTRY[engine].facts
    for state in (assess(running(), [], log, facts), assess(restarted(), [], [], facts, previous_log=log)):
        assert state.failed, state
        assert UNRECOGNISED[engine][name] in (state.failure or "") and state.phase == "failed"
        assert "stopped at start-up" in (state.failure or "")


# An error no catalog knows, in vLLM 0.32's logger format (v1/engine/core.py logs the traceback of
# the engine core's start line by line under its prefix, then the front end exits).
UNKNOWN_VLLM = [
    "(EngineCore_DP0 pid=305) ERROR 12-06 10:00:00 [core.py:1510] EngineCore failed to start.",
    "(EngineCore_DP0 pid=305) ERROR 12-06 10:00:00 [core.py:1510] Traceback (most recent call last):",
    '(EngineCore_DP0 pid=305) ERROR 12-06 10:00:00 [core.py:1510]   File "/usr/lib/python3/vllm/v1/engine/core.py", line 1501, in run',
    "(EngineCore_DP0 pid=305) ERROR 12-06 10:00:00 [core.py:1510]     engine_core = EngineCoreProc(*args, **kwargs)",
    "(EngineCore_DP0 pid=305) ERROR 12-06 10:00:00 [core.py:1510]                   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    "(EngineCore_DP0 pid=305) ERROR 12-06 10:00:00 [core.py:1510] KeyError: 'rope_scaling_type'",
    "(APIServer pid=1) ERROR 12-06 10:00:01 [launcher.py:40]     return await anext(self.gen)",
    "(APIServer pid=1) ERROR 12-06 10:00:01 [launcher.py:40]  ^^^^^^^^^^^^^^^^",
]


def test_an_unknown_error_is_named_by_its_exception_not_a_frame_caret_or_prefix() -> None:
    vllm = REGISTRY["vllm"].facts
    live = assess(running(), [], UNKNOWN_VLLM, vllm)  # "EngineCore failed to start": failed while it still runs
    after = assess(restarted(), [], [], vllm, previous_log=UNKNOWN_VLLM)
    for state in (live, after):
        assert state.failure == "vLLM stopped at start-up; the error it logged last: KeyError: 'rope_scaling_type'", state


@pytest.mark.parametrize(("engine", "name"), [*CASES, *UNNAMED])
def test_no_cause_quotes_a_traceback_frame_caret_or_logger_prefix(engine: str, name: str) -> None:
    state = assess(restarted(), [], [], REGISTRY[engine].facts, previous_log=log_of(engine, name))
    cause = state.failure or ""
    assert "^^^" not in cause and 'File "' not in cause and "Traceback" not in cause and " ERROR " not in cause, cause


def test_an_error_line_alone_does_not_fail_a_running_engine() -> None:
    """An ERROR record with no exit marker (the shard may still recover) is not yet a failure
    while the container runs; after the container exits, the same line names the failure."""
    log = lines("rocm-kernel-mi300x.log")[:-2]  # the kernel error, before the router gives up
    assert not assess(running(), [], log, TGI).failed
    after = assess(restarted(), [], [], TGI, previous_log=log)
    assert after.failed and after.detail == "RuntimeError: CUDA kernel failed : 1"


@pytest.mark.parametrize(("engine", "name"), [(engine, name) for engine, files in PROGRESS.items() for name in sorted(files)])
def test_progress_lines_set_the_phase(engine: str, name: str) -> None:
    state = assess(running(), [], log_of(engine, name), REGISTRY[engine].facts)
    assert not state.failed and state.phase == PROGRESS[engine][name], state


def test_a_survived_cuda_graph_oom_is_no_failure_but_a_real_oom_is() -> None:
    survived = lines("cuda-graph-warmup.log") + ["torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]
    assert not assess(running(), [], survived, TGI).failed
    fatal = ["2024-04-02T17:31:25.000000Z ERROR text_generation_launcher: Method Warmup encountered an error.",
             "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]
    assert assess(running(), [], survived + fatal, TGI).failed
