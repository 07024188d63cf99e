#!/usr/bin/env bash
# Installs checkov (PyPI; runs offline) for the tests that scan the rendered
# manifests, in a venv of its own: its many pins (boto3, networkx, pydantic
# ranges) need not agree with tgictl's. About 30 s the first time, cached
# beside llama-server after that.
#   usage: scripts/install-checkov.sh   → prints the checkov executable
#          scripts/install-checkov.sh --cached   → prints it only if already installed (exit 1 otherwise)
set -euo pipefail
VERSION=3.3.30
cache="${TGICTL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tgictl/bin}"
venv="$cache/checkov-$VERSION"
if [ -f "$venv/.complete" ]; then
  echo "$venv/bin/checkov"
  exit 0
fi
[ "${1:-}" = --cached ] && exit 1  # only report what is cached; tests skip (or, in CI, fail)
rm -rf "$venv"
mkdir -p "$cache"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$VERSION" >&2
"$venv/bin/checkov" --version >&2
touch "$venv/.complete"  # an interrupted install is redone, never half-used
echo "$venv/bin/checkov"
