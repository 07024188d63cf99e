"""Stopping a pod with a stream in flight, as the kubelet stops it, on the real llama-server.

The kubelet runs the preStop hook (the pod is leaving its Service's endpoints meanwhile),
then sends SIGTERM, then SIGKILL when terminationGracePeriodSeconds runs out
(kuberuntime_container.go, killContainer). llama-server cannot drain after SIGTERM: it
stops generating and the stream gets no end (measured here: the connection dropped at
once; in one run it stayed open, silent, until llama-server exited 30 s later). So the
chart gives in-flight streams their time in the preStop sleep. vLLM, which drains after SIGTERM with
the rendered --shutdown-timeout, is tested in test_vllm_real.py.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path


from support.data import SPECS, rendered_pod
from support.llama import llama_server_binary
from support.servers import free_port, wait_until_up
from support.streams import Streamed, read_in_thread
from support.tiny_model import write_tiny_llama

STREAM_TOKENS = 300  # about 4 s on one thread with the 200-layer model: in flight when the stop begins
LAYERS = 200


def kubelet_stop(process: subprocess.Popen[bytes], pre_stop_s: float, grace_s: float, idle: threading.Event) -> float | None:
    """preStop sleep, SIGTERM, SIGKILL at the end of the grace period; the seconds from SIGTERM
    to exit, or None when it had to be killed. The sleep ends here once the stream is over: a
    server with nothing in flight is not changed by waiting the rest (it keeps the test short)."""
    idle.wait(pre_stop_s)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s - pre_stop_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
    return time.monotonic() - signalled


def stop_with_a_stream_in_flight(tmp_path: Path, pre_stop_s: float, grace_s: float) -> tuple[Streamed, float | None]:
    model = write_tiny_llama(tmp_path / "slow.gguf", context=2048, layers=LAYERS)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [llama_server_binary(), "--model", str(model), "--ctx-size", "2048", "--parallel", "1", "--threads", "1",
               "--host", "127.0.0.1", "--port", str(port)]
    with (tmp_path / "server.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(url, timeout=60, path="/health", require_ok=True)
        streamed, reader = read_in_thread(url, {"prompt": "Hello", "max_tokens": STREAM_TOKENS, "ignore_eos": True})
        assert streamed.started.wait(30) and streamed.events >= 5, streamed
        exited_after = kubelet_stop(process, pre_stop_s, grace_s, streamed.ended)
        reader.join(timeout=60)
        return streamed, exited_after
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_rendered_pre_stop_lets_an_in_flight_stream_finish(tmp_path: Path) -> None:
    pod = rendered_pod(SPECS / "llamacpp-cpu-gguf.yaml")
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = pod["terminationGracePeriodSeconds"]
    assert (pre_stop, grace) == (40, 45)  # 10 s for endpoints + 30 s of drain; 5 s to exit
    streamed, exited_after = stop_with_a_stream_in_flight(tmp_path, pre_stop, grace)
    assert (streamed.done, streamed.finish_reason, streamed.completion_tokens) == (True, "length", STREAM_TOKENS), streamed
    assert exited_after is not None and exited_after < grace - pre_stop, "llama-server outlived the grace period"


def test_without_a_drain_in_pre_stop_sigterm_cuts_the_stream(tmp_path: Path) -> None:
    """The chart before: a 10 s preStop only for endpoints, so a stream still running then
    (here: SIGTERM at once) loses its end."""
    streamed, _ = stop_with_a_stream_in_flight(tmp_path, pre_stop_s=0, grace_s=45)
    assert not streamed.done and streamed.completion_tokens is None, streamed
