"""deploy's watches (tgictl.lifecycle.watch.Changes) against watches cut as soon as they start,
which no real API server here does on demand (BOOKMARKs, a 410 after compaction and a restart
run on the real one: tests/e2e/test_watches.py)."""

from __future__ import annotations

import time

from support.fake_kube import Cluster, Step, pod
from tgictl.adapters.kube import Kube
from tgictl.lifecycle.watch import Changes


def test_watches_cut_at_once_are_renewed_with_backoff_not_in_a_loop(cluster: Cluster) -> None:
    cluster.watch_close_after = 0.0  # every watch ends as soon as it starts
    cluster.steps = [Step(pod(running=True))]
    with Changes(Kube(), "llm", "app.kubernetes.io/instance=demo", "demo"):
        time.sleep(3.0)
    # Pauses of about 0.5, 1 and 2 s (jittered, up to 1.5x): a handful of watches per resource, not
    # thousands (2191 in 3 s without the pauses).
    assert 2 <= cluster.watches.get("pods", 0) <= 8, cluster.watches
