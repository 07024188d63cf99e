"""Render overhead: `tgictl render` of each shipped and test spec, alone, against `helm template`
of the same chart and values (what tgictl adds: spec model, plan, values, schema checks).

Prints each spec's medians and ratio, the ratio over all specs (goal, issue 19: <= 3x in total,
no spec over 5x) and `tgictl --help` start-up (goal <= 0.1 s). Both sides run interleaved in
this process's loop, so machine noise hits them alike.
Run: `.venv/bin/python bench/render.py [-n 5] [--spec FILE ...]`.
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
from tgictl.render.prepare import prepare  # noqa: E402
from tgictl.spec.load import load_file  # noqa: E402

TGICTL = str(Path(sys.executable).parent / "tgictl")
SPECS = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "tests" / "specs").glob("*.yaml"))


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def commands(spec_file: Path, values_dir: Path) -> tuple[list[str], list[str]]:
    """`helm template` of the spec's chart values, and `tgictl render` of the spec."""
    prepared = prepare(load_file(spec_file))
    values = values_dir / f"{spec_file.stem}.json"
    values.write_text(json.dumps(prepared.values))
    helm = [toolchain.find("helm"), "template", prepared.release, str(ROOT / "charts" / "tgi"), "--namespace", prepared.namespace,
            "--skip-tests", "--values", str(values)]
    return helm, [TGICTL, "render", "-f", str(spec_file), "-o", "manifests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5, help="runs per command")
    parser.add_argument("--spec", action="append", type=Path, help="only these specs (default: examples/ and tests/specs/)")
    args = parser.parse_args()
    totals = {"helm": 0.0, "render": 0.0}
    worst = ("", 0.0)
    with tempfile.TemporaryDirectory() as values_dir:
        for spec_file in args.spec or SPECS:
            helm, render = commands(spec_file, Path(values_dir))
            timed(helm), timed(render)  # warm the page cache
            helm_s, render_s = [], []
            for _ in range(args.n):
                helm_s.append(timed(helm))
                render_s.append(timed(render))
            h, r = statistics.median(helm_s), statistics.median(render_s)
            totals["helm"] += h
            totals["render"] += r
            worst = max(worst, (spec_file.name, r / h), key=lambda w: w[1])
            print(f"{spec_file.parent.name + '/' + spec_file.name:45s} helm {h * 1000:6.0f} ms  render {r * 1000:6.0f} ms  "
                  f"{r / h:5.2f}x")
    print(f"all specs: render / helm template {totals['render'] / totals['helm']:.2f}x (goal <= 3); "
          f"worst {worst[0]} {worst[1]:.2f}x (goal <= 5)")
    help_s = statistics.median(timed([TGICTL, "--help"]) for _ in range(args.n))
    print(f"tgictl --help start-up: {help_s:.3f} s (goal <= 0.1 s)")


if __name__ == "__main__":
    main()
