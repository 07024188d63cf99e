"""One preparation step between a spec and everything made from it.

``prepare`` plans the spec once (limits the user left empty, from
``model.files``), checks the planned spec again with the engine's own rules,
estimates the cold start once and builds the chart values once. render,
deploy, diff, autoscale explain and cache warm all start from its result, so
they cannot disagree, and a plan can never hand the engine limits it refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tgictl.engines import engine_for
from tgictl.errors import Problem, SpecError
from tgictl.plan.coldstart import ColdStart
from tgictl.plan.planner import Plan
from tgictl.plan.service import planned_for_render
from tgictl.render.values import chart_values, cold_start, startup_window_s
from tgictl.spec.model import Spec


@dataclass(frozen=True)
class Prepared:
    """A spec ready to become objects: planned, re-checked, sized and turned into values."""

    spec: Spec  # with every limit the user left empty filled from the plan
    plan: Plan | None  # None when the spec names no model.files (the engine sizes itself)
    cold_start: ColdStart
    startup_budget_s: int  # the user's probes.startupBudgetSeconds, else the planned cold start
    values: dict[str, Any]  # the chart values; copy before changing

    @property
    def release(self) -> str:
        return self.spec.metadata.name

    @property
    def namespace(self) -> str:
        return self.spec.metadata.namespace or "default"

    @property
    def startup_window_s(self) -> int:
        """How long the startup probe lets the engine start: the budget, rounded up to whole probe periods."""
        return startup_window_s(self.spec, self.startup_budget_s)


def prepare(spec: Spec) -> Prepared:
    """Plan, re-check, size and build values for ``spec``; a SpecError names each field at fault."""
    planned, result = planned_for_render(spec)
    if result is not None:
        _check_planned(planned)
    start = result.cold_start if result else cold_start(planned)
    budget = planned.spec.probes.startup_budget_seconds or start.budget_s
    return Prepared(planned, result, start, budget, chart_values(planned, start))


def _check_planned(planned: Spec) -> None:
    """The engine's rules over the limits the plan filled in: the user's own limits were
    checked when the spec was loaded; planned ones are checked here before anything renders."""
    problems = engine_for(planned).problems(planned)
    if problems:
        raise SpecError([Problem(p.path, f"{p.message} (after planning from model.files)")
                         for p in problems])
