"""Start real servers for tests: the simulator as a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web
from pathlib import Path

import requests

TGICTL = str(Path(sys.executable).parent / "tgictl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, timeout: float = 20.0, path: str = "/metrics", require_ok: bool = False) -> None:
    """Wait until ``url + path`` answers (with 200 when ``require_ok``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + path, timeout=1).status_code == 200 or not require_ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up in {timeout}s")


@contextlib.contextmanager
def simulator(*args: str, wait: bool = True) -> Iterator[str]:
    """``tgictl sim`` with ``args``; yields its base URL and stops it afterwards."""
    port = free_port()
    process = subprocess.Popen([TGICTL, "sim", "--port", str(port), *args], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        if wait:
            wait_until_up(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def app_in_thread(app: "web.Application") -> Iterator[str]:
    """Serve an aiohttp app on a free loopback port from a background thread; yields its URL.
    Stalled handlers are cancelled on the way out."""
    import asyncio
    import threading

    from aiohttp import web

    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        async def stop() -> None:
            await runner.cleanup()
            # Handlers still running (long watches, open streams) end here rather than
            # being destroyed pending when the loop goes.
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
