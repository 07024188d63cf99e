"""Where the tests' data lives, and a builder for spec documents."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SPECS = TESTS / "specs"
GOLDEN = TESTS / "golden" / "expected"
FIXTURES = TESTS / "fixtures"
MODELS = FIXTURES / "models"

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
