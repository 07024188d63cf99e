"""Maps the Helm chart into the package: charts/tgi ships as tgictl/chart.

pyproject.toml holds everything else; this file exists only because the
declarative ``packages.find`` cannot add a package from outside ``tgictl/``.
The repository keeps one copy of the chart, and the wheel and sdist carry it.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["tgictl*"]), "tgictl.chart"],
    package_dir={"tgictl.chart": "charts/tgi"},
)
