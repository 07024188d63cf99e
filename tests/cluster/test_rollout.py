"""Canary and blue-green rollouts against the fake API server and fake helm: what each step asks
helm to do, in which order, and that weights always move before anything is deleted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from support.cluster_fixtures import helm_calls, spec_file
from support.fake_kube import Cluster, Step, pod
from support.servers import free_port
from tgictl.adapters.kube import Kube
from tgictl.cli.main import app
from tgictl.lifecycle import rollout
from tgictl.lifecycle.gate import Figures
from tgictl.spec.load import load_file

runner = CliRunner()
ROUTE = {"kind": "httproute", "gateway": {"name": "public"}, "hostnames": ["llm.example.com"]}
GOOD: Figures = {"requests_per_s": 5.0, "errors_per_s": 0.0, "waiting": 0.0, "ttft_p95_s": 0.2, "tokens_per_s": 300.0}


@pytest.fixture
def both_ready(cluster: Cluster, helm_log: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The stable release (with an HTTPRoute, helm knows its values) and the canary, each with a ready pod."""
    cluster.steps = [Step(pod(running=True, ready=True), others=[pod(running=True, ready=True, name="demo-canary-7d9f-abcde",
                                                                     instance="demo-canary")])]
    monkeypatch.setenv("FAKE_HELM_VALUES", json.dumps({"demo": {"exposure": {"kind": "httproute"}}}))
    return cluster


def _stable_weighted(monkeypatch: pytest.MonkeyPatch, weight: int) -> None:
    monkeypatch.setenv("FAKE_HELM_VALUES", json.dumps(
        {"demo": {"exposure": {"kind": "httproute", "canary": {"release": "demo-canary", "weight": weight}}}}))


def _steps(log: Path) -> list[tuple[str, ...]]:
    """Each helm call that changes something, as (verb, release, what it set on the route)."""
    found = []
    for call in helm_calls(log):
        args, values = call["args"], call["values"] or {}
        if args[0] == "upgrade":
            release = args[2] if args[1] == "--install" else args[1]
            canary = (values.get("exposure") or {}).get("canary")
            shown = "no canary" if canary is None or not canary.get("release") else f"{canary['weight']}% to {canary['release']}"
            found.append(("upgrade" + (" --reuse-values" if "--reuse-values" in args else ""), release, shown))
        elif args[0] == "uninstall":
            found.append(("uninstall", args[1]))
    return found


def _spec(tmp_path: Path) -> Any:
    return load_file(spec_file(tmp_path, exposure=ROUTE))


