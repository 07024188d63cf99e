"""Aggregate per-request results into the metrics of bench.md §2.

TTFT, TPOT ((E2E - TTFT) / (N - 1); aliases: genai-perf/aiperf/guidellm
"ITL"), ITL per gap pooled over requests, E2E, NTPOT (E2E / N), output
tokens/s and requests/s over the run's duration, goodput and SLO attainment,
errors by class, token-count sources, and stream integrity.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tgictl.loadgen.client import StreamResult

PERCENTILES = (50, 90, 95, 99)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def distribution(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    """Mean and percentiles, scaled (default: seconds → ms)."""
    if not values:
        return {}
    out = {"mean": sum(values) / len(values) * scale}
    out.update({f"p{q}": percentile(values, q) * scale for q in PERCENTILES})
    out["max"] = max(values) * scale
    return out


@dataclass(frozen=True)
class SLOTargets:
    ttft: float | None = None  # seconds
    tpot: float | None = None
    e2e: float | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.ttft, self.tpot, self.e2e))

    def met(self, r: StreamResult) -> bool:
        if not r.ok:
            return False
        checks = ((self.ttft, r.ttft), (self.tpot, r.tpot), (self.e2e, r.e2e))
        return all(target is None or (value is not None and value <= target) for target, value in checks)


def summarize(results: list[StreamResult], duration: float, slo: SLOTargets) -> dict[str, Any]:
    ok = [r for r in results if r.ok]
    tokens = sum(r.output_tokens for r in ok)
    good = [r for r in results if slo.met(r)] if slo.any else ok
    stalls = [max(r.gaps) for r in ok if r.gaps]
    return {
        "requests": len(results),
        "succeeded": len(ok),
        "failed": len(results) - len(ok),
        "duration_s": duration,
        "request_rate": len(ok) / duration if duration else 0.0,
        "output_tokens": tokens,
        "output_tokens_per_s": tokens / duration if duration else 0.0,
        "goodput_rps": len(good) / duration if duration else 0.0,
        "goodput_output_tokens_per_s": sum(r.output_tokens for r in good) / duration if duration else 0.0,
        "slo_attainment": len(good) / len(results) if results else 0.0,
        "ttft_ms": distribution([r.ttft for r in ok if r.ttft is not None]),
        "tpot_ms": distribution([r.tpot for r in ok if r.tpot is not None]),
        "itl_ms": distribution([g for r in ok for g in r.gaps]),
        "e2e_ms": distribution([r.e2e for r in ok if r.e2e is not None]),
        "ntpot_ms": distribution([r.e2e / r.output_tokens for r in ok if r.e2e and r.output_tokens]),
        "errors": dict(Counter(r.error_class for r in results if not r.ok)),
        "token_source": dict(Counter(r.token_source for r in ok)),
        "integrity": {
            "finish_reasons": dict(Counter(r.finish_reason or "none" for r in ok)),
            "missing_terminator": sum(1 for r in results if r.error_class == "incomplete"),
            "in_stream_errors": sum(1 for r in results if r.error_class == "in_stream_error"),
            "longest_stall_ms": max(stalls) * 1000 if stalls else 0.0,
        },
    }
