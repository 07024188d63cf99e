"""README's "A cluster on your laptop" block, run as written against the project's control
plane: `tgictl init && tgictl doctor -f tgi.yaml && tgictl deploy -f tgi.yaml --no-smoke`,
by the installed tgictl in an empty directory, into the namespace the starter names (default)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from support.control_plane import TGI_START, Namespace
from support.readme import README
from support.servers import TGICTL


def _cluster_block() -> tuple[str, list[str]]:
    block = re.search(r"^### A cluster on your laptop.*?^```sh\n(.*?)^```", README, flags=re.S | re.M)
    assert block is not None
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    exported = next(line for line in lines if line.startswith("export KUBECONFIG="))
    commands = next(line for line in lines if "tgictl init" in line)
    return exported.removeprefix("export KUBECONFIG="), [c.strip().removeprefix(".venv/bin/") for c in commands.split("&&")]


def test_the_readme_cluster_block_deploys_the_starter(kubeconfig: Path, tmp_path: Path) -> None:
    shown_kubeconfig, commands = _cluster_block()
    assert commands == ["tgictl init", "tgictl doctor -f tgi.yaml", "tgictl deploy -f tgi.yaml --no-smoke"]
    if "TGICTL_CLUSTER_DIR" not in os.environ:  # cluster.sh's default place, where the README points
        assert Path(shown_kubeconfig) == kubeconfig
    default = Namespace("default", kubeconfig, tmp_path)
    default.route_logs(TGI_START)
    work = tmp_path / "empty"
    work.mkdir()
    environment = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    environment.pop("TGICTL_HELM", None)
    try:
        for command in commands:
            done = subprocess.run([TGICTL, *command.split()[1:]], cwd=work, env=environment, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        [pod] = default.get("pods", selector="app.kubernetes.io/instance=smollm2")["items"]
        assert pod["status"]["phase"] == "Running" and all(c["ready"] for c in pod["status"]["containerStatuses"])
    finally:
        subprocess.run([TGICTL, "delete", "-f", "tgi.yaml"], cwd=work, env=environment, capture_output=True, timeout=300)
        for kind in ("ClusterPortForward", "ClusterLogs"):
            default.kubectl("delete", kind, "default", "--ignore-not-found", check=False)
