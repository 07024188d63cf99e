"""deploy's watches against a real API server: its BOOKMARKs, the 410 it answers for a
resourceVersion it no longer holds (etcd compacted, the watch cache rebuilt by a restart),
and a deploy that carries on while the API server restarts under it. The restarts get a
control plane of their own (scripts/cluster.sh on other ports), so the session's stays up.
The fake API server's BOOKMARK and 410 are held against the real ones (tests/cluster/test_watch.py
replays them)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from support.control_plane import SCRIPT, Namespace, namespace, write_spec
from support.fake_kube import Cluster, Step, fake_cluster, pod
from tgictl.adapters.kube import Kube
from tgictl.cli.main import app
from tgictl.lifecycle import watch
from tgictl.lifecycle.watch import Changes

runner = CliRunner()
PORT = 26801  # etcd's client port; the API server listens on PORT + 2
SELECTOR = "app.kubernetes.io/instance=demo"


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    env = {**os.environ, "TGICTL_CLUSTER_DIR": str(tmp_path_factory.mktemp("restartable") / "cluster"),
           "TGICTL_CLUSTER_PORT": str(PORT)}
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, env=env, timeout=300)
    assert started.returncode == 0, started.stderr
    try:
        yield Path(started.stdout.strip().splitlines()[-1]), env
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, env=env, timeout=120)


@pytest.fixture
def own_ns(own_cluster: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Namespace]:
    monkeypatch.setenv("KUBECONFIG", str(own_cluster[0]))
    for fake in ("TGICTL_HELM", "TGICTL_KUBECTL"):
        monkeypatch.delenv(fake, raising=False)
    with namespace(own_cluster[0], tmp_path) as made:
        yield made


def restart_apiserver(env: dict[str, str]) -> None:
    restarted = subprocess.run(["bash", str(SCRIPT), "restart-apiserver"], capture_output=True, text=True, env=env, timeout=180)
    assert restarted.returncode == 0, restarted.stderr


def compact_etcd() -> int:
    """Compact etcd's history up to its current revision (etcd's JSON gateway); returns the revision."""
    etcd = f"http://127.0.0.1:{PORT}/v3/kv"
    revision = int(requests.post(f"{etcd}/range", json={"key": "Lw=="}, timeout=10).json()["header"]["revision"])
    compacted = requests.post(f"{etcd}/compaction", json={"revision": str(revision), "physical": True}, timeout=30)
    assert compacted.status_code == 200, compacted.text
    return revision


def shape(change: dict[str, Any]) -> dict[str, Any]:
    """What Changes reads of a watch event: its type, and the object's kind, code and reason."""
    obj = change.get("object") or {}
    return {"type": change["type"], "kind": obj.get("kind"), "code": obj.get("code"), "reason": obj.get("reason"),
            "has_version": bool((obj.get("metadata") or {}).get("resourceVersion"))}


def current_version(kube: Kube, ns: str) -> str:
    listed = kube.core.list_namespaced_pod(ns, label_selector=SELECTOR, _preload_content=False)
    return str(json.loads(listed.data)["metadata"]["resourceVersion"])


def test_a_real_bookmark_moves_the_version_without_waking_deploy(ns: Namespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch cache sends a BOOKMARK 2 s before a watch's timeout (apiserver v0.35.4,
    pkg/storage/cacher/cache_watcher.go nextBookmarkTime); nothing changed, so deploy sleeps on."""
    kube = Kube()
    version = current_version(kube, ns.name)
    # The pods' watch cache bookmarks the last pod change it saw, only once it is newer than the
    # watcher's version (cache_watcher.go process): another pod, one the selector leaves out.
    ns.kubectl("run", "bystander", "-n", ns.name, "--image", "example.invalid/bystander:1")
    changes = list(kube.watch("pods", ns.name, selector=SELECTOR, resource_version=version, timeout_s=4))
    bookmark = {"type": "BOOKMARK", "kind": "Pod", "code": None, "reason": None, "has_version": True}
    assert changes and all(shape(c) == bookmark for c in changes), changes

    seen: list[str] = []

    class Recording(Kube):
        def watch(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
            for change in super().watch(*args, **kwargs):
                seen.append(change["type"])
                yield change

    monkeypatch.setattr(watch, "WATCH_S", 4)
    with Changes(Recording(), ns.name, SELECTOR, "demo") as watching:
        for touch in range(3):  # the bystander changes; no pod of the release does
            ns.kubectl("annotate", "pod", "bystander", "-n", ns.name, f"touch={touch}", "--overwrite")
            assert watching.wait(2.5) is False
    assert "BOOKMARK" in seen, seen

    with fake_cluster(Cluster(steps=[Step(pod(running=True))], bookmarks=True), tmp_path) as config:
        monkeypatch.setenv("KUBECONFIG", str(config))
        fake = Kube()
        version = current_version(fake, "llm")
        faked = [shape(c) for c in fake.watch("pods", "llm", selector=SELECTOR, resource_version=version, timeout_s=1)]
    assert shape(changes[0]) in faked  # the fake's bookmark reads as the real one


def test_a_version_compacted_away_is_a_410_and_the_watch_starts_afresh(
        own_cluster: tuple[Path, dict[str, str]], own_ns: Namespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kube = Kube()
    old = current_version(kube, own_ns.name)
    for i in range(3):  # move etcd's revision past the version we hold
        own_ns.kubectl("create", "configmap", f"c{i}", "-n", own_ns.name)
    compact_etcd()
    restart_apiserver(own_cluster[1])  # the new watch cache starts at the current revision
    [expired] = list(Kube().watch("pods", own_ns.name, selector=SELECTOR, resource_version=old, timeout_s=5))
    assert shape(expired) == {"type": "ERROR", "kind": "Status", "code": 410, "reason": "Expired", "has_version": False}
    assert "too old resource version" in expired["object"]["message"]

    with fake_cluster(Cluster(steps=[Step(pod(running=True))], expired_before=10**9), tmp_path) as config:
        monkeypatch.setenv("KUBECONFIG", str(config))
        [faked] = list(Kube().watch("pods", "llm", selector=SELECTOR, resource_version="5", timeout_s=1))
    assert shape(faked) == shape(expired)


def test_deploy_carries_on_while_the_api_server_restarts(own_cluster: tuple[Path, dict[str, str]], own_ns: Namespace,
                                                         tmp_path: Path) -> None:
    """The pod becomes ready 12 s after it starts; meanwhile etcd is compacted and the API server
    restarted: the watches are cut, their versions are gone (410), and a few looks fail."""
    path = write_spec(own_ns, tmp_path, hardware={"cpu": "1", "memory": "1Gi"},
                      podAnnotations={"tgictl.dev/ready-after-ms": "12000"})
    result: dict[str, Any] = {}

    def deploy() -> None:
        result["run"] = runner.invoke(app, ["deploy", "-f", path, "--no-smoke", "--poll", "0.5", "-o", "json"])

    deploying = threading.Thread(target=deploy)
    deploying.start()
    deadline = time.monotonic() + 60
    while not own_ns.get("pods", selector=SELECTOR)["items"] and time.monotonic() < deadline:
        time.sleep(0.2)
    compact_etcd()
    restart_apiserver(own_cluster[1])
    deploying.join(timeout=180)
    run = result["run"]
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["phases"][-1] == "ready"
