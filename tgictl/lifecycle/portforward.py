"""Reach a release's Service from this machine through `kubectl port-forward`
(kubectl speaks the API server's streaming protocol) and smoke-test it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from typing import Any

from tgictl.adapters import toolchain
from tgictl.errors import TgictlError
from tgictl.render.manifests import namespace_of
from tgictl.spec.model import Spec


def smoke_release(spec: Spec, context: str | None = None, timeout_s: float = 20.0) -> dict[str, Any]:
    from tgictl.smoke.runner import Expectations, run_smoke

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [toolchain.find("kubectl"), "port-forward", "--namespace", namespace_of(spec), f"svc/{spec.metadata.name}",
            f"{port}:{spec.spec.service.port}", "--address", "127.0.0.1"]
    if context:
        args += ["--context", context]
    forward = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if forward.poll() is not None:
                raise TgictlError(f"kubectl port-forward exited: {forward.stderr.read().strip() if forward.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        serving = spec.spec.serving
        report = asyncio.run(run_smoke(f"http://127.0.0.1:{port}", Expectations(serving.max_input_tokens, serving.max_total_tokens)))
        return report.as_dict()
    finally:
        forward.terminate()
        forward.wait(timeout=10)
