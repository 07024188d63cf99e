"""The engine registry: one package per engine, looked up by the spec's engine name.

Adding an engine means one package (``engine.py`` with an ``Engine`` subclass,
``memory.py``, ``simulator.py`` exporting ``FACE``, ``migration.py``), one line in
``REGISTRY``, one chart partial ``charts/tgi/templates/engines/_<name>.tpl`` and
one rule file ``charts/tgi/files/rules/<name>.yaml`` (tests/unit/test_engine_homes.py).
"""

from __future__ import annotations

from tgictl.engines.base import Engine
from tgictl.engines.llamacpp import LlamaCpp
from tgictl.engines.tgi import TGI
from tgictl.engines.vllm import VLLM
from tgictl.errors import Problem, SpecError
from tgictl.spec.model import Spec

REGISTRY: dict[str, Engine] = {engine.name: engine for engine in (TGI(), VLLM(), LlamaCpp())}


def get(name: str) -> Engine:
    """The engine called ``name``; an error listing the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise SpecError([Problem("spec.engine.name", f"unknown engine {name!r}; allowed: {', '.join(REGISTRY)}")]) from None


def engine_for(spec: Spec) -> Engine:
    """The engine a spec asks for."""
    return get(spec.spec.engine.name)
