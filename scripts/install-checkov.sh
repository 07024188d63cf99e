#!/usr/bin/env bash
# Installs checkov (PyPI; runs offline) for the tests that scan the rendered
# manifests, in a venv of its own: its many pins (boto3, networkx, pydantic
# ranges) need not agree with tgictl's. About 30 s the first time, cached
# beside llama-server after that.
#   usage: scripts/install-checkov.sh   → prints the checkov executable
#          scripts/install-checkov.sh --cached   → prints it only if already installed (exit 1 otherwise)
set -euo pipefail
VERSION=3.3.30
source "$(dirname "$0")/lib/tool-venv.sh"

install_into() {
  "$1/bin/pip" install --quiet --disable-pip-version-check "checkov==$VERSION"
  "$1/bin/checkov" --version
}

tool_venv checkov "$VERSION" checkov "${1:-}"
