"""The e2e tier runs on the real control plane scripts/cluster.sh starts (once per
session; a cluster already up is used and left running): real etcd, kube-apiserver,
controller-manager and scheduler, kwok as the nodes' kubelet, and the real helm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.control_plane import Namespace, control_plane, namespace


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[Path]:
    with control_plane() as path:
        yield path


@pytest.fixture
def ns(kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Namespace]:
    """A namespace of the test's own; tgictl in this process talks to the real cluster."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    for fake in ("TGICTL_HELM", "TGICTL_KUBECTL"):
        monkeypatch.delenv(fake, raising=False)
    with namespace(kubeconfig, tmp_path) as made:
        yield made
