"""Validate rendered objects: core kinds against Kubernetes' own OpenAPI
schemas (as packaged by ``kubernetes-validate``, strict variant, so unknown
fields fail), custom resources against the upstream CRDs in
``$TGICTL_CRDS_DIR`` (default ``../shared/crds`` beside the repository).

Each kind's schema is compiled to Python by fastjsonschema (an object checks in
~0.3 ms, against ~2 ms interpreted by jsonschema) and the compiled code is
cached on disk, keyed by the identity of the schema files it came from, so a
render neither parses the 1.5 MB definitions file nor imports jsonschema. An
object the compiled check rejects is checked again by jsonschema, which lists
every violation with its path; the two agree on what is valid (tested over
every rendered object and mutations of them).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import marshal
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

# The Kubernetes minor whose schemas we check against: the kubectl we ship.
KUBE_VERSION = "1.35.0"
CRDS_DIR = Path(os.environ.get("TGICTL_CRDS_DIR", Path(__file__).resolve().parents[3] / "shared" / "crds"))
# Bump when the schema transformation below changes, so older cached code is not used.
_CACHE_FORMAT = 1

Check = Callable[[dict[str, Any]], Any]  # raises fastjsonschema.JsonSchemaException when invalid


def cache_dir() -> Path:
    """Where compiled validators are kept: $TGICTL_CACHE_DIR, else $XDG_CACHE_HOME/tgictl, else ~/.cache/tgictl."""
    base = os.environ.get("TGICTL_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tgictl"
    return Path(base) / "schemas"


@functools.cache
def _schema_dir() -> Path:
    # Located without importing kubernetes_validate, whose package imports jsonschema.
    spec = importlib.util.find_spec("kubernetes_validate")
    assert spec is not None and spec.submodule_search_locations, "kubernetes-validate is a dependency"
    return Path(spec.submodule_search_locations[0]) / "kubernetes-json-schema" / f"v{KUBE_VERSION}-local-strict"


def _core_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    prefix = group.split(".", 1)[0] + "-" if group else ""
    return _schema_dir() / f"{kind.lower()}-{prefix}{version}.json"


# libyaml's loader when PyYAML was built with it: the CRD files are megabytes of YAML.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _crd_files() -> list[Path]:
    return sorted(CRDS_DIR.rglob("*.yaml")) if CRDS_DIR.is_dir() else []


@functools.cache
def _crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """The openAPIV3Schema of ``kind`` at ``api_version`` from the CRDs under CRDS_DIR. Only the
    files that name the kind are parsed (a render needs a few of the 24 files), once per process."""
    group, _, version = api_version.rpartition("/")
    for path in _crd_files():
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
                    return dict(schema)
    return None


@functools.cache
def _definitions() -> dict[str, Any]:
    return dict(json.loads((_schema_dir() / "_definitions.json").read_text()))


# Go's RE2 takes flags anywhere ("^(?i)(abort|warn)?$" in prometheus-operator's PrometheusRule CRD);
# Python only at the start, where they mean the same.
_LEADING_FLAGS = re.compile(r"^\^(\(\?[aiLmsux]+\))")


def _python_pattern(pattern: str) -> str:
    """An RE2 pattern as Python reads it alike: flags after ``^`` moved first, and ``$`` inside a
    character set escaped (a literal either way, but fastjsonschema turns every bare ``$`` into
    ``\\Z``, which is no escape inside a set: the Gateway API's header-name pattern has one)."""
    out, set_start, escaped = [], -1, False  # set_start: index of the open set's first member
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[" and set_start < 0:
            set_start = index + 2 if pattern[index + 1:index + 2] == "^" else index + 1
        elif char == "]" and set_start >= 0 and index > set_start:  # a "]" first in a set is a member
            set_start = -1
        elif char == "$" and set_start >= 0:
            char = "\\$"
        out.append(char)
    return _LEADING_FLAGS.sub(r"\1^", "".join(out))


def _portable(schema: Any) -> Any:
    """The schema as Python can check it: the core schemas' ``/api/_definitions.json#/$defs/X``
    references pointed at ``#/$defs/X`` of one self-contained schema (the compiler must never
    fetch a URI), and RE2 patterns written as Python reads them alike."""
    if isinstance(schema, dict):
        return {k: _portable_keyword(k, v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_portable(item) for item in schema]
    return schema


def _portable_keyword(key: str, value: Any) -> Any:
    if key == "$ref" and isinstance(value, str):
        return "#" + value.split("#", 1)[1]
    if key == "pattern" and isinstance(value, str):
        return _python_pattern(value)
    return _portable(value)


def _schema(api_version: str, kind: str) -> tuple[dict[str, Any], str] | None:
    """The kind's whole schema and the draft it is written in, or None when no schema is at hand."""
    core = _core_file(api_version, kind)
    if core.is_file():
        schema = _portable(json.loads(core.read_text()))
        schema["$defs"] = _portable(_definitions()["$defs"])
        return schema, "2020-12"
    crd = _crd_schema(api_version, kind)
    return (_portable(crd), "7") if crd is not None else None


def _sources(api_version: str, kind: str) -> list[Path]:
    """The files a kind's schema is read from: what its cached validator is keyed on."""
    core = _core_file(api_version, kind)
    return [core, _schema_dir() / "_definitions.json"] if core.is_file() else _crd_files()


def _cache_key(api_version: str, kind: str) -> str:
    import fastjsonschema

    identity = [KUBE_VERSION, api_version, kind, _CACHE_FORMAT, fastjsonschema.VERSION, sys.implementation.cache_tag]
    for path in _sources(api_version, kind):
        stat = path.stat()
        identity += [str(path), stat.st_size, stat.st_mtime_ns]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]


def _compile(schema: dict[str, Any]) -> Any:
    """The compiled code object of a validator for ``schema``: no defaults filled into the object and
    no ``format`` assertions, as jsonschema checks them (formats are annotations unless asked)."""
    import fastjsonschema

    schema = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
    source = fastjsonschema.compile_to_code(schema, handlers={"http": _no_fetch, "https": _no_fetch}, use_default=False,
                                            use_formats=False, detailed_exceptions=False)
    return compile(source, "<tgictl schema>", "exec")


def _no_fetch(uri: str) -> Any:
    raise ValueError(f"schema reference {uri} is not local")


def _load_cached(path: Path) -> Any | None:
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def _store(path: Path, code: Any) -> None:
    """Write atomically (renders may run side by side); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
            out.write(marshal.dumps(code))
        os.replace(out.name, path)
    except OSError:
        pass


@functools.cache
def _check(api_version: str, kind: str) -> Check | None:
    """The kind's compiled validator, from the disk cache when its schema files are unchanged."""
    cached = cache_dir() / f"{_cache_key(api_version, kind)}.marshal"
    code = _load_cached(cached)
    if code is None:
        found = _schema(api_version, kind)
        if found is None:
            return None
        code = _compile(found[0])
        _store(cached, code)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - code compiled here from the schema, or read back from our own cache
    check: Check = namespace["validate"]
    return check


@functools.cache
def _validator(api_version: str, kind: str) -> Any:
    """jsonschema's validator for the kind: slower, but it lists every violation with its path."""
    import jsonschema

    found = _schema(api_version, kind)
    if found is None:
        return None
    schema, draft = found
    return (jsonschema.Draft202012Validator if draft == "2020-12" else jsonschema.Draft7Validator)(schema)


def prepare() -> None:
    """Import the compiled validators' runtime now (called while helm renders)."""
    import fastjsonschema  # noqa: F401


def checkable(obj: dict[str, Any]) -> bool:
    """Whether this object can be schema-checked here: core kinds always (their schemas are
    packaged); custom resources when a CRD directory is at hand. Without one (an installed
    tgictl away from the repository) custom resources go unchecked, and render says so."""
    return CRDS_DIR.is_dir() or _core_file(obj.get("apiVersion", ""), obj.get("kind", "")).is_file()


def problems(obj: dict[str, Any]) -> list[str]:
    """Schema violations of one object, as ``field.path: message`` lines (none when not checkable)."""
    if not checkable(obj):
        return []
    import fastjsonschema

    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    check = _check(api_version, kind)
    if check is None:
        return [f"no schema for {kind} {api_version} (Kubernetes {KUBE_VERSION} or {CRDS_DIR})"]
    try:
        check(obj)
        return []
    except fastjsonschema.JsonSchemaException as rejected:
        return _all_problems(obj) or [str(rejected)]


def _all_problems(obj: dict[str, Any]) -> list[str]:
    validator = _validator(obj.get("apiVersion", ""), obj.get("kind", ""))
    out = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        out.append(f"{path}: {error.message}")
    return out
