"""README.md cannot drift from the CLI: every `tgictl …` it shows names a real command, real
options and allowed values; the commands that need no cluster run as written; its engine
table's ports are the engines' own.

The README once told users `render --format kustomize -o manifests/NAME` (`-o` is the
format, the directory is `-d`) and that TGI listens on 80 (it is 8080)."""

from __future__ import annotations

import enum
import re
import typing
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from support.readme import README, SHOWN, tokens
from tgictl.cli.main import app
from tgictl.engines import REGISTRY

ROOT_COMMAND = typer.main.get_command(app)  # typer's own click: its classes are not `click`'s, so duck-typed below


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    command, context = ROOT_COMMAND, None
    while words and hasattr(command, "list_commands"):
        context = type(context or ROOT_COMMAND.context_class(ROOT_COMMAND))(command)
        if words[0] not in command.list_commands(context):
            break
        command = command.get_command(context, words.pop(0))
    return command, words


def _choices(option: Any) -> list[str]:
    """The values an enum-typed option allows (none: any value). Typer before 0.29 (the floor)
    gives click's Choice as ``option.type``; its own click since, the enum as ``type_descriptor``."""
    if hasattr(option, "type"):
        return [str(choice) for choice in getattr(option.type, "choices", None) or []]
    annotation = option.type_descriptor.annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return [member.value for member in candidate]
    return []


def _problems(command_line: str) -> list[str]:
    command, words = _resolve(tokens(command_line))
    options = {name: p for p in command.params if p.param_type_name == "option" for name in p.opts + p.secondary_opts}
    found, expecting = [], None
    for word in words:
        if word.startswith("-") and not word.lstrip("-").isdigit():
            name = word.split("=")[0]
            option = options.get(name)
            if option is None:
                found.append(f"{command.name} has no option {name}")
            expecting = option if option is not None and not option.is_flag and not option.count else None
            continue
        choices = _choices(expecting) if expecting is not None else []
        unknown = [v for v in word.split("|") if choices and v not in choices]
        if unknown:
            found.append(f"{command.name} {expecting.opts[0]} takes {'|'.join(choices)}, not {'|'.join(unknown)}")
        expecting = None
    return found


def test_the_readme_shows_the_commands_it_should() -> None:
    verbs = {_resolve(tokens(c))[0].name for c in SHOWN}
    assert {"demo", "render", "plan", "deploy", "migrate", "bench", "smoke"} <= verbs, verbs
    assert len(SHOWN) >= 30, SHOWN


@pytest.mark.parametrize("command_line", SHOWN)
def test_each_command_the_readme_shows_parses(command_line: str) -> None:
    assert _problems(command_line) == []


def test_the_check_finds_the_mistake_the_readme_once_made() -> None:
    assert _problems("tgictl render --format kustomize -o manifests/NAME") == [
        "render --output takes values|manifests|kustomize|argocd|flux, not manifests/NAME"]
    assert _problems("tgictl deploy -f tgi.yaml --canary-weight 10") == ["deploy has no option --canary-weight"]


def test_the_engine_tables_ports_are_the_engines() -> None:
    row = next(line for line in README.splitlines() if line.startswith("| port, probes |"))
    shown = [int(re.match(r"\s*(\d+)", cell).group(1)) for cell in row.strip("|").split("|")[1:]]  # type: ignore[union-attr]
    assert shown == [engine.facts.port for engine in REGISTRY.values()]


def test_the_validate_example_prints_what_the_readme_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = re.search(r"^\$ (tgictl validate -f bad\.yaml)\n(.*?)^```", README, flags=re.S | re.M)
    assert example is not None
    import yaml

    from support.data import document

    bad = document(serving={"maxTotalTokens": "lots"})
    bad["spec"]["hardwre"] = {}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, tokens(example.group(1)))
    assert result.exit_code == 2
    shown = example.group(2).strip().splitlines()
    printed = result.stderr.splitlines()
    assert len(printed) == len(shown)
    for line, expected in zip(printed, shown):  # the README shortens the allowed list with "..."
        assert line.startswith(expected.removesuffix("...").rstrip(", ")), (expected, printed)
