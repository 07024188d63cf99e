"""deploy's watches (tgictl.lifecycle.watch.Changes) against watches that end as real ones do:
cut early, with BOOKMARKs, and with a 410 ERROR event for an expired resourceVersion."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from support.fake_kube import Cluster, Step, pod
from tgictl.adapters.kube import Kube
from tgictl.lifecycle.watch import Changes


@pytest.fixture
def changes(cluster: Cluster) -> Iterator[Changes]:
    cluster.steps = [Step(pod("Pending", waiting="ContainerCreating")), Step(pod(running=True)), Step(pod(running=True, ready=True))]
    with Changes(Kube(), "llm", "app.kubernetes.io/instance=demo", "demo") as watching:
        yield watching


def test_watches_cut_at_once_are_renewed_with_backoff_not_in_a_loop(cluster: Cluster) -> None:
    cluster.watch_close_after = 0.0  # every watch ends as soon as it starts
    cluster.steps = [Step(pod(running=True))]
    with Changes(Kube(), "llm", "app.kubernetes.io/instance=demo", "demo"):
        time.sleep(3.0)
    # Pauses of about 0.5, 1 and 2 s (jittered, up to 1.5x): a handful of watches per resource, not
    # thousands (2191 in 3 s without the pauses).
    assert 2 <= cluster.watches.get("pods", 0) <= 8, cluster.watches


def test_a_bookmark_moves_the_version_without_waking_deploy(cluster: Cluster, changes: Changes) -> None:
    cluster.bookmarks = True
    changes.wait(0.5)  # the first watch replays what exists
    assert changes.wait(1.0) is False


def test_an_expired_version_restarts_the_watch_and_changes_still_wake_deploy(cluster: Cluster, changes: Changes) -> None:
    changes.wait(0.5)
    cluster.expired_before = 10**6  # every version we hold is now too old: a 410 ERROR on re-watch
    cluster.watch_close_after = 0.1
    time.sleep(0.5)
    cluster.expired_before = -1
    cluster.watch_close_after = None
    changes.wait(0.1)
    Kube().pods("llm", "app.kubernetes.io/instance=demo")  # the cluster moves one step
    assert changes.wait(5.0) is True
