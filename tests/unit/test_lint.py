"""ruff, mypy and import-linter over the package (ruff also over tests and benchmarks): unused or undefined names,
syntax errors and likely bugs fail the suite."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from support.data import ROOT, TESTS


def test_ruff_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "tgictl", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_layers_run_one_way() -> None:
    """import-linter's contracts in pyproject.toml: commands over services over engines over
    adapters over the spec model, and only the CLI imports typer or rich."""
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def test_mypy_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def test_tests_import_only_support() -> None:
    """Shared test code lives in tests/support: no test module imports another test module
    or conftest (so each tier runs alone, and a helper has one home)."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in names
                          if name.split(".")[0] in ("conftest", "tests") or name.split(".")[-1].startswith("test_")]
    assert not offenders, offenders


# A function should read at once: typer commands, whose parameters are their options, come
# closest. Over this, split it.
MAX_FUNCTION_LINES = 65


def test_functions_are_short_enough_to_read_at_once() -> None:
    long = []
    for path in sorted((ROOT / "tgictl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long
