"""A streamed completion read in a thread, for tests that stop a server while it is in flight."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class Streamed:
    """What a stream delivered; ``started`` is set after its fifth event (or its end),
    ``ended`` when the reader stops."""

    events: int = 0
    finish_reason: str | None = None
    completion_tokens: int | None = None  # from the final usage event
    done: bool = False  # saw data: [DONE]
    error: str | None = None
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)


def read_in_thread(url: str, body: dict[str, Any]) -> tuple[Streamed, threading.Thread]:
    """POST ``body`` (a streamed /v1/completions request) and read it in a daemon thread."""
    streamed = Streamed()
    reader = threading.Thread(target=_read, args=(url, {**body, "stream": True, "stream_options": {"include_usage": True}},
                                                  streamed), daemon=True)
    reader.start()
    return streamed, reader


def _read(url: str, body: dict[str, Any], into: Streamed) -> None:
    try:
        with requests.post(url + "/v1/completions", json=body, stream=True, timeout=(5, 120)) as response:
            for line in response.iter_lines():
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    into.done = True
                    break
                event = json.loads(data)
                into.events += 1
                into.finish_reason = (event.get("choices") or [{}])[0].get("finish_reason") or into.finish_reason
                into.completion_tokens = (event.get("usage") or {}).get("completion_tokens", into.completion_tokens)
                if into.events == 5:
                    into.started.set()
    except requests.RequestException as err:
        into.error = f"{type(err).__name__}: {err}"
    finally:
        into.started.set()
        into.ended.set()
