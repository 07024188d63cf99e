"""The demo job: everything tgictl does without a cluster, on the starter spec.

Writes the embedded starter spec, validates it, and renders it as chart
values and as manifests into one directory. Returns what it did as data;
the CLI prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tgictl.render import service
from tgictl.spec import STARTER
from tgictl.spec.load import load_file


@dataclass(frozen=True)
class Step:
    name: str
    detail: str


def run(directory: Path) -> list[Step]:
    """Run the demo in ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    spec_path = directory / "tgi.yaml"
    spec_path.write_text(STARTER.read_text())
    steps = [Step("init", str(spec_path))]
    spec = load_file(spec_path)
    steps.append(Step("validate", f"{spec.metadata.name}: {spec.spec.engine.name} serving {spec.spec.model.id}"))
    values = service.render(spec, "values").write(directory / "values")
    steps.append(Step("render values", str(values[0])))
    written = service.render(spec, "manifests").write(directory / "manifests")
    steps.append(Step("render manifests", f"{len(written)} objects in {directory / 'manifests'}"))
    return steps
