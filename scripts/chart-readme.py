#!/usr/bin/env python3
"""Generate charts/tgi/README.md from Chart.yaml and the `# --` comments in values.yaml.

A value is documented by a comment block directly above its key that starts
with `# -- ` (helm-docs' convention); following `#` lines continue it. The
table lists each documented key by its dotted path, its type and default (read
from the parsed YAML, so they cannot drift) and the description.

    scripts/chart-readme.py           print the README
    scripts/chart-readme.py --write   write charts/tgi/README.md
tests/unit/test_chart.py fails when the committed README differs from this output.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "charts" / "tgi"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\"-]+):(?:\s|$)")
COMMENT_LINE = re.compile(r"^ *# ?(?P<text>.*)$")


def documented_keys(values_text: str) -> list[tuple[str, str]]:
    """(dotted path, description) for every key with a `# --` block, in file order."""
    found: list[tuple[str, str]] = []
    parents: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in values_text.splitlines():
        comment = COMMENT_LINE.match(line)
        if comment:
            text = comment.group("text")
            if text.startswith("-- "):
                pending = [text[3:]]
            elif pending is not None:
                pending.append(text)
            continue
        key = KEY_LINE.match(line)
        if key:
            indent = len(key.group("indent"))
            while parents and parents[-1][0] >= indent:
                parents.pop()
            parents.append((indent, key.group("key").strip('"')))
            if pending is not None:
                found.append((".".join(name for _, name in parents), " ".join(pending)))
        pending = None
    return found


def _lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def _type(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object", type(None): "null"}
    return names[type(value)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(chart_dir: Path = CHART) -> str:
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    values_text = (chart_dir / "values.yaml").read_text()
    values = yaml.safe_load(values_text)
    lines = [
        f"# {chart['name']}",
        "",
        f"{chart['description']}",
        "",
        f"Version {chart['version']}, app version {chart['appVersion']}; needs Kubernetes {chart['kubeVersion']}.",
        "This file is generated from `values.yaml` by `scripts/chart-readme.py --write`: edit the comments there.",
        "",
        "## Install",
        "",
        "tgictl writes the values from a `tgi.yaml` spec and drives Helm itself:",
        "",
        "```sh",
        "tgictl render -f tgi.yaml -o values > values.yaml",
        f"helm install my-llm ./{chart_dir.name} -f values.yaml",
        "```",
        "",
        "## Values",
        "",
        "| Key | Type | Default | Description |",
        "|-----|------|---------|-------------|",
    ]
    for path, description in documented_keys(values_text):
        default = _lookup(values, path)
        lines.append(f"| `{path}` | {_type(default)} | `{_cell(json.dumps(default, separators=(',', ':')))}` | {_cell(description)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    text = render()
    if "--write" in sys.argv:
        (CHART / "README.md").write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
