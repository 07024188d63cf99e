"""What a deploy would change: the rendered objects against the live ones.

Live objects carry defaults and status the render never sets, so only the
fields the render sets are compared; a field the render sets to a different
value, or an object that does not exist yet, is a change.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from tgictl.adapters.kube import Kube
from tgictl.render.prepare import prepare
from tgictl.render.service import objects
from tgictl.spec.model import Spec

# Metadata the API server or Helm owns; never a difference we caused.
_IGNORED = {"metadata.labels.helm.sh/chart", "metadata.annotations.meta.helm.sh/release-name",
            "metadata.annotations.meta.helm.sh/release-namespace"}


@dataclass
class ObjectDiff:
    kind: str
    name: str
    status: str  # new | changed | unchanged
    fields: list[str] = field(default_factory=list)  # "path: live → rendered"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Fields the API server stores as resource.Quantity and reads back in canonical form
# (65536Mi → 64Gi, 1000m → 1): container resources, quota, emptyDir and PVC sizes.
_QUANTITY = re.compile(r"(^|\.)(limits|requests|hard)\.[^.]+$|(^|\.)sizeLimit$")


def _same_quantity(path: str, rendered: Any, live: Any) -> bool:
    if not _QUANTITY.search(path) or live is None:
        return False
    from tgictl.spec.quantity import parse_quantity

    try:
        return bool(parse_quantity(str(rendered)) == parse_quantity(str(live)))
    except ValueError:
        return False


def _compare(rendered: Any, live: Any, path: str, out: list[str]) -> None:
    if path in _IGNORED:
        return
    if isinstance(rendered, dict) and isinstance(live, dict):
        for key, value in rendered.items():
            _compare(value, live.get(key), f"{path}.{key}" if path else key, out)
    elif isinstance(rendered, list) and isinstance(live, list) and len(rendered) == len(live):
        for index, (a, b) in enumerate(zip(rendered, live)):
            _compare(a, b, f"{path}[{index}]", out)
    elif rendered != live and not (isinstance(rendered, (int, float)) and str(rendered) == str(live)) \
            and not _same_quantity(path, rendered, live):
        out.append(f"{path}: {_short(live)} → {_short(rendered)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def diff(spec: Spec, kube: Kube) -> list[ObjectDiff]:
    prepared = prepare(spec)
    result = []
    for obj in objects(prepared):
        live = kube.get(obj.obj["apiVersion"], obj.kind, prepared.namespace, obj.name)
        if live is None:
            result.append(ObjectDiff(obj.kind, obj.name, "new"))
            continue
        changes: list[str] = []
        _compare(obj.obj, live, "", changes)
        result.append(ObjectDiff(obj.kind, obj.name, "changed" if changes else "unchanged", changes))
    return result
