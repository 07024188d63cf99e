"""The README's commands that need no cluster, run as written by the installed `tgictl` in an
empty directory after `tgictl init`: optional parts left out, URL a simulator, MODEL the
shipped model config. The cluster block runs in tests/e2e/test_readme_cluster.py.

`tgictl init && tgictl plan` once failed offline with no hint; this runs it."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from support.data import SPECS
from support.servers import TGICTL, simulator
from tgictl.spec import DEMO_MODEL
from support.readme import SHOWN

NEEDS_A_CLUSTER = {"deploy", "diff", "doctor", "status", "logs", "history", "rollback", "delete", "port-forward", "cache", "rollout",
                   "metrics", "top"}  # metrics and top read a Prometheus: tests/real/test_metrics_cmd.py
# Where the starter (CPU, no autoscaling) is the wrong spec for the command, one it is meant for.
SPEC_FOR = {"autoscale": SPECS / "autoscaled-tgi-hpa-ingress.yaml", "migrate": SPECS / "a100-8b.yaml"}
NOT_HERE = {"--install-completion", "install-tools", "sim", "demo"}  # edits a shell rc; setup.sh runs it; serves forever; test_cli


def _minimal(command: str) -> str:
    """The command without its optional parts, as a user first types it."""
    return re.sub(r"\s*\[[^\]]*\]", "", command)


def _runnable() -> list[str]:
    commands = []
    for command in sorted({_minimal(c) for c in SHOWN}):
        words = shlex.split(command)[1:]
        if not words or words[0] in NEEDS_A_CLUSTER | NOT_HERE or any(w in ("new.yaml", "bad.yaml") for w in words):
            continue
        if words in (["bench"], ["smoke"], ["migrate"], ["plan"], ["init"]) and command != "tgictl init":
            continue  # the verb alone, as a table names it: its full forms are listed too
        commands.append(command)
    return commands


RUNNABLE = _runnable()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("readme")
    subprocess.run([TGICTL, "init"], cwd=directory, check=True, capture_output=True)
    (directory / "specs").mkdir()
    (directory / "specs" / "tgi.yaml").write_text((directory / "tgi.yaml").read_text().replace("./demo-model", "../demo-model"))
    return directory


def test_the_readme_has_no_cluster_commands_to_run() -> None:
    verbs = {shlex.split(c)[1] for c in RUNNABLE}
    assert {"init", "validate", "plan", "render", "migrate", "schema", "smoke", "bench", "autoscale", "version"} <= verbs, RUNNABLE


@pytest.mark.parametrize("command", RUNNABLE)
def test_each_command_runs_as_the_readme_shows_it(command: str, workdir: Path) -> None:
    with simulator("--decode-ms", "1", "--prefill-ms-per-token", "0.01") as url:
        verb = shlex.split(command)[1]
        words = [{"URL": url, "MODEL": str(DEMO_MODEL), "tgi.yaml": str(SPEC_FOR.get(verb, "tgi.yaml"))}.get(w, w)
                 for w in shlex.split(command)[1:]]
        if words[0] == "bench":
            words += ["--duration", "2"]  # the default 60 s proves nothing more here
        done = subprocess.run([TGICTL, *words], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
