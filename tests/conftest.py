"""The test tiers, each a directory and a marker of the same name (``-m unit``):

- unit:    tgictl's own code; real helm renders the chart (no network, no server)
- golden:  rendered manifests, values and plans against committed bytes
- real:    real engines and tools (the simulator, llama-server, vLLM, Prometheus, promtool, pip)
- cluster: cluster commands against the fake API server and fake helm (tests/support)
- e2e:     the real control plane scripts/cluster.sh builds and starts (kwok nodes, real helm)

Every test has a time limit (pytest-timeout, ``timeout`` in pyproject.toml; a module
that starts vLLM sets its own). Shared code lives in ``tests/support``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.data import document

pytest_plugins = ["support.cluster_fixtures"]

TIERS = ("unit", "golden", "real", "cluster", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier: the directory under tests/ it lives in."""
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in one tier directory: {', '.join(TIERS)}")
        item.add_marker(tier)


@pytest.fixture
def gpu_doc() -> dict[str, Any]:
    return document(hardware={"accelerator": {"type": "a100-80gb", "count": 1}})
