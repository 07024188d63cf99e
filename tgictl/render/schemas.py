"""Validate rendered objects: core kinds against Kubernetes' own OpenAPI
schemas (as packaged by ``kubernetes-validate``, strict variant, so unknown
fields fail), custom resources against the upstream CRDs in
``$TGICTL_CRDS_DIR`` (default ``../shared/crds`` beside the repository).

The shared definitions file is large, so it is loaded once per process and
each kind's validator is compiled once.
"""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

# The Kubernetes minor whose schemas we check against: the kubectl we ship.
KUBE_VERSION = "1.35.0"
CRDS_DIR = Path(os.environ.get("TGICTL_CRDS_DIR", Path(__file__).resolve().parents[3] / "shared" / "crds"))


def _schema_dir() -> Any:
    return resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{KUBE_VERSION}-local-strict"


@functools.cache
def _registry() -> Any:
    from referencing import Registry, Resource

    definitions = json.loads((_schema_dir() / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


def _core_file(api_version: str, kind: str) -> Any:
    group, _, version = api_version.rpartition("/")
    prefix = group.split(".", 1)[0] + "-" if group else ""
    return _schema_dir() / f"{kind.lower()}-{prefix}{version}.json"


# libyaml's loader when PyYAML was built with it: the CRD files are megabytes of YAML.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """The openAPIV3Schema of ``kind`` at ``api_version`` from the CRDs under CRDS_DIR. Only the
    files that name the kind are parsed (a render needs a few of the 24 files), once per process."""
    if not CRDS_DIR.is_dir():
        return None
    group, _, version = api_version.rpartition("/")
    for path in sorted(CRDS_DIR.rglob("*.yaml")):
        text = path.read_text()
        if f"kind: {kind}" not in text:
            continue
        for doc in yaml.load_all(text, Loader=_Loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            if spec["group"] != group or spec["names"]["kind"] != kind:
                continue
            for served in spec.get("versions", []):
                schema = served.get("schema", {}).get("openAPIV3Schema")
                if served["name"] == version and schema:
                    return schema
    return None


@functools.cache
def _validator(api_version: str, kind: str) -> Any:
    import jsonschema

    core = _core_file(api_version, kind)
    if core.is_file():
        schema = json.loads(core.read_text())
        return jsonschema.Draft202012Validator(schema, registry=_registry())
    crd = _crd_schema(api_version, kind)
    if crd is not None:
        return jsonschema.Draft7Validator(crd)
    return None


def prepare() -> None:
    """Import jsonschema and load the shared definitions now (they take ~0.1 s)."""
    import jsonschema  # noqa: F401

    _registry()


def checkable(obj: dict[str, Any]) -> bool:
    """Whether this object can be schema-checked here: core kinds always (their schemas are
    packaged); custom resources when a CRD directory is at hand. Without one (an installed
    tgictl away from the repository) custom resources go unchecked, and render says so."""
    return CRDS_DIR.is_dir() or _core_file(obj.get("apiVersion", ""), obj.get("kind", "")).is_file()


def problems(obj: dict[str, Any]) -> list[str]:
    """Schema violations of one object, as ``field.path: message`` lines (none when not checkable)."""
    if not checkable(obj):
        return []
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    validator = _validator(api_version, kind)
    if validator is None:
        return [f"no schema for {kind} {api_version} (Kubernetes {KUBE_VERSION} or {CRDS_DIR})"]
    out = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        out.append(f"{path}: {error.message}")
    return out
