"""Golden renders: each spec in tests/specs renders to exactly the committed bytes.

Rendered manifests fail silently (a wrong probe or a lost flag still applies
cleanly), so every change to them must show up as a reviewed diff. Rewrite
with TGICTL_UPDATE_GOLDEN=1 (support/golden.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.data import GOLDEN, SPECS
from support.golden import check
from tgictl.render import service
from tgictl.spec.load import load_file

SPEC_FILES = sorted(SPECS.glob("*.yaml"))


def test_at_least_six_golden_specs() -> None:
    assert len(SPEC_FILES) >= 6


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=lambda p: p.stem)
def test_manifests_match_golden(spec_file: Path) -> None:
    rendered = service.render(load_file(spec_file), "manifests")
    check(GOLDEN / f"{spec_file.stem}.manifests.yaml", rendered.stream)


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=lambda p: p.stem)
def test_values_match_golden(spec_file: Path) -> None:
    rendered = service.render(load_file(spec_file), "values")
    check(GOLDEN / f"{spec_file.stem}.values.yaml", rendered.stream)


def test_render_is_byte_stable_across_runs() -> None:
    spec = load_file(SPEC_FILES[0])
    first, second = (service.render(spec, "manifests").stream for _ in range(2))
    assert first == second
