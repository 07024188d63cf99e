"""checkov over everything the chart renders: every test and example spec with its
`helm test` pods, a cache-warm Job per engine, and the chart's own defaults.

A failure passes only when tests/golden/checkov-skips.yaml names its check, with a
reason, for that engine and kind; a skip that nothing needs any more fails too.
checkov runs offline (--skip-download) from its own venv (scripts/install-checkov.sh).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.data import ROOT, SPECS
from support.tools import cached
from tgictl.adapters import helm
from tgictl.engines import REGISTRY
from tgictl.render import service
from tgictl.spec.load import load_file

SKIPS: dict[str, dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "checkov-skips.yaml").read_text())
SPEC_FILES = sorted([*SPECS.glob("*.yaml"), *(ROOT / "examples").glob("*.yaml")])


@dataclass(frozen=True)
class Failure:
    check: str
    engine: str
    kind: str
    where: str

    def skipped(self) -> bool:
        skip = SKIPS.get(self.check)
        return bool(skip) and self.engine in skip.get("engines", [self.engine]) and self.kind in skip.get("kinds", [self.kind])


def _renders(into: Path) -> None:
    """Each render in its own file, named <engine>--<what>.yaml: checkov reports the file."""
    for spec_file in SPEC_FILES:
        spec = load_file(spec_file)
        text = service.render(spec, "manifests", include_tests=True).stream
        (into / f"{spec.spec.engine.name}--{spec_file.parent.name}-{spec_file.stem}.yaml").write_text(text)
    for engine in REGISTRY:
        values = {"engine": {"name": engine}, "cacheWarm": {"only": True, "files": ["*.safetensors"]}}
        (into / f"{engine}--cache-warm.yaml").write_text(helm.template(values, release="warm", namespace="llm"))
        defaults = helm.template({"engine": {"name": engine}}, release="plain", namespace="llm", include_tests=True)
        (into / f"{engine}--chart-defaults.yaml").write_text(defaults)


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> list[Failure]:
    checkov = cached("install-checkov.sh", "TGICTL_CHECKOV")
    rendered = tmp_path_factory.mktemp("rendered")
    _renders(rendered)
    done = subprocess.run([checkov, "-d", str(rendered), "--framework", "kubernetes", "--skip-download", "--quiet",
                           "--compact", "-o", "json"], capture_output=True, text=True, timeout=240)
    assert done.stdout, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["summary"]["resource_count"] >= 4 * len(SPEC_FILES), report["summary"]
    return [Failure(f["check_id"], Path(f["file_path"]).name.split("--")[0], f["resource"].split(".")[0],
                    f"{Path(f['file_path']).name} {f['resource']}")
            for f in report["results"]["failed_checks"]]


def test_every_failure_is_a_reasoned_skip(failures: list[Failure]) -> None:
    unexplained = sorted(f"{f.check} {f.where}" for f in failures if not f.skipped())
    assert not unexplained, "checkov failures outside tests/golden/checkov-skips.yaml:\n" + "\n".join(unexplained)


def test_every_skip_is_still_needed_and_has_a_reason(failures: list[Failure]) -> None:
    needed = {f.check for f in failures if f.skipped()}
    assert set(SKIPS) == needed, f"skips nothing fails any more: {sorted(set(SKIPS) - needed)}"
    assert all(len(skip.get("reason", "")) > 40 for skip in SKIPS.values())


def test_the_skip_filter_lets_nothing_else_through() -> None:
    """The filter itself: a skipped check outside its engines or kinds still counts."""
    assert Failure("CKV_K8S_23", "tgi", "Deployment", "x").skipped()
    assert not Failure("CKV_K8S_23", "llamacpp", "Deployment", "x").skipped()
    assert not Failure("CKV_K8S_8", "vllm", "Deployment", "x").skipped()
    assert not Failure("CKV_K8S_20", "tgi", "Deployment", "x").skipped()
