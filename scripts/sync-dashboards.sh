#!/usr/bin/env bash
# dashboards/ is the single source of the Grafana dashboards; the chart ships
# copies (Helm reads files only inside the chart). A test fails when they differ.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p charts/tgi/files/dashboards
rm -f charts/tgi/files/dashboards/*.json
cp dashboards/*.json charts/tgi/files/dashboards/
