"""A continuous-batching latency model, the heart of the simulator.

One loop plays the engine: each step either prefills newly admitted requests
(costing time per input token, and yielding each one's first token) or runs
one decode step over the running batch (costing a base time plus a little per
running sequence, and yielding one token each). Requests wait in a queue
until the shared token budget (input + max new tokens of everything running)
has room for them, as in TGI's router. Time is real wall-clock time, so
clients measure what they would measure against a GPU.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Protocol


@dataclass(frozen=True)
class LatencyModel:
    """Seconds each kind of step takes."""

    prefill_per_token: float = 0.00005
    decode_step: float = 0.010
    decode_per_sequence: float = 0.0002

    def prefill(self, tokens: int) -> float:
        return self.prefill_per_token * tokens

    def decode(self, running: int) -> float:
        return self.decode_step + self.decode_per_sequence * running


@dataclass(frozen=True)
class Limits:
    """The limits a TGI router would report in /info."""

    max_input_tokens: int = 4095
    max_total_tokens: int = 4096
    max_batch_prefill_tokens: int = 4096
    max_batch_total_tokens: int = 65536
    max_concurrent_requests: int = 128
    max_num_queued_reqs: int | None = None  # vLLM's --max-num-queued-reqs (0.29+): None, no limit


@dataclass(frozen=True)
class TokenEvent:
    index: int  # 0-based position in the generated sequence
    text: str
    finish_reason: str | None  # set on the last token: "length", "eos_token" or "stop_sequence"


@dataclass(eq=False)
class Sequence:
    """One request as the engine sees it."""

    prompt: str
    input_tokens: int
    max_new_tokens: int
    natural_length: int  # tokens until the 'model' would emit EOS
    stop: tuple[str, ...] = ()
    events: asyncio.Queue[TokenEvent] = field(default_factory=asyncio.Queue)
    enqueued_at: float = field(default_factory=time.perf_counter)
    admitted_at: float | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    generated: int = 0
    text: str = ""
    finish_reason: str | None = None
    cancelled: bool = False

    @property
    def budget(self) -> int:
        """Tokens this sequence may occupy in the KV cache at its longest."""
        return self.input_tokens + self.max_new_tokens


class Observer(Protocol):
    """What the scheduler reports, for metrics."""

    def on_queue(self, waiting: int, running: int, reserved_tokens: int) -> None: ...
    def on_step(self, kind: str, seconds: float, batch_size: int) -> None: ...
    def on_finish(self, sequence: Sequence) -> None: ...


class Scheduler:
    """The engine loop. ``submit`` a sequence, then read its ``events`` queue."""

    def __init__(self, latency: LatencyModel, limits: Limits, observer: Observer, word: Callable[[str, int], str]) -> None:
        self.latency = latency
        self.limits = limits
        self.observer = observer
        self._word = word  # (prompt, index) -> the index-th token's text
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.reserved = 0  # tokens reserved by running sequences
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="sim-engine")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def submit(self, sequence: Sequence) -> None:
        self.waiting.append(sequence)
        self._report()
        self._wake.set()

    def _report(self) -> None:
        self.observer.on_queue(len(self.waiting), len(self.running), self.reserved)

    def _admit(self) -> list[Sequence]:
        """Pop waiting sequences that fit the token budget and this step's prefill budget."""
        admitted: list[Sequence] = []
        prefill = 0
        while self.waiting:
            head = self.waiting[0]
            if head.cancelled:
                self.waiting.popleft()
                continue
            fits_budget = self.reserved + head.budget <= self.limits.max_batch_total_tokens
            fits_prefill = prefill + head.input_tokens <= self.limits.max_batch_prefill_tokens or not admitted
            if not (fits_budget and fits_prefill):
                break
            self.waiting.popleft()
            self.reserved += head.budget
            prefill += head.input_tokens
            head.admitted_at = time.perf_counter()
            admitted.append(head)
        return admitted

    def _emit(self, sequence: Sequence) -> bool:
        """Produce the sequence's next token; True when it is finished."""
        text = self._word(sequence.prompt, sequence.generated)
        sequence.generated += 1
        sequence.text += text
        now = time.perf_counter()
        if sequence.first_token_at is None:
            sequence.first_token_at = now
        reason = None
        if any(sequence.text.endswith(s) for s in sequence.stop):
            reason = "stop_sequence"
        elif sequence.generated >= sequence.max_new_tokens:
            reason = "length"
        elif sequence.generated >= sequence.natural_length:
            reason = "eos_token"
        sequence.events.put_nowait(TokenEvent(sequence.generated - 1, text, reason))
        if reason:
            sequence.finish_reason = reason
            sequence.finished_at = now
        return reason is not None

    def _retire(self, finished: list[Sequence]) -> None:
        for sequence in finished:
            self.reserved -= sequence.budget
            if not sequence.cancelled:
                self.observer.on_finish(sequence)
        gone = set(map(id, finished))
        self.running = [s for s in self.running if id(s) not in gone]

    async def _loop(self) -> None:
        while True:
            if not self.waiting and not self.running:
                self._wake.clear()
                await self._wake.wait()
            admitted = self._admit()
            if admitted:
                # Prefill pauses decoding, as in TGI: the new prompts run alone.
                seconds = self.latency.prefill(sum(s.input_tokens for s in admitted))
                await asyncio.sleep(seconds)
                self.observer.on_step("prefill", seconds, len(admitted))
                self.running.extend(admitted)
                self._retire([s for s in admitted if s.cancelled or self._emit(s)])
            elif self.running:
                seconds = self.latency.decode(len(self.running))
                await asyncio.sleep(seconds)
                self.observer.on_step("decode", seconds, len(self.running))
                self._retire([s for s in list(self.running) if s.cancelled or self._emit(s)])
            else:
                # Waiting requests that do not fit yet wait for capacity (never, if
                # one alone exceeds the budget: validation refuses those upfront).
                await asyncio.sleep(0)
            self._report()
