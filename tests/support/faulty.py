"""A deliberately broken streaming server, one fault per path, for client tests.

Runs in a background thread with its own event loop on a loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator

from aiohttp import web

from support.servers import app_in_thread

TOKEN = {"choices": [{"index": 0, "text": " tok", "finish_reason": None}]}


async def _stream(request: web.Request, events: list[bytes], delay: float = 0.0) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for event in events:
        await response.write(event)
        if delay:
            await asyncio.sleep(delay)
    return response


def _data(payload: object) -> bytes:
    return b"data: " + (payload if isinstance(payload, bytes) else json.dumps(payload).encode()) + b"\n\n"


async def healthy(request: web.Request) -> web.StreamResponse:
    return await _stream(request, [_data(TOKEN)] * 3 + [_data(b"[DONE]")], delay=0.01)


async def reset(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_data(TOKEN))
    await asyncio.sleep(0.05)
    assert request.transport is not None
    request.transport.abort()  # RST mid-stream
    return response


async def malformed(request: web.Request) -> web.StreamResponse:
    return await _stream(request, [_data(TOKEN), b"data: {not json\n\n", _data(b"[DONE]")])


async def stall_first(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(30)
    return await _stream(request, [_data(TOKEN), _data(b"[DONE]")])


async def stall_between(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_data(TOKEN))
    await asyncio.sleep(30)
    return response


async def server_error(request: web.Request) -> web.Response:
    return web.json_response({"error": "boom", "error_type": "generation"}, status=500)


async def in_stream_error(request: web.Request) -> web.StreamResponse:
    return await _stream(request, [_data(TOKEN), _data({"error": {"message": "CUDA out of memory", "http_status_code": 424}})])


async def no_terminator(request: web.Request) -> web.StreamResponse:
    return await _stream(request, [_data(TOKEN), _data(TOKEN)])


async def buffered(request: web.Request) -> web.StreamResponse:
    """A proxy that holds the whole stream back, then sends it at once."""
    await asyncio.sleep(0.1)
    return await _stream(request, [b"".join([_data(TOKEN)] * 8 + [_data(b"[DONE]")])])


FAULTS = {
    "healthy": healthy, "reset": reset, "malformed": malformed, "stall_first": stall_first,
    "stall_between": stall_between, "server_error": server_error, "in_stream_error": in_stream_error,
    "no_terminator": no_terminator, "buffered": buffered,
}


@contextlib.contextmanager
def faulty_server() -> Iterator[str]:
    """Serve each fault at ``/<fault>/v1/completions``; yields the base URL."""
    app = web.Application()
    for name, handler in FAULTS.items():
        app.router.add_post(f"/{name}/v1/completions", handler)
    with app_in_thread(app) as url:
        yield url
