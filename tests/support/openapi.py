"""Validate JSON against a schema of TGI's OpenAPI 3.0 spec (../shared/reference).

OpenAPI 3.0 says ``nullable: true`` where JSON Schema says ``type: [..., "null"]``;
``to_json_schema`` rewrites that so jsonschema can check responses.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "reference" / "tgi-openapi.json"


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _convert(v) for k, v in node.items() if k not in ("example", "format")}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def validator(schema_name: str) -> jsonschema.Validator:
    spec = load_spec()
    components = {"components": {"schemas": _convert(copy.deepcopy(spec["components"]["schemas"]))}}
    schema = {"$ref": f"#/components/schemas/{schema_name}", **components}
    return jsonschema.Draft7Validator(schema)


def check(schema_name: str, instance: Any) -> None:
    validator(schema_name).validate(instance)
