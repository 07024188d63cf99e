"""What to send: prompts with input/output lengths, synthetic or from a JSONL file.

Lengths are drawn from a ``Length`` (``fixed:N``, ``uniform:A-B`` or
``normal:MEAN,SD``) with a seeded generator, so two runs send the same
workload. Synthetic prompts repeat words that every tokenizer we serve counts
as about one token each.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from tgictl.errors import UsageError, not_utf8

_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


@dataclass(frozen=True)
class Length:
    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Length:
        match = re.fullmatch(r"(fixed|uniform|normal):(\d+(?:\.\d+)?)(?:[-,](\d+(?:\.\d+)?))?", text)
        if not match or (match.group(1) != "fixed" and match.group(3) is None):
            raise UsageError(f"bad length {text!r}: use fixed:N, uniform:A-B or normal:MEAN,SD")
        kind, a, b = match.group(1), float(match.group(2)), float(match.group(3) or 0)
        if kind == "uniform" and b < a:
            raise UsageError(f"bad length {text!r}: uniform needs A <= B")
        return cls(kind, a, b)

    def draw(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        else:
            value = rng.gauss(self.a, self.b)
        return max(1, round(value))


@dataclass(frozen=True)
class Item:
    prompt: str
    max_tokens: int


def synthetic(count: int, input_len: Length, output_len: Length, seed: int = 0) -> list[Item]:
    rng = random.Random(seed)
    items = []
    for index in range(count):
        words = input_len.draw(rng)
        # A per-item prefix keeps prompts distinct, so prefix caches do not flatter the server.
        prompt = " ".join([f"q{index}"] + [_WORDS[(index + k) % len(_WORDS)] for k in range(words - 1)])
        items.append(Item(prompt, output_len.draw(rng)))
    return items


def from_jsonl(path: Path, default_max_tokens: int) -> list[Item]:
    """Lines of ``{"prompt": ..., "max_tokens": ...}`` (max_tokens optional)."""
    items = []
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise UsageError(f"{path}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: {not_utf8(err)}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            items.append(Item(str(record["prompt"]), int(record.get("max_tokens", default_max_tokens))))
        except (ValueError, KeyError, TypeError, AttributeError) as err:  # AttributeError: a line that is not an object
            raise UsageError(f"{path}:{number}: needs a JSON object with a prompt ({type(err).__name__})") from None
    if not items:
        raise UsageError(f"{path}: no prompts")
    return items
