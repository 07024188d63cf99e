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


def rendered_pod(spec_file: Path) -> dict[str, Any]:
    """The pod template of the Deployment ``tgictl render`` makes of ``spec_file``."""
    import yaml

    from tgictl.render import service
    from tgictl.spec.load import load_file

    rendered = yaml.safe_load_all(service.render(load_file(spec_file), "manifests").stream)
    return dict(next(d for d in rendered if d and d["kind"] == "Deployment")["spec"]["template"]["spec"])
