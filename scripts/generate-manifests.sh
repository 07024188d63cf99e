#!/usr/bin/env bash
# Regenerates manifests/<example>/ (a Kustomize tree per spec in examples/).
# CI runs it through the tests and fails on any difference from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
for spec in examples/*.yaml; do
  name=$(basename "$spec" .yaml)
  .venv/bin/tgictl render -f "$spec" -o kustomize -d "manifests/$name" 2>/dev/null
done
