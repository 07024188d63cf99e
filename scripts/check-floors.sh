#!/usr/bin/env bash
# Proves the dependency floors in pyproject.toml: installs exactly the declared
# minimum of every runtime dependency (">=" read as "==") into .venv-floors,
# with the dev tools resolved freely around them, and runs the tests there.
# A floor that lies fails here. Needs the tools scripts/setup.sh --test installs.
# It runs the tiers whose code paths go through those dependencies: unit, golden,
# cluster and e2e (the kubernetes client, pydantic, helm's output through ours), and
# of the real tier the tests of tgictl's own clients (aiohttp's load generator, the
# Hub and TGI clients, prometheus-api-client, the cache-warm download); the rest of
# the real tier proves engines and tools, not our floors, and keeps CI in budget.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-floors
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
floors=$(mktemp)
trap 'rm -f "$floors"' EXIT
python3 - "$floors" <<'PY'
import sys, tomllib
with open("pyproject.toml", "rb") as f:
    dependencies = tomllib.load(f)["project"]["dependencies"]
pins = [d.replace(">=", "==") for d in dependencies]
assert all("==" in p for p in pins), f"every runtime dependency needs a floor: {dependencies}"
open(sys.argv[1], "w").write("\n".join(pins) + "\n")
PY
echo "floors: $(tr '\n' ' ' < "$floors")"
"$venv/bin/pip" install --quiet --disable-pip-version-check -c "$floors" -e '.[dev]'
tiers=(tests/unit tests/golden tests/cluster tests/e2e tests/real/test_bench.py tests/real/test_smoke.py
       tests/real/test_monitoring_live.py tests/real/test_cachewarm_real.py tests/real/test_canary_gate.py)
[ $# -gt 0 ] || set -- "${tiers[@]}"
"$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" "$@"
