"""Render overhead: `tgictl render` against `helm template` alone, same chart and values.

Prints medians and their ratio (target ≤ 1.3), and `tgictl --help` start-up
time (target < 0.2 s). Both sides run in this process's loop, interleaved, so
machine noise hits them alike. Run: `.venv/bin/python bench/render.py [-n 15]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tgictl.adapters import toolchain  # noqa: E402
from tgictl.render.values import chart_values  # noqa: E402
from tgictl.spec.load import load_file  # noqa: E402

TGICTL = str(Path(sys.executable).parent / "tgictl")


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=15, help="runs per command")
    parser.add_argument("--spec", default=str(ROOT / "tests" / "specs" / "h100-70b-sharded.yaml"))
    args = parser.parse_args()

    spec = load_file(args.spec)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as values_file:
        json.dump(chart_values(spec), values_file)
    helm = [toolchain.find("helm"), "template", spec.metadata.name, str(ROOT / "charts" / "tgi"),
            "--namespace", spec.metadata.namespace or "default", "--skip-tests", "--values", values_file.name]
    render = [TGICTL, "render", "-f", args.spec]
    help_ = [TGICTL, "--help"]

    samples: dict[str, list[float]] = {"helm template": [], "tgictl render": [], "tgictl --help": []}
    timed(helm), timed(render)  # warm the page cache
    for _ in range(args.n):
        samples["helm template"].append(timed(helm))
        samples["tgictl render"].append(timed(render))
        samples["tgictl --help"].append(timed(help_))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"{name:15s} median {value * 1000:7.1f} ms over {args.n} runs")
    ratio = medians["tgictl render"] / medians["helm template"]
    print(f"render / helm template ratio: {ratio:.2f} (target <= 1.3)")
    print(f"--help start-up: {medians['tgictl --help']:.3f} s (target < 0.2 s)")


if __name__ == "__main__":
    main()
