"""The load client reads every event of a read in one JSON parse; what it records must not
depend on how the server's bytes were cut into reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tgictl.loadgen.client import StreamResult, _read_events


class Body:
    """A response whose body arrives in the given pieces (what aiohttp's iter_any yields)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.content = self
        self._pieces = pieces

    async def iter_any(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece


def read(pieces: list[bytes], api: str = "completions") -> StreamResult:
    result = StreamResult(t_sched=0.0)
    asyncio.run(_read_events(Body(pieces), api, result))  # type: ignore[arg-type]
    return result


def event(text: str, finish: str | None = None) -> bytes:
    choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": finish}
    return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"


USAGE = b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}\n\n'
STREAM = b"".join([b": keep-alive\n\n", event("a"), event("b"), event(""), event("c"), event("d", "length"), USAGE,
                   b"data: [DONE]\n\n", b"data: not json after the end\n\n"])


@pytest.mark.parametrize("size", [1, 2, 7, 50, len(STREAM)])
def test_the_same_events_whatever_the_reads(size: int) -> None:
    result = read([STREAM[i:i + size] for i in range(0, len(STREAM), size)])
    assert result.ok and result.terminated
    assert (result.text, result.output_tokens, result.token_source, result.prompt_tokens) == ("abcd", 4, "server", 3)
    assert result.finish_reason == "length"
    assert len(result.arrivals) == 4


def test_crlf_lines_and_blanks_after_the_colon() -> None:
    result = read([STREAM.replace(b"\n", b"\r\n").replace(b"data: ", b"data:   ")])
    assert (result.text, result.terminated) == ("abcd", True)


@pytest.mark.parametrize(("line", "says"), [
    (b"data: {\"choices\": [\n\n", "not JSON in an SSE data line"),
    (b"data: 1, 2\n\n", "not JSON in an SSE data line: b'1, 2'"),  # valid only when joined with other lines
    (b"data: [1]\n\n", "SSE event is not an object"),
])
def test_a_malformed_line_is_named(line: bytes, says: str) -> None:
    from tgictl.loadgen.client import _Malformed

    with pytest.raises(_Malformed, match=says):
        read([event("a") + line + event("b")])


def test_an_error_event_ends_the_stream() -> None:
    result = read([event("a") + b'data: {"error": {"message": "overloaded"}}\n\n' + event("b")])
    assert (result.error_class, result.error, result.text) == ("in_stream_error", "overloaded", "a")


def test_an_in_stream_refusal_for_load_counts_as_overloaded() -> None:
    refusal = b'data: {"error": {"message": "The engine is currently busy", "type": "ServiceUnavailable", "code": 503}}\n\n'
    result = read([refusal])
    assert (result.error_class, result.error) == ("overloaded", "The engine is currently busy")
