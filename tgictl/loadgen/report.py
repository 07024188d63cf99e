"""Bench results as files: JSON (summary), CSV (one row per request), an HTML
report (Jinja2, autoescaped) and a PNG of latency against load for sweeps
(matplotlib, the optional `plot` extra)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tgictl.errors import UsageError
from tgictl.loadgen.client import StreamResult
from tgictl.loadgen.runner import BenchRun, SweepRun

CSV_FIELDS = ("t_sched", "t_send", "dispatch_lag_ms", "status", "error_class", "ttft_ms", "tpot_ms", "e2e_ms",
              "output_tokens", "token_source", "prompt_tokens", "finish_reason", "events", "longest_gap_ms")


@dataclass(frozen=True)
class ReportPaths:
    """Where ``tgictl bench`` writes its reports (None: not asked for)."""

    json: Path | None = None
    csv: Path | None = None
    plot: Path | None = None  # sweeps only
    html: Path | None = None

    @property
    def asked(self) -> list[Path]:
        return [p for p in (self.json, self.csv, self.plot, self.html) if p]


def report_files(run: BenchRun | SweepRun, paths: ReportPaths, title: str) -> dict[Path, str | bytes]:
    """The contents of each report asked for, by path."""
    files: dict[Path, str | bytes] = {}
    if paths.json:
        files[paths.json] = as_json(run.as_dict())
    if paths.csv:
        files[paths.csv] = as_csv(list(run.results))
    if paths.plot and isinstance(run, SweepRun):
        files[paths.plot] = plot_png([p.summary for p in run.points], title)
    if paths.html:
        files[paths.html] = as_html(run.as_dict())
    return files


def as_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


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


LATENCIES = (("TTFT", "ttft_ms"), ("TPOT", "tpot_ms"), ("ITL", "itl_ms"), ("E2E", "e2e_ms"), ("NTPOT", "ntpot_ms"))
QUANTILES = ("mean", "p50", "p90", "p95", "p99", "max")


PLOT_BACKGROUND = "#f3f6fa"  # the plot area's fill: tests find the chart in a screenshot by it


def _svg_chart(points: list[dict[str, Any]], width: int = 600, height: int = 260, pad: int = 40) -> str:
    """TTFT p50 and p95 against achieved request rate as an inline SVG (numbers only: nothing to escape)."""
    ordered = sorted(points, key=lambda p: p["request_rate"])
    series = {q: [(p["request_rate"], p["ttft_ms"].get(q)) for p in ordered if p["ttft_ms"].get(q) is not None]
              for q in ("p50", "p95")}
    xs = [x for line in series.values() for x, _ in line] or [0.0]
    ys = [y for line in series.values() for _, y in line] or [0.0]
    x_max, y_max = max(max(xs), 1e-9), max(max(ys), 1e-9)

    def at(x: float, y: float) -> tuple[str, str]:
        return f"{pad + x / x_max * (width - 2 * pad):.1f}", f"{height - pad - y / y_max * (height - 2 * pad):.1f}"

    def drawn(q: str, line: list[tuple[float, float]], row: int) -> str:
        # A marker per step as well as the line: a sweep that stops at its first rate has one
        # point, and a one-point polyline draws nothing (seen in the report's screenshot test).
        spots = [at(x, y) for x, y in line]
        return (f'<polyline fill="none" stroke="{colours[q]}" stroke-width="2" points="{" ".join(f"{x},{y}" for x, y in spots)}"/>'
                + "".join(f'<circle r="4" fill="{colours[q]}" cx="{x}" cy="{y}"/>' for x, y in spots)
                # The key sits below the axes, so the plot area holds only data.
                + f'<text x="{pad + 70 * row}" y="{height - 8}" fill="{colours[q]}">TTFT {q}</text>')

    colours = {"p50": "#1565c0", "p95": "#c62828"}
    lines = "".join(drawn(q, line, row) for row, (q, line) in enumerate(series.items()))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="TTFT against achieved request rate">'
            f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" fill="{PLOT_BACKGROUND}"/>'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#888"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#888"/>'
            f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">achieved requests/s (max {x_max:.2f})</text>'
            f'<text x="8" y="{pad - 8}">TTFT ms (max {y_max:.0f})</text>{lines}</svg>')


def as_html(data: dict[str, Any]) -> str:
    """A self-contained HTML page of one run or a sweep (its ceiling probe, then each rate)."""
    from importlib import resources

    import jinja2

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     trim_blocks=True, lstrip_blocks=True)
    template = environment.from_string(resources.files("tgictl.loadgen").joinpath("templates/report.html.j2").read_text())
    if "points" in data:  # a sweep
        runs, sweep = [data["ceiling"], *data["points"]], {"best": data["best"], "chart": _svg_chart(data["points"])}
    else:
        runs, sweep = [data], None
    return template.render(url=runs[0]["url"], runs=runs, sweep=sweep, latencies=LATENCIES, quantiles=QUANTILES, usd=_usd)


def _usd(value: float | None) -> str:
    return f"${value:.4g}" if value is not None else "n/a"
