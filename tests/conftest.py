"""Shared fixtures: a minimal valid spec document and a builder for variants."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["cluster_fixtures"]

SPECS = Path(__file__).parent / "specs"
GOLDEN = Path(__file__).parent / "golden"

BASE: dict[str, Any] = {
    "apiVersion": "tgictl.dev/v1alpha1",
    "kind": "InferenceDeployment",
    "metadata": {"name": "demo"},
    "spec": {"model": {"id": "meta-llama/Llama-3.1-8B-Instruct"}},
}


def document(**spec: Any) -> dict[str, Any]:
    """A spec document with ``spec`` sections replaced (deep-copied)."""
    doc = copy.deepcopy(BASE)
    doc["spec"].update(copy.deepcopy(spec))
    return doc


@pytest.fixture
def gpu_doc() -> dict[str, Any]:
    return document(hardware={"accelerator": {"type": "a100-80gb", "count": 1}})