def test_good_figures_walk_every_step_then_promote(both_ready: Cluster, helm_log: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    judged: list[int] = []

    def figures(canary: str, stable: str) -> tuple[Figures, Figures]:
        assert (canary, stable) == ("demo-canary", "demo")
        _stable_weighted(monkeypatch, [10, 50, 100][len(judged)])  # what helm now holds for the stable release
        judged.append(1)
        return GOOD, GOOD

    result = rollout.run_steps(_spec(tmp_path), Kube(), figures, 10, wait=lambda s: None)
    assert result.outcome == "promoted" and [s["weight"] for s in result.steps] == [10, 50, 100]
    assert _steps(helm_log) == [
        ("upgrade", "demo-canary", "no canary"),  # the canary, with no route of its own
        ("upgrade --reuse-values", "demo", "10% to demo-canary"),
        ("upgrade --reuse-values", "demo", "50% to demo-canary"),
        ("upgrade --reuse-values", "demo", "100% to demo-canary"),
        ("upgrade", "demo", "100% to demo-canary"),  # the stable release on the new spec, the canary still serving
        ("upgrade --reuse-values", "demo", "no canary"),
        ("uninstall", "demo-canary"),
    ]
    canary_values = next(c["values"] for c in helm_calls(helm_log) if c["args"][:3] == ["upgrade", "--install", "demo-canary"])
    assert canary_values["exposure"]["kind"] == "none" and canary_values["fullnameOverride"] == "demo-canary"


def test_a_failed_gate_returns_the_traffic_before_removing_the_canary(both_ready: Cluster, helm_log: Path,
                                                                     tmp_path: Path) -> None:
    slow = {**GOOD, "ttft_p95_s": 0.9}
    result = rollout.run_steps(_spec(tmp_path), Kube(), lambda c, s: (slow, GOOD), 10, wait=lambda s: None)
    assert result.outcome == "aborted"
    assert result.reason == "the gate failed at 10%: TTFT p95 0.9 s > 1.5 x the stable release's 0.2 s"
    assert _steps(helm_log) == [("upgrade", "demo-canary", "no canary"), ("upgrade --reuse-values", "demo", "10% to demo-canary"),
                                ("upgrade --reuse-values", "demo", "no canary"), ("uninstall", "demo-canary")]


def test_blue_green_stays_dark_until_promoted_by_hand(both_ready: Cluster, helm_log: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = spec_file(tmp_path, exposure=ROUTE)
    started = runner.invoke(app, ["deploy", "-f", path, "--blue-green", "--poll", "0.01", "-o", "json"])
    assert started.exit_code == 0, started.output
    assert json.loads(started.stdout)["outcome"] == "started"
    assert _steps(helm_log) == [("upgrade", "demo-canary", "no canary"), ("upgrade --reuse-values", "demo", "0% to demo-canary")]
    _stable_weighted(monkeypatch, 0)
    status = runner.invoke(app, ["rollout", "status", "-f", path, "-o", "json"])
    assert json.loads(status.stdout) == {"release": "demo", "canary": "demo-canary", "weight": 0}
    promoted = runner.invoke(app, ["rollout", "promote", "-f", path])
    assert promoted.exit_code == 0, promoted.output
    assert promoted.stdout.splitlines()[-1] == "demo: promoted"
    assert _steps(helm_log)[2:] == [("upgrade", "demo", "0% to demo-canary"), ("upgrade --reuse-values", "demo", "no canary"),
                                    ("uninstall", "demo-canary")]


def test_abort_by_hand_and_what_cannot_roll_out(both_ready: Cluster, helm_log: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = spec_file(tmp_path, exposure=ROUTE)
    _stable_weighted(monkeypatch, 50)
    aborted = runner.invoke(app, ["rollout", "abort", "-f", path])
    assert aborted.exit_code == 0, aborted.output
    assert aborted.stdout.splitlines() == ["  demo's route: all traffic to demo", "  demo-canary uninstalled",
                                           "demo: aborted (aborted by hand)"]
    (tmp_path / "plain").mkdir()
    no_route = runner.invoke(app, ["deploy", "-f", spec_file(tmp_path / "plain"), "--canary", "10"])
    assert no_route.exit_code == 2 and "needs exposure.kind httproute" in no_route.stderr
    monkeypatch.setenv("FAKE_HELM_VALUES", "{}")
    nothing = runner.invoke(app, ["deploy", "-f", path, "--canary", "10"])
    assert nothing.exit_code == 2 and "no release demo in llm to roll out beside: deploy it first" in nothing.stderr
    assert not any(c["args"][:3] == ["upgrade", "--install", "demo-canary"] for c in helm_calls(helm_log)[1:])


def test_a_gate_without_figures_aborts_instead_of_leaving_the_share(both_ready: Cluster, helm_log: Path, tmp_path: Path) -> None:
    """`deploy --canary` with a Prometheus that does not answer: the step cannot be judged, so the
    canary gives its share back and goes, and deploy exits 1 saying why."""
    closed = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["deploy", "-f", spec_file(tmp_path, exposure=ROUTE), "--canary", "10", "--prometheus", closed,
                                 "--step-seconds", "1", "--poll", "0.01", "-o", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "aborted" and report["reason"].startswith(f"no figures for the gate at 10%: Prometheus at {closed}")
    assert _steps(helm_log) == [("upgrade", "demo-canary", "no canary"), ("upgrade --reuse-values", "demo", "10% to demo-canary"),
                                ("upgrade --reuse-values", "demo", "no canary"), ("uninstall", "demo-canary")]
