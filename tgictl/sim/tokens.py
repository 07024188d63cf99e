"""A stand-in tokenizer and text source for the simulator.

A token is a run of whitespace plus the word after it (" hello"), so counts
are stable, offsets are exact, and clients that re-join token texts get the
original string back. Generated text cycles through a fixed word list from a
seeded position, so the same request always yields the same output.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*\S+|\s+")
VOCAB_SIZE = 32000
WORDS = (
    " the", " model", " answers", " every", " request", " with", " tokens", " streamed", " one",
    " at", " a", " time", " while", " the", " batch", " keeps", " growing", " and", " shrinking", ".",
)


@dataclass(frozen=True)
class Token:
    id: int
    text: str
    start: int
    stop: int


def token_id(text: str) -> int:
    return zlib.crc32(text.encode()) % VOCAB_SIZE


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with their character offsets."""
    return [Token(token_id(m.group()), m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def count(text: str) -> int:
    return sum(1 for _ in _TOKEN.finditer(text))


def natural_length(prompt: str, seed: int | None, low: int, high: int) -> int:
    """How many tokens the 'model' wants to say before its end-of-sequence token."""
    basis = zlib.crc32(f"{seed}:{prompt}".encode())
    return low + basis % (high - low + 1) if high > low else low


def word(prompt: str, index: int) -> str:
    """The ``index``-th generated token's text for ``prompt``."""
    start = zlib.crc32(prompt.encode()) % len(WORDS)
    return WORDS[(start + index) % len(WORDS)]
