"""Maps the Helm chart into the package: charts/tgi ships as tgictl/chart.

pyproject.toml holds everything else; this file exists only because the
declarative ``packages.find`` cannot add a package from outside ``tgictl/``.
The repository keeps one copy of the chart, and the wheel and sdist carry it.
"""

from pathlib import Path

from setuptools import find_packages, setup

CHART = Path(__file__).parent / "charts" / "tgi"
# Every chart folder is named as a (data-only) package, as setuptools expects of
# folders that carry package data.
chart_packages = ["tgictl.chart", *sorted(
    "tgictl.chart." + ".".join(folder.relative_to(CHART).parts) for folder in CHART.rglob("*") if folder.is_dir()
)]

setup(
    packages=[*find_packages(include=["tgictl*"]), *chart_packages],
    package_dir={"tgictl.chart": "charts/tgi"},
)
