"""A trivial streaming server for client benchmarks: every POST gets 64
OpenAI-completions SSE events, a usage event and [DONE], in one write, over
HTTP/1.1 keep-alive. Raw asyncio protocol, so it costs far less CPU than the
client it serves. Usage: python sse_server.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

EVENTS = 64


def _body() -> bytes:
    chunk = {"id": "x", "object": "text_completion", "created": 0, "model": "m",
             "choices": [{"index": 0, "text": " tok", "logprobs": None, "finish_reason": None}]}
    events = [b"data: " + json.dumps(chunk).encode() + b"\n\n" for _ in range(EVENTS)]
    usage = {"id": "x", "object": "text_completion", "created": 0, "model": "m", "choices": [],
             "usage": {"prompt_tokens": 8, "completion_tokens": EVENTS, "total_tokens": EVENTS + 8}}
    events.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


BODY = _body()
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + BODY)


class Stream(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15:].split(b"\r\n", 1)[0])
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length:]
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Stream, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
