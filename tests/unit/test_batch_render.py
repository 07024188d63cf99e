"""`tgictl render` of many specs in one process, helm started ahead; and the lazily built CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from support.data import BASE, ROOT, SPECS
from tgictl.adapters import helm
from tgictl.cli.main import COMMANDS, app
from tgictl.render import batch, formats, service
from tgictl.render.prepare import prepare
from tgictl.spec.load import load_file

runner = CliRunner()
SOME = [SPECS / "tiny-cpu.yaml", SPECS / "a100-8b.yaml", SPECS / "autoscaled-vllm-gateway.yaml"]


def render(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["render", *args])


def alone(spec: Path, *args: str) -> str:
    result = render("-f", str(spec), *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_several_specs_print_each_as_it_renders_alone() -> None:
    result = render(*(arg for spec in SOME for arg in ("-f", str(spec))))
    assert result.exit_code == 0, result.output
    parts = result.stdout.split("---\n# tgictl render -f ")[1:]
    assert [part.split("\n", 1)[0] for part in parts] == [str(spec) for spec in SOME]
    for spec, part in zip(SOME, parts, strict=True):
        assert "---\n" + part.split("\n", 1)[1] == alone(spec)


def test_values_of_several_specs_stay_separate_documents() -> None:
    result = render("-f", str(SOME[0]), "-f", str(SOME[1]), "-o", "values")
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["engine"]["name"] for d in documents] == [yaml.safe_load(alone(s, "-o", "values"))["engine"]["name"] for s in SOME[:2]]


def test_a_directory_renders_each_spec_into_its_own_tree(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    for spec in SOME:
        shutil.copy(spec, specs / spec.name)
    (specs / "notes.txt").write_text("not a spec\n")
    out = tmp_path / "out"
    result = render("-f", str(specs), "-d", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(spec.stem for spec in SOME)
    for spec in SOME:
        single = tmp_path / "single" / spec.stem
        assert render("-f", str(spec), "-d", str(single)).exit_code == 0
        assert {p.name: p.read_text() for p in single.iterdir()} == {p.name: p.read_text() for p in (out / spec.stem).iterdir()}


def test_one_bad_spec_is_named_and_the_others_render(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["hardware"] = {"tolerations": [{"keyy": "gpu"}]}  # fails the Deployment's schema, after helm
    bad.write_text(yaml.safe_dump(doc))
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: [\n")
    result = render("-f", str(SOME[0]), "-f", str(bad), "-f", str(broken), "-f", str(SOME[1]))
    assert result.exit_code == 2
    assert f"error: {bad}: rendered objects fail their schemas" in result.stderr
    assert f"{broken}: not valid YAML" in result.stderr
    assert "error: 2 of 4 specs failed to render" in result.stderr
    assert result.stdout.count("# tgictl render -f ") == 2


def test_two_specs_with_one_stem_cannot_share_an_out_dir(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for side in ("a", "b"):
        shutil.copy(SOME[0], tmp_path / side / "tgi.yaml")
    result = render("-f", str(tmp_path / "a" / "tgi.yaml"), "-f", str(tmp_path / "b" / "tgi.yaml"), "-d", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "would both render into tgi/" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = render("-f", str(tmp_path))
    assert result.exit_code == 2
    assert "no spec files (*.yaml, *.yml) in this directory" in result.stderr


def helm_children() -> list[str]:
    """Running `helm template` processes started by this test process."""
    found = subprocess.run(["pgrep", "-P", str(os.getpid()), "-a"], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "helm" in line]


def test_a_consumer_that_stops_early_leaves_no_helm_running() -> None:
    results = batch.render_files(SOME, "manifests", lambda source: service.Options(source=source.name), ahead=3)
    first = next(results)
    assert first.rendered is not None
    assert helm_children()  # the specs ahead are waiting for their values
    results.close()
    assert helm_children() == []


def test_a_helm_started_for_another_release_is_not_used() -> None:
    waiting = helm.Waiting(release="other", namespace="default")
    prepared = prepare(load_file(SOME[0]))
    rendered = service.render(prepared, "manifests", waiting=waiting)
    assert rendered.stream == alone(SOME[0])
    assert helm_children() == []


def test_every_render_format_says_whether_it_runs_helm() -> None:
    assert set(formats.THROUGH_HELM) == set(service.FORMATS)


def test_root_help_summaries_are_the_commands_docstrings() -> None:
    for name, lazy in COMMANDS.items():
        target = lazy.target()
        doc = target.info.help if hasattr(target, "info") else target.__doc__
        assert " ".join(doc.split("\n\n")[0].split()) == lazy.summary, name


def test_root_help_imports_no_command_module() -> None:
    script = ("import sys\nfrom typer.testing import CliRunner\nfrom tgictl.cli.main import app\n"
              "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
              "print(sorted(m for m in sys.modules if m.startswith('tgictl.') and m.endswith(('_cmd', '_cmds'))))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["render", "sim", "autoscale", "cache"])
def test_a_command_is_built_as_when_registered_up_front(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0
    assert f"Usage: tgictl {name}" in result.stdout
    assert "--install-completion" not in result.stdout
