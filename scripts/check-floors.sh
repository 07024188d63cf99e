#!/usr/bin/env bash
# Proves the dependency floors in pyproject.toml: installs exactly the declared
# minimum of every runtime dependency (">=" read as "==") into .venv-floors,
# with the dev tools resolved freely around them, and runs the tests there.
# A floor that lies fails here. Needs the tools scripts/setup.sh --test installs.
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
"$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" "$@"
