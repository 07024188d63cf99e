"""The demo job: everything tgictl does without a cluster, end to end.

On the starter spec, with the model's config shipped in the package
(SmolLM2-135M's config.json), it validates, plans, renders values and
manifests, then starts the simulator with the planned limits and smoke-tests
it against the spec. Returns what it did as data; the CLI prints it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tgictl.adapters.files import write_files
from tgictl.render import service
from tgictl.render.prepare import prepare
from tgictl.spec import starter_files
from tgictl.spec.load import load_file

if TYPE_CHECKING:
    from tgictl.sim.server import SimConfig  # imported when the demo runs: it brings in aiohttp



@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str


class _BackgroundSimulator:
    """The simulator on a free loopback port, in a thread, for the demo's smoke test."""

    def __init__(self, config: SimConfig) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from tgictl.sim.server import serve

        async def main() -> None:
            self._stop = asyncio.Event()
            started = asyncio.Event()
            task = asyncio.ensure_future(serve(self._config, "127.0.0.1", self.port, started, self._stop))
            await started.wait()
            self._ready.set()
            await task

        self._loop.run_until_complete(main())

    def __enter__(self) -> str:
        self._thread.start()
        self._ready.wait(10)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def run(directory: Path, force: bool = False) -> list[Step]:
    """Run the demo in ``directory`` (created if missing). It writes the spec, the model's
    config and the renders there, and replaces only files an earlier demo wrote (unless ``force``)."""
    from tgictl.sim.batching import Limits
    from tgictl.smoke.runner import Expectations, run_smoke

    write_files(directory, starter_files(), writer="demo", force=force)
    spec_path = directory / "tgi.yaml"
    steps = [Step("init", True, str(spec_path))]
    spec = load_file(spec_path)
    steps.append(Step("validate", True, f"{spec.metadata.name}: {spec.spec.engine.name} serving {spec.spec.model.id}"))
    prepared = prepare(spec)
    planned, plan = prepared.spec, prepared.plan
    assert plan is not None
    steps.append(Step("plan", plan.fits, f"{plan.parameters / 1e6:.0f}M parameters, {plan.weight_bytes / 1e9:.2f} GB weights, "
                                         f"KV {plan.kv_bytes_per_token} B/token, {plan.max_batch_total_tokens} tokens fit in "
                                         f"{spec.spec.hardware.memory}; startup budget {prepared.startup_budget_s}s"))
    values = service.render(prepared, "values").write(directory / "values", force=force)
    steps.append(Step("render values", True, str(values[0])))
    written = service.render(prepared, "manifests").write(directory / "manifests", force=force)
    steps.append(Step("render manifests", True, f"{len(written)} objects in {directory / 'manifests'}"))

    serving = planned.spec.serving
    assert serving.max_input_tokens and serving.max_total_tokens
    limits = Limits(serving.max_input_tokens, serving.max_total_tokens, max(serving.max_batch_prefill_tokens or 0,
                                                                            serving.max_input_tokens),
                    max(plan.max_batch_total_tokens, serving.max_total_tokens), serving.max_concurrent_requests or 128)
    from tgictl.sim.server import SimConfig

    with _BackgroundSimulator(SimConfig(model_id=spec.spec.model.id, limits=limits)) as url:
        steps.append(Step("simulator", True, f"tgictl sim serving {spec.spec.model.id} at {url}"))
        report = asyncio.run(run_smoke(url, Expectations(serving.max_input_tokens, serving.max_total_tokens, spec.spec.model.id)))
    for check in report.checks:
        steps.append(Step(f"smoke: {check.name}", check.status != "fail", f"{check.status}: {check.detail}"))
    return steps
