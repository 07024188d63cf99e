"""What a deployment costs: a price per accelerator-hour, and the arithmetic from it to
a replica-hour, a month and a million output tokens.

Prices move month to month and differ several-fold between providers for the same
GPU (the May 2026 survey below shows 2.5-3.75x spreads between hyperscalers and
smaller clouds), so the defaults are a dated anchor for comparing specs, never a
quote: ``--price`` or a prices file (``--prices``) gives what you really pay. An
accelerator without a sourced default has no price; cost is then left out and the
plan says how to give one, rather than guessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tgictl import hardware
from tgictl.errors import Problem, SpecError, not_utf8

# 365 days x 24 h / 12: the month AWS's and Google's pricing calculators bill.
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    """USD per accelerator-hour, and where the figure comes from."""

    usd_per_hour: float
    source: str  # what the figure is, in a few words
    as_of: str = ""  # the date the source gives ("" for the user's own price)
    url: str = ""

    def describe(self) -> str:
        return f"{self.source}, {self.as_of}" if self.as_of else self.source


# Each default is a figure seen in a dated public source: on demand, per GPU.
DEFAULTS: dict[str, Price] = {
    "a10g": Price(1.006, "AWS g5.xlarge on demand, us-east-1", "2026-06-17",
                  "https://www.factualminds.com/blog/amazon-ec2-on-demand-pricing-instance-families-2026/"),
    "a100-80gb": Price(1.30, "midpoint of specialty clouds' $1.10-1.50 (hyperscalers $1.50-3.00)", "2026-05",
                       "https://www.mercatus-ai.com/blog/cloud-gpu-pricing"),
    "h100-80gb": Price(2.95, "median over 37 providers, on demand", "2026-05-20", "https://aimultiple.com/gpu-index"),
    "h200": Price(4.00, "midpoint of specialty clouds' $3.50-4.50 (hyperscalers $4.50-7.00)", "2026-05",
                  "https://www.mercatus-ai.com/blog/cloud-gpu-pricing"),
}


def load_prices(path: Path) -> dict[str, Price]:
    """A prices file: a YAML mapping of accelerator catalog key (or alias) to USD per accelerator-hour."""
    import yaml

    source = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise SpecError([Problem("", f"cannot read: {error.strerror}")], source) from None
    except UnicodeDecodeError as error:
        raise SpecError([Problem("", not_utf8(error))], source) from None
    except yaml.YAMLError as error:
        raise SpecError([Problem("", f"not YAML: {error}")], source) from None
    if not isinstance(data, dict):
        raise SpecError([Problem("", "expected a mapping of accelerator to USD per accelerator-hour, e.g. 'h100: 2.10'")], source)
    prices, problems = {}, []
    for name, value in data.items():
        accelerator = hardware.lookup(str(name))
        if accelerator is None:
            problems.append(Problem(str(name), f"unknown accelerator; allowed: {', '.join(hardware.CATALOG)}"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            problems.append(Problem(str(name), f"expected USD per accelerator-hour, a number above 0; got {value!r}"))
        else:
            prices[accelerator.key] = Price(float(value), source)
    if problems:
        raise SpecError(problems, source)
    return prices


def price_of(accelerator: str, *, override: float | None = None, prices_file: Path | None = None) -> Price | None:
    """The price per accelerator-hour: ``--price``, else the prices file, else the dated default."""
    if override is not None:
        return Price(override, "--price")
    key = hardware.lookup(accelerator)
    name = key.key if key else accelerator
    if prices_file is not None:
        found = load_prices(prices_file).get(name)
        if found:
            return found
    return DEFAULTS.get(name)


@dataclass(frozen=True)
class DeploymentCost:
    """What replicas of one pod cost at a price per accelerator-hour."""

    price: Price
    accelerators_per_replica: int
    replicas_min: int  # the replicas always running (autoscaling's minimum)
    replicas_max: int

    @property
    def per_replica_hour(self) -> float:
        return self.price.usd_per_hour * self.accelerators_per_replica

    def per_month(self, replicas: int) -> float:
        return self.per_replica_hour * replicas * HOURS_PER_MONTH

    def as_dict(self) -> dict[str, Any]:
        return {"price": asdict(self.price), "accelerators_per_replica": self.accelerators_per_replica,
                "usd_per_replica_hour": round(self.per_replica_hour, 4), "replicas_min": self.replicas_min,
                "replicas_max": self.replicas_max, "usd_per_month_min": round(self.per_month(self.replicas_min), 2),
                "usd_per_month_max": round(self.per_month(self.replicas_max), 2), "hours_per_month": HOURS_PER_MONTH}


def per_million_tokens(usd_per_hour: float, tokens_per_s: float) -> float | None:
    """USD per million output tokens at a throughput (None when nothing was produced)."""
    if tokens_per_s <= 0:
        return None
    return usd_per_hour / (tokens_per_s * 3600) * 1e6


@dataclass(frozen=True)
class ServerPrice:
    """What the server under a load test costs per hour, and how that was worked out."""

    usd_per_hour: float
    basis: str  # e.g. "--price" or "2 replicas x 1x a10g at $1.006/h (AWS ...)"

    def of_run(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Cost per million output tokens at a run's measured throughput and at its goodput."""
        all_tokens = per_million_tokens(self.usd_per_hour, summary["output_tokens_per_s"])
        good_tokens = per_million_tokens(self.usd_per_hour, summary["goodput_output_tokens_per_s"])
        return {"usd_per_hour": self.usd_per_hour, "basis": self.basis,
                "usd_per_million_output_tokens": _rounded(all_tokens),
                "usd_per_million_output_tokens_at_goodput": _rounded(good_tokens)}


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None
