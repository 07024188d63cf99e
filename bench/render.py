"""Render overhead: `tgictl render` against `helm template` of the same chart and values (what
tgictl adds: spec model, plan, values, schema checks), measured on the installed product.

The wheel is built and installed into a fresh virtualenv (pip compiles its bytecode, as for a
user; an editable checkout may have none), custom resources are checked against the CRDs
beside the repository, and the schema cache is warm after each command's first run.
Prints, each as a ratio against its baseline measured in the same run (goals, issue 19):
- each shipped and test spec rendered alone against `helm template` (<= 3x in total, none over 5x);
- all of them in one `tgictl render -f examples -f tests/specs` against the same number of
  `helm template` runs back to back (<= 1.3x);
- `tgictl --help` start-up (<= 0.1 s).
Run: `.venv/bin/python bench/render.py [-n 5] [--tgictl PATH] [--spec FILE ...]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tgictl.adapters import toolchain  # noqa: E402
from tgictl.render.prepare import prepare  # noqa: E402
from tgictl.spec.load import load_file  # noqa: E402

SPEC_DIRS = [ROOT / "examples", ROOT / "tests" / "specs"]
SPECS = [spec for directory in SPEC_DIRS for spec in sorted(directory.glob("*.yaml"))]
ENV = {**os.environ, "TGICTL_CRDS_DIR": str(ROOT.parent / "shared" / "crds")}


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=tempfile.gettempdir(), env=ENV)
    return time.perf_counter() - start


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def install(into: Path) -> str:
    """Build the wheel and install it into a new virtualenv; the path of its tgictl."""
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(into / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(into / "venv")], check=True)
    wheel = next((into / "dist").glob("*.whl"))
    subprocess.run([str(into / "venv" / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True)
    return str(into / "venv" / "bin" / "tgictl")


def helm_command(spec_file: Path, values_dir: Path) -> list[str]:
    """`helm template` of the spec's chart values, as tgictl hands them to helm."""
    prepared = prepare(load_file(spec_file))
    values = values_dir / f"{spec_file.stem}.json"
    values.write_text(json.dumps(prepared.values))
    return [toolchain.find("helm"), "template", prepared.release, str(ROOT / "charts" / "tgi"), "--namespace", prepared.namespace,
            "--skip-tests", "--values", str(values)]


def each_alone(tgictl: str, helm: dict[Path, list[str]], runs: int) -> None:
    totals, worst = [0.0, 0.0], ("", 0.0)
    for spec_file, helm_template in helm.items():
        render = [tgictl, "render", "-f", str(spec_file), "-o", "manifests"]
        timed(helm_template), timed(render)  # page cache, schema cache
        helm_s, render_s = [], []
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            helm_s.append(timed(helm_template))
            render_s.append(timed(render))
        h, r = statistics.median(helm_s), statistics.median(render_s)
        totals[0] += h
        totals[1] += r
        worst = max(worst, (spec_file.name, r / h), key=lambda w: w[1])
        print(f"{spec_file.parent.name + '/' + spec_file.name:45s} helm {h * 1000:6.0f} ms  render {r * 1000:6.0f} ms  {r / h:5.2f}x")
    print(f"each spec alone: render / helm template {totals[1] / totals[0]:.2f}x in total (goal <= 3); "
          f"worst {worst[0]} {worst[1]:.2f}x (goal <= 5)")


def batch(tgictl: str, helm: dict[Path, list[str]], runs: int) -> None:
    everything = [tgictl, "render", *(arg for d in SPEC_DIRS for arg in ("-f", str(d)))]

    def helm_in_a_row() -> float:
        return sum(timed(command) for command in helm.values())

    timed(everything)
    helm_s, batch_s = [], []
    for _ in range(runs):
        helm_s.append(helm_in_a_row())
        batch_s.append(timed(everything))
    h, b = statistics.median(helm_s), statistics.median(batch_s)
    print(f"all {len(helm)} specs in one render: {b * 1000:.0f} ms against {len(helm)} helm templates in a row "
          f"{h * 1000:.0f} ms: {b / h:.2f}x (goal <= 1.3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5, help="runs per command")
    parser.add_argument("--tgictl", help="an installed tgictl to measure (default: build and install the wheel)")
    parser.add_argument("--spec", action="append", type=Path, help="only these specs (default: examples/ and tests/specs/)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tgictl = args.tgictl or install(Path(scratch))
        helm = {spec: helm_command(spec, Path(scratch)) for spec in args.spec or SPECS}
        each_alone(tgictl, helm, args.n)
        if not args.spec:
            batch(tgictl, helm, args.n)
        print(f"tgictl --help start-up: {median_of(args.n, lambda: timed([tgictl, '--help'])):.3f} s (goal <= 0.1 s)")


if __name__ == "__main__":
    main()
