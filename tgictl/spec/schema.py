"""The spec's JSON Schema, generated from the models (never hand-kept)."""

from __future__ import annotations

from typing import Any

from tgictl.spec.model import Spec


def json_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "tgictl spec (tgi.yaml)", **schema}
