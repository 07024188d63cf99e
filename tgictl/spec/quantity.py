"""Kubernetes resource quantities ("64Gi", "500m", "1.5G", "2e3") as exact decimals.

The same grammar and suffixes as apimachinery's resource.Quantity, and the same
answers as ``kubernetes.utils.parse_quantity`` (tests/unit/test_spec.py checks both
agree on generated quantities). That function is not imported here because
``kubernetes.utils`` loads the whole API client (~0.4 s), more than half of a
render's run time, to read one string.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_FORM = re.compile(r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?P<suffix>[eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE]?)")


def parse_quantity(text: str | int | float) -> Decimal:
    """The quantity's value in base units (bytes, cores): "500m" is 0.5, "4Gi" is 4294967296."""
    match = _FORM.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation:
        raise ValueError(f"not a Kubernetes quantity: {text!r}") from None
    suffix = match.group("suffix")
    if suffix in _BINARY:
        return number * (Decimal(1024) ** _BINARY[suffix])
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * (Decimal(10) ** _DECIMAL[suffix])
