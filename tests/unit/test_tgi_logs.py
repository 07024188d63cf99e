"""Real TGI start-up logs (tests/fixtures/tgi-logs, sources in SOURCES.md) replayed through
deploy's assessment: each failure is named in words that say what to change, both while
the container still runs and after it restarted; progress lines move the phase; an error
TGI survives is no failure."""

from __future__ import annotations

from typing import Any

import pytest

from support.data import FIXTURES
from tgictl.engines import REGISTRY
from tgictl.lifecycle.progress import assess

LOGS = FIXTURES / "tgi-logs"
TGI = REGISTRY["tgi"].facts

# file → words the named cause must contain
NAMED = {
    "warmup-allocation-a10g.log": "ran out of memory at start-up: lower serving.maxBatchPrefillTokens",
    "sigill-shard-cannot-start.log": "SIGILL (signal 4)",
    "flash-attention-t4.log": "flash attention needs an Ampere-or-newer GPU",
    "hf-transfer-download.log": "download failed inside hf_transfer",
}
# file → the error line a failure with no known cause is named by
UNRECOGNISED = {
    "rocm-kernel-mi300x.log": "RuntimeError: CUDA kernel failed : 1",
    "warmup-shard-crashed.log": "Shard 0 crashed",
    "init-error.log": "Error when initializing model",
}
# file → the phase its lines show while TGI is still starting
PROGRESS = {
    "shards-ready-8xh100.log": "load",
    "shards-waiting-gemma3.log": "load",
    "cuda-graph-warmup.log": "starting",  # a survived OOM in graph capture: no failure, no phase of its own
}


def lines(name: str) -> list[str]:
    return (LOGS / name).read_text().splitlines()


def running() -> dict[str, Any]:
    return {"metadata": {"name": "tgi-0"}, "status": {"phase": "Running", "containerStatuses": [
        {"name": "server", "ready": False, "restartCount": 0, "state": {"running": {}}}]}}


def restarted() -> dict[str, Any]:
    waiting = {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container"}
    return {"metadata": {"name": "tgi-0"}, "status": {"phase": "Running", "containerStatuses": [
        {"name": "server", "ready": False, "restartCount": 1, "state": {"waiting": waiting},
         "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}


def test_the_catalog_is_replayed_whole() -> None:
    files = {p.name for p in LOGS.glob("*.log")}
    assert files == set(NAMED) | set(UNRECOGNISED) | set(PROGRESS)
    sources = (LOGS / "SOURCES.md").read_text()
    assert all(f"`{name}` | https://github.com/huggingface/text-generation-inference/issues/" in sources for name in files)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_known_failures_are_named_while_running_and_after_a_restart(name: str) -> None:
    live = assess(running(), [], lines(name), TGI)
    after = assess(restarted(), [], [], TGI, previous_log=lines(name))
    for state in (live, after):
        assert state.failed and NAMED[name] in (state.failure or ""), state
        assert state.evidence and all(line in lines(name) for line in state.evidence)


@pytest.mark.parametrize("name", sorted(UNRECOGNISED))
def test_unrecognised_failures_name_their_last_error_line(name: str) -> None:
    for state in (assess(running(), [], lines(name), TGI), assess(restarted(), [], [], TGI, previous_log=lines(name))):
        assert state.failed, state
        assert UNRECOGNISED[name] in (state.failure or "") and state.phase == "failed"
        assert "stopped at start-up" in (state.failure or "")


def test_an_error_line_alone_does_not_fail_a_running_engine() -> None:
    """An ERROR record with no exit marker (the shard may still recover) is not yet a failure
    while the container runs; after the container exits, the same line names the failure."""
    log = lines("rocm-kernel-mi300x.log")[:-2]  # the kernel error, before the router gives up
    assert not assess(running(), [], log, TGI).failed
    after = assess(restarted(), [], [], TGI, previous_log=log)
    assert after.failed and after.detail == "RuntimeError: CUDA kernel failed : 1"


@pytest.mark.parametrize("name", sorted(PROGRESS))
def test_progress_lines_set_the_phase(name: str) -> None:
    state = assess(running(), [], lines(name), TGI)
    assert not state.failed and state.phase == PROGRESS[name], state


def test_a_survived_cuda_graph_oom_is_no_failure_but_a_real_oom_is() -> None:
    survived = lines("cuda-graph-warmup.log") + ["torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]
    assert not assess(running(), [], survived, TGI).failed
    fatal = ["2024-04-02T17:31:25.000000Z ERROR text_generation_launcher: Method Warmup encountered an error.",
             "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]
    assert assess(running(), [], survived + fatal, TGI).failed
