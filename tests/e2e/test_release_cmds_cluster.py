"""Commands on an installed release, on the real control plane with the real helm: logs of every
replica (table, JSON, --follow, a JSON log line kept as a line), diff field by field against a
live object someone edited, rollback with nothing to return to, -n over the spec's namespace,
delete of a release without a cache. Moved from the fake's tier (tests/cluster/test_release_cmds.py
keeps what kwok cannot show: a pod whose container is still waiting to start)."""

from __future__ import annotations

import json
import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from support.control_plane import Namespace, wait_for, write_spec
from support.servers import TGICTL
from tgictl.cli.main import app

runner = CliRunner()
# TGI's --json-output line: a log of it alone is valid JSON, and was once parsed and dropped.
JSON_LINE = ('{"timestamp":"2024-03-06T17:53:31.149443Z","level":"INFO","fields":{"message":"Connected"},'
             '"target":"text_generation_router"}')
CPU = {"cpu": "1", "memory": "1Gi"}


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def _ready_pods(ns: Namespace, count: int) -> list[str]:
    def ready() -> list[str] | None:
        pods = ns.get("pods", selector="app.kubernetes.io/instance=demo")["items"]
        names = [p["metadata"]["name"] for p in pods if all(c["ready"] for c in p["status"].get("containerStatuses", [{"ready": False}]))]
        return sorted(names) if len(names) == count else None
    return wait_for(f"{count} ready pods", ready)  # type: ignore[no-any-return]


def test_logs_print_every_replica_as_a_table_json_and_followed(ns: Namespace, tmp_path: Path) -> None:
    ns.route_logs(["Warming up model", JSON_LINE])
    path = write_spec(ns, tmp_path, hardware=CPU, replicas=2, cache={"ephemeral": True})
    invoke("deploy", "-f", path, "--no-smoke")
    pods = _ready_pods(ns, 2)

    table = invoke("logs", "-f", path).stdout.splitlines()
    assert sorted(table) == sorted(f"[{pod}] {line}" for pod in pods for line in ("Warming up model", JSON_LINE))
    as_json = json.loads(invoke("logs", "-f", path, "-o", "json").stdout)
    assert sorted((entry["pod"], tuple(entry["lines"])) for entry in as_json) == [(pod, ("Warming up model", JSON_LINE)) for pod in pods]
    assert sorted(_followed(ns, path, lines=4)) == sorted((p, line) for p in pods for line in ("Warming up model", JSON_LINE))


def _followed(ns: Namespace, path: str, lines: int, timeout: float = 60.0) -> list[tuple[str, str]]:
    """`logs --follow -o json` until ``lines`` arrived, then SIGTERM, as a supervisor ends it: the
    kubelet keeps a followed log open while the container runs. (Ctrl-C's SIGINT once stopped
    it here but not in CI, whose background shell ignores SIGINT: SIGTERM now ends it alike.)"""
    follow = subprocess.Popen([TGICTL, "logs", "-f", path, "--follow", "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "KUBECONFIG": str(ns.kubeconfig)})
    assert follow.stdout is not None
    arrived: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [arrived.put(line) for line in follow.stdout], daemon=True).start()  # type: ignore[union-attr]
    got: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < lines and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                got.append(arrived.get(timeout=1.0))
    finally:
        follow.send_signal(signal.SIGTERM)
        _, stderr = follow.communicate(timeout=30)
    assert len(got) == lines and follow.returncode == 0 and "Traceback" not in stderr, (got, follow.returncode, stderr)
    return [(entry["pod"], entry["line"]) for entry in map(json.loads, got)]


def test_diff_names_the_field_someone_changed_on_the_live_object(ns: Namespace, tmp_path: Path) -> None:
    path = write_spec(ns, tmp_path, hardware=CPU)
    invoke("deploy", "-f", path, "--no-smoke")
    assert runner.invoke(app, ["diff", "-f", path]).exit_code == 0
    rendered = ns.get("deployment", "demo")["spec"]["template"]["spec"]["containers"][0]["image"]
    ns.kubectl("set", "image", "deployment/demo", "server=ghcr.io/huggingface/text-generation-inference:3.3.4", "-n", ns.name)
    changed = runner.invoke(app, ["diff", "-f", path, "-o", "json"])
    assert changed.exit_code == 1, changed.output
    by_kind = {c["kind"]: c for c in json.loads(changed.stdout)}
    [field] = by_kind["Deployment"]["fields"]  # diff shortens long values with "..."
    edited = "spec.template.spec.containers[0].image: 'ghcr.io/huggingface/text-generation-inference:3.3.4' → "
    assert field.startswith(edited) and rendered.startswith(field.removeprefix(edited).strip("'").removesuffix("..."))
    assert {c["status"] for kind, c in by_kind.items() if kind != "Deployment"} == {"unchanged"}


def test_rollback_namespace_and_delete_on_a_first_install(ns: Namespace, tmp_path: Path) -> None:
    path = write_spec(ns, tmp_path, hardware=CPU, cache={"ephemeral": True})
    invoke("deploy", "-f", path, "--no-smoke")
    nothing = runner.invoke(app, ["rollback", "-f", path])
    assert nothing.exit_code == 2 and "no earlier revision" in nothing.stderr, nothing.output

    elsewhere = Path(path).with_name("elsewhere.yaml")  # the same release, its file naming another namespace
    document = yaml.safe_load(Path(path).read_text())
    document["metadata"]["namespace"] = "not-this-one"
    elsewhere.write_text(yaml.safe_dump(document))
    status = json.loads(invoke("status", "-f", str(elsewhere), "-n", ns.name, "-o", "json").stdout)
    assert (status["namespace"], status["revision"]) == (ns.name, 1)

    assert invoke("delete", "-f", path).stdout == "demo uninstalled\n"  # no cache claim to keep
    assert ns.kubectl("get", "deployment,service,pvc", "-n", ns.name, "-o", "name").stdout.split() == []
