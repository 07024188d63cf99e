"""Bench results as files: JSON (summary), CSV (one row per request) and a PNG
of latency against load for sweeps (matplotlib, the optional `plot` extra)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tgictl.errors import UsageError
from tgictl.loadgen.client import StreamResult

CSV_FIELDS = ("t_sched", "t_send", "dispatch_lag_ms", "status", "error_class", "ttft_ms", "tpot_ms", "e2e_ms",
              "output_tokens", "token_source", "prompt_tokens", "finish_reason", "events", "longest_gap_ms")


def public(data: Any) -> Any:
    """Drop raw per-request results (keys starting with "_") for JSON output."""
    if isinstance(data, dict):
        return {k: public(v) for k, v in data.items() if not k.startswith("_")}
    if isinstance(data, list):
        return [public(v) for v in data]
    return data


def as_json(data: Any) -> str:
    return json.dumps(public(data), indent=2) + "\n"


def _ms(value: float | None) -> str:
    return f"{value * 1000:.3f}" if value is not None else ""


def as_csv(results: list[StreamResult]) -> str:
    start = min((r.t_sched for r in results), default=0.0)
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(CSV_FIELDS)
    for r in results:
        writer.writerow([f"{r.t_sched - start:.6f}", f"{r.t_send - start:.6f}", _ms(r.dispatch_lag), r.status,
                         r.error_class or "", _ms(r.ttft), _ms(r.tpot), _ms(r.e2e), r.output_tokens, r.token_source,
                         r.prompt_tokens if r.prompt_tokens is not None else "", r.finish_reason or "",
                         len(r.arrivals), _ms(max(r.gaps)) if r.gaps else ""])
    return handle.getvalue()


def plot_png(points: list[dict[str, Any]], title: str) -> bytes:
    """TTFT and TPOT percentiles against achieved request rate, one marker per sweep step, as PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("plots need matplotlib: pip install 'tgictl[plot]'") from None
    ordered = sorted(points, key=lambda p: p["request_rate"])
    rates = [p["request_rate"] for p in ordered]
    figure, (ttft, tpot) = plt.subplots(1, 2, figsize=(10, 4))
    for q in ("p50", "p95"):
        ttft.plot(rates, [p["ttft_ms"].get(q, float("nan")) for p in ordered], marker="o", label=f"TTFT {q}")
        tpot.plot(rates, [p["tpot_ms"].get(q, float("nan")) for p in ordered], marker="o", label=f"TPOT {q}")
    for axis, name in ((ttft, "time to first token (ms)"), (tpot, "time per output token (ms)")):
        axis.set_xlabel("achieved requests/s")
        axis.set_ylabel(name)
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    plt.close(figure)
    return png.getvalue()
