"""Cost: dated default prices, the user's own, and what plan and bench work out from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from support.data import MODELS, document
from tgictl import cost, hardware
from tgictl.cli.main import app
from tgictl.errors import SpecError
from tgictl.plan.service import server_price
from tgictl.spec.load import parse

runner = CliRunner()


def test_every_default_price_names_a_catalog_entry_a_date_and_a_source() -> None:
    for key, price in cost.DEFAULTS.items():
        assert key in hardware.CATALOG
        assert price.usd_per_hour > 0 and price.as_of[:4] == "2026" and price.url.startswith("https://")


def test_the_price_given_wins_over_the_prices_file_over_the_default(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("h100: 2.10\n")  # an alias names its catalog entry
    assert cost.price_of("h100-80gb") == cost.DEFAULTS["h100-80gb"]
    assert cost.price_of("h100-80gb", prices_file=prices) == cost.Price(2.10, str(prices))
    assert cost.price_of("h100", override=1.5, prices_file=prices) == cost.Price(1.5, "--price")
    assert cost.price_of("a10g", prices_file=prices) == cost.DEFAULTS["a10g"]  # not in the file: the default
    assert cost.price_of("l4") is None  # no sourced default: no guess


def test_a_bad_prices_file_names_each_entry(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("h101: 2\nl4: -1\nt4: yes\na10g: 0.7\n")
    with pytest.raises(SpecError) as raised:
        cost.load_prices(prices)
    assert str(raised.value).splitlines() == [
        f"{prices}: h101: unknown accelerator; allowed: {', '.join(hardware.CATALOG)}",
        f"{prices}: l4: expected USD per accelerator-hour, a number above 0; got -1",
        f"{prices}: t4: expected USD per accelerator-hour, a number above 0; got True",
    ]
    prices.write_text("- h100\n")
    with pytest.raises(SpecError, match="expected a mapping"):
        cost.load_prices(prices)


def test_replica_hours_months_and_tokens() -> None:
    deployment = cost.DeploymentCost(cost.Price(2.0, "test"), accelerators_per_replica=4, replicas_min=1, replicas_max=3)
    assert deployment.per_replica_hour == 8.0
    assert (deployment.per_month(1), deployment.per_month(3)) == (8.0 * 730, 24.0 * 730)
    # $3.60 an hour at 1,000 tokens/s: 3.6 M tokens an hour, $1 per million.
    assert cost.per_million_tokens(3.6, 1000.0) == pytest.approx(1.0)
    assert cost.per_million_tokens(3.6, 0.0) is None
    run = {"output_tokens_per_s": 1000.0, "goodput_output_tokens_per_s": 250.0}
    assert cost.ServerPrice(3.6, "test").of_run(run) == {
        "usd_per_hour": 3.6, "basis": "test", "usd_per_million_output_tokens": 1.0, "usd_per_million_output_tokens_at_goodput": 4.0}


def _spec_file(tmp_path: Path, **extra: object) -> str:
    doc = document(model={"id": "meta-llama/Llama-3.1-8B-Instruct", "files": str(MODELS / "llama-3.1-8b")},
                   hardware={"accelerator": {"type": "h100", "count": 2}, "memory": "32Gi"}, **extra)
    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_plan_prices_a_model_per_replica_hour_and_month() -> None:
    table = runner.invoke(app, ["plan", str(MODELS / "llama-3.1-8b"), "--gpu", "a10g"])
    assert table.exit_code == 0, table.output
    assert "$1.01 per replica-hour (1x $1.006/h: AWS g5.xlarge on demand, us-east-1, 2026-06-17); $734 a month for 1 replica" \
        in " ".join(table.stdout.split())
    unknown = runner.invoke(app, ["plan", str(MODELS / "llama-3.1-8b"), "--gpu", "l4"])
    assert unknown.exit_code == 0 and "no default price for l4: give --price" in unknown.stdout
    given = json.loads(runner.invoke(app, ["plan", str(MODELS / "llama-3.1-8b"), "--gpu", "l4", "--price", "0.8", "-o", "json"]).stdout)
    assert given["cost"]["usd_per_replica_hour"] == 0.8 and given["cost"]["price"]["source"] == "--price"


def test_plan_of_a_spec_prices_its_replicas(tmp_path: Path) -> None:
    spec = _spec_file(tmp_path, autoscaling={"enabled": True, "minReplicas": 2, "maxReplicas": 5}, monitoring={"enabled": True})
    data = json.loads(runner.invoke(app, ["plan", "-f", spec, "-o", "json"]).stdout)["cost"]
    assert (data["accelerators_per_replica"], data["replicas_min"], data["replicas_max"]) == (2, 2, 5)
    assert data["usd_per_replica_hour"] == 5.9  # 2x $2.95
    assert (data["usd_per_month_min"], data["usd_per_month_max"]) == (round(5.9 * 2 * 730, 2), round(5.9 * 5 * 730, 2))
    table = runner.invoke(app, ["plan", "-f", spec])
    assert "$8,614-$21,535 a month for 2-5 replicas" in " ".join(table.stdout.split())


def test_a_release_under_load_costs_its_always_running_replicas(tmp_path: Path) -> None:
    spec = parse(yaml.safe_load(Path(_spec_file(tmp_path, replicas=3)).read_text()))
    price = server_price(spec)
    assert price is not None and price.usd_per_hour == pytest.approx(3 * 2 * 2.95)
    assert price.basis.startswith("3 replicas x 2x h100-80gb at $2.95/h (median over 37 providers")
    to_zero = {"enabled": True, "minReplicas": 0, "upstreamQuery": "sum(rate(gateway_requests_total[1m]))"}
    scaled = parse(yaml.safe_load(Path(_spec_file(tmp_path, autoscaling=to_zero, monitoring={"enabled": True})).read_text()))
    scaled_price = server_price(scaled, price=1.0)
    assert scaled_price is not None and scaled_price.usd_per_hour == 2.0  # scale-to-zero: one replica is under load
    cpu = parse(document(model={"id": "gpt2"}))
    assert server_price(cpu) is None


def test_bench_refuses_a_price_it_cannot_know_before_sending_load() -> None:
    unknown = runner.invoke(app, ["bench", "http://127.0.0.1:9", "--gpu", "l4"])
    assert unknown.exit_code == 2 and "no default price for l4" in unknown.stderr
    typo = runner.invoke(app, ["bench", "http://127.0.0.1:9", "--gpu", "h101"])
    assert typo.exit_code == 2 and "unknown --gpu 'h101'" in typo.stderr
