"""One streamed generation, timed the way bench.md §2 defines it.

``stream_one`` sends a request to an OpenAI-style or TGI-native streaming
endpoint and records: t_send (just before the write), each content event's
arrival, the end of the stream, token counts (from the server's usage when
it reports one, else the number of content events, and which), the finish
reason, and an error class when anything goes wrong. It never raises for a
server's fault and never waits past its timeouts, so a broken server makes a
failed result, not a hung run.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# Fresh attempts after finding a pooled connection already closed by the server.
STALE_RETRIES = 3
# API shapes we can stream from: path and how to build the body.
APIS = ("completions", "chat", "tgi")


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0  # longest silence allowed: before the first byte or between events
    total: float = 300.0


@dataclass
class StreamResult:
    """What one request did, with perf_counter timestamps."""

    t_sched: float  # when it was meant to go (open loop); = t_send for closed loop
    index: int = -1  # position in the workload, to match server-side records
    t_send: float = 0.0
    t_first: float | None = None  # first non-empty content event
    t_last: float | None = None  # last content event
    t_end: float | None = None  # end of stream (terminator or EOF)
    arrivals: list[float] = field(default_factory=list)  # content event times
    status: int = 0
    error_class: str | None = None  # None when the request succeeded
    error: str | None = None
    text: str = ""
    finish_reason: str | None = None
    output_tokens: int = 0
    token_source: str = "events"  # "server" when the server reported the count (usage or TGI details)
    prompt_tokens: int | None = None
    terminated: bool = False  # saw the stream's proper end ([DONE] or TGI's final details)

    @property
    def ok(self) -> bool:
        return self.error_class is None

    @property
    def ttft(self) -> float | None:
        return self.t_first - self.t_send if self.t_first is not None else None

    @property
    def e2e(self) -> float | None:
        return self.t_last - self.t_send if self.t_last is not None else None

    @property
    def tpot(self) -> float | None:
        if self.t_first is None or self.t_last is None or self.output_tokens < 2:
            return None
        return (self.t_last - self.t_first) / (self.output_tokens - 1)

    @property
    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:])]

    @property
    def dispatch_lag(self) -> float:
        return self.t_send - self.t_sched


def request_body(api: str, prompt: str, max_tokens: int, model: str | None) -> tuple[str, dict[str, Any]]:
    """Path and JSON body for a streamed request of ``api`` kind."""
    if api == "tgi":
        return "/generate_stream", {"inputs": prompt, "parameters": {"max_new_tokens": max_tokens, "details": True}}
    body: dict[str, Any] = {"max_tokens": max_tokens, "stream": True, "stream_options": {"include_usage": True}}
    if model:
        body["model"] = model
    if api == "chat":
        return "/v1/chat/completions", {**body, "messages": [{"role": "user", "content": prompt}]}
    return "/v1/completions", {**body, "prompt": prompt}


def _content(api: str, event: dict[str, Any]) -> tuple[str, str | None]:
    """Text and finish reason carried by one event."""
    if api == "tgi":
        token = event.get("token") or {}
        details = event.get("details") or {}
        return ("" if token.get("special") else token.get("text", "")), details.get("finish_reason")
    choices = event.get("choices") or []
    if not choices:
        return "", None
    choice = choices[0]
    text = (choice.get("delta") or {}).get("content") if api == "chat" else choice.get("text")
    return text or "", choice.get("finish_reason") or None


class _Malformed(Exception):
    pass


async def stream_one(
    session: aiohttp.ClientSession,
    base_url: str,
    api: str,
    prompt: str,
    max_tokens: int,
    *,
    model: str | None = None,
    timeouts: Timeouts = Timeouts(),
    t_sched: float | None = None,
    headers: dict[str, str] | None = None,
) -> StreamResult:
    path, body = request_body(api, prompt, max_tokens, model)
    result = StreamResult(t_sched=t_sched if t_sched is not None else time.perf_counter())
    timeout = aiohttp.ClientTimeout(total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read)
    for attempt in range(STALE_RETRIES + 1):
        result.t_send = time.perf_counter()
        try:
            async with session.post(base_url + path, json=body, timeout=timeout, headers=headers) as response:
                result.status = response.status
                if response.status != 200:
                    detail = (await response.text())[:300]
                    # TGI answers 429 past --max-concurrent-requests, vLLM 503 past --max-num-queued-reqs.
                    result.error_class = "overloaded" if response.status in _OVERLOADED else f"http_{response.status // 100}xx"
                    result.error = f"HTTP {response.status}: {detail}"
                    return result
                await _read_events(response, api, result)
                break
        except aiohttp.ClientConnectorError as err:
            result.error_class, result.error = "connect", str(err)
            break
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as err:
            if attempt < STALE_RETRIES and result.status == 0:
                # A pooled keep-alive connection the server had already closed
                # (llama-server closes each after 100 requests without saying
                # so): the request never left, so send it again, as HTTP clients do.
                continue
            result.error_class, result.error = "reset", f"{type(err).__name__}: {err}"
            break
        except asyncio.TimeoutError:
            if time.perf_counter() - result.t_send >= timeouts.total:
                result.error_class, result.error = "timeout_total", f"not finished in {timeouts.total}s"
            else:
                result.error_class = "timeout_first_byte" if result.t_first is None else "stall"
                result.error = f"no data for {timeouts.read}s"
            break
        except aiohttp.ClientPayloadError as err:
            result.error_class, result.error = "reset", f"{type(err).__name__}: {err}"
            break
        except _Malformed as err:
            result.error_class, result.error = "malformed", str(err)
            break
        except aiohttp.ClientError as err:
            result.error_class, result.error = "client", f"{type(err).__name__}: {err}"
            break
    if result.ok and not result.terminated:
        result.error_class, result.error = "incomplete", "the stream ended without its terminator"
    return result


def _events(payloads: list[bytes]) -> list[Any]:
    """Every payload of one read, parsed in one json.loads call: the per-call cost, not the
    scanning, is most of the client's time at thousands of events a second (profiled:
    1.7 s of a 4 s run went to json.loads on 162k single events). When the joined parse fails,
    or does not give back one value per payload ("data: 1, 2"), each line is parsed alone so
    the bad one is named."""
    try:
        events = json.loads(b"[" + b",".join(payloads) + b"]")
        if len(events) == len(payloads):
            return list(events)
    except ValueError:
        pass
    return [_event(data) for data in payloads]


def _event(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise _Malformed(f"not JSON in an SSE data line: {data[:80]!r}") from None


async def _read_events(response: aiohttp.ClientResponse, api: str, result: StreamResult) -> None:
    buffer = b""
    async for chunk in response.content.iter_any():
        now = time.perf_counter()
        buffer += chunk
        cut = buffer.rfind(b"\n") + 1
        if not cut:
            continue
        # Each data field's payload, without the blanks around it (also a CRLF's \r); other lines
        # (blank separators, comments used as keep-alives, event: fields) are skipped.
        payloads = [line[5:].strip() for line in buffer[:cut].split(b"\n") if line.startswith(b"data:")]
        buffer = buffer[cut:]
        done = b"[DONE]" in payloads
        if done:
            payloads = payloads[:payloads.index(b"[DONE]")]
        if payloads and _record(_events(payloads), api, result, now):
            return
        if done:
            result.terminated = True
            result.t_end = now
            return
    result.t_end = time.perf_counter()


def _record(events: list[Any], api: str, result: StreamResult, now: float) -> bool:
    """Account the events of one read, all arrived at ``now``; True when one ends the stream
    with an error."""
    for event in events:
        if not isinstance(event, dict):
            raise _Malformed(f"SSE event is not an object: {json.dumps(event)[:80]!r}")
        if "error" in event:
            error = event["error"]
            result.error_class = "overloaded" if _refused_for_load(error) else "in_stream_error"
            result.error = error.get("message") if isinstance(error, dict) else str(error)
            result.t_end = now
            return True
        text, finish = _content(api, event)
        if text:
            if result.t_first is None:
                result.t_first = now
            result.t_last = now
            result.arrivals.append(now)
            result.text += text
            result.output_tokens += 1
        if finish:
            result.finish_reason = finish
        usage = event.get("usage")
        if usage:
            result.output_tokens = usage.get("completion_tokens", result.output_tokens)
            result.prompt_tokens = usage.get("prompt_tokens")
            result.token_source = "server"
        if api == "tgi" and event.get("details"):
            details = event["details"]
            result.output_tokens = details.get("generated_tokens", result.output_tokens)
            result.prompt_tokens = details.get("input_length")
            result.token_source = "server"
            result.terminated = True  # TGI has no [DONE]: the details event ends the stream
    return False


# HTTP statuses an engine refuses with when it is full: TGI 429, vLLM 503.
_OVERLOADED = (429, 503)


def _refused_for_load(error: Any) -> bool:
    """An in-stream error that is an admission refusal: vLLM refuses some streams after their 200
    with {"error": {"code": 503, ...}} (seen on real vLLM 0.32 past --max-num-queued-reqs)."""
    return isinstance(error, dict) and (error.get("code") in _OVERLOADED or error.get("http_status_code") in _OVERLOADED)


def check_reachable(url: str, timeout: float = 5.0) -> None:
    """Refuse a load test against a server that does not accept connections: thousands of
    connection errors once read as a client too slow for its load ("add --workers")."""
    import socket
    from urllib.parse import urlsplit

    from tgictl.errors import UnreachableError

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise UnreachableError(f"cannot reach {url}: {reason.lower()}: is the server up? Nothing was sent") from None
