"""One home per engine: every engine package carries each piece tgictl needs of it,
and no code outside ``tgictl/engines/`` decides anything by an engine's name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.data import ROOT
from tgictl.engines import REGISTRY
from tgictl.model.architectures import dims_from_config
from tgictl.model.memory import RuleInputs
from tgictl.sim.batching import Limits
from tgictl.sim.flavors import Flavor
from tgictl.spec.model import Spec

PACKAGE = ROOT / "tgictl"
CHART = ROOT / "charts" / "tgi"
LLAMA = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
         "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 8192}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_engine_package_has_every_piece(name: str) -> None:
    engine = REGISTRY[name]
    package = PACKAGE / "engines" / name
    assert (package / "__init__.py").read_text().startswith('"""'), "the package says what it owns"
    assert (CHART / "templates" / "engines" / f"_{name}.tpl").is_file()
    assert (CHART / "files" / "rules" / f"{name}.yaml").is_file()
    facts = engine.facts
    assert facts.port and facts.metrics_prefix and facts.metrics_series.startswith(facts.metrics_prefix.rstrip("_:"))
    assert [phase for _, phase in facts.log_phases][-1] == "ready"
    assert 0 < engine.default_memory_fraction <= 1

    inputs = RuleInputs(device_bytes=80 * 1024**3, weights_per_shard=16 * 10**9, shards=1, prefill_tokens=4096,
                        kv_cache_dtype=None, memory_fraction=engine.default_memory_fraction, version="1", cuda_graphs=True)
    budget = engine.memory_budget(dims_from_config(LLAMA, "llama"), inputs)
    assert budget.kv_bytes_per_token == 32 * 8 * 128 * 2 * 2 and budget.kv_tokens > 100_000

    face = engine.simulator_face()
    flavor = face.flavor()
    assert isinstance(flavor, Flavor) and flavor.name == name
    metrics = face.metrics(Limits(100, 200, 200, 1000, 8), "org/model")
    metrics.on_queue(0, 1, 10)
    assert facts.metrics_prefix in metrics.expose()

    notes = engine.part("migration").APPROXIMATE
    spec_fields = _spec_paths()
    assert notes and all(field in spec_fields for field in notes), set(notes) - spec_fields


def _spec_paths() -> set[str]:
    """Dotted snake_case paths of every field (and section) under spec.spec."""
    paths: set[str] = set()

    def walk(model: type, prefix: str) -> None:
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            path = f"{prefix}{name}"
            paths.add(path)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation, path + ".")

    walk(Spec.model_fields["spec"].annotation, "")  # type: ignore[arg-type]
    return paths


def _engine_name_comparisons(path: Path) -> list[str]:
    """``x == "tgi"``-style comparisons, ``in {"vllm", ...}`` tests and ``match`` cases on engine names."""
    names = set(REGISTRY)
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare) and not (isinstance(node.left, ast.Name) and node.left.id == "api"):
            # (``api`` is the load generator's wire protocol, where TGI's native API is called "tgi".)
            constants = [c for c in (node.left, *node.comparators) for c in ([c] if isinstance(c, ast.Constant) else
                         list(getattr(c, "elts", [])))]
            if any(isinstance(c, ast.Constant) and c.value in names for c in constants):
                found.append(f"{where}:{node.lineno}")
        elif isinstance(node, ast.Dict) and sum(isinstance(k, ast.Constant) and k.value in names for k in node.keys) >= 2:
            found.append(f"{where}:{node.lineno} (a table keyed by engine)")
    return found


def test_nothing_outside_the_engine_packages_decides_by_engine_name() -> None:
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py")) if "engines" not in path.relative_to(PACKAGE).parts
                 for hit in _engine_name_comparisons(path)]
    assert offenders == []


def test_the_name_check_sees_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('def f(e, api):\n    if e == "vllm" or api == "tgi":\n        return 1\n    return {"tgi": 1, "llamacpp": 2}\n')
    hits = sorted(hit.split(":", 1)[1] for hit in _engine_name_comparisons(sample))
    assert hits == ["2", "4 (a table keyed by engine)"]  # the engine test is found, the api one is not
