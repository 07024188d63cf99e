"""Rendered objects are checked by validators compiled with fastjsonschema and cached on disk;
jsonschema lists the violations. The two must agree on what is valid, and the cache must follow
the schema files it was compiled from."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tgictl.render import schemas

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "tests" / "golden" / "expected").glob("*.manifests.yaml"))


def rendered_objects() -> Iterator[dict[str, Any]]:
    for path in GOLDEN:
        yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


OBJECTS = list(rendered_objects())
KINDS = sorted({(o["apiVersion"], o["kind"]) for o in OBJECTS})


def jsonschema_valid(obj: dict[str, Any]) -> bool:
    return not list(schemas._validator(obj["apiVersion"], obj["kind"]).iter_errors(obj))


def compiled_valid(obj: dict[str, Any]) -> bool:
    import fastjsonschema

    check = schemas._check(obj["apiVersion"], obj["kind"])
    assert check is not None
    try:
        check(obj)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", spec) if obj["kind"] != "Pod" else spec
    return list(pod.get("containers", []))


Mutation = Callable[[dict[str, Any]], bool]  # changes the object in place; False when it does not apply


def unknown_top_field(obj: dict[str, Any]) -> bool:
    obj["spec" if "spec" in obj else "metadata"]["notAField"] = True
    return True


def label_as_number(obj: dict[str, Any]) -> bool:
    obj["metadata"].setdefault("labels", {})["app"] = 7
    return True


def container_unknown_field(obj: dict[str, Any]) -> bool:
    found = containers(obj)
    if found:
        found[0]["imagePulPolicy"] = "Always"
    return bool(found)


def container_without_name(obj: dict[str, Any]) -> bool:
    found = containers(obj)
    if found:
        del found[0]["name"]
    return bool(found)


def replicas_as_string(obj: dict[str, Any]) -> bool:
    if "replicas" not in obj.get("spec", {}):
        return False
    obj["spec"]["replicas"] = "2"
    return True


MUTATIONS = [unknown_top_field, label_as_number, container_unknown_field, container_without_name, replicas_as_string]


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name.split(".")[0])
def test_compiled_and_jsonschema_accept_every_rendered_object(path: Path) -> None:
    for obj in yaml.safe_load_all(path.read_text()):
        if obj:
            assert compiled_valid(obj) and jsonschema_valid(obj), f"{obj['kind']}/{obj['metadata']['name']}"


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.__name__)
def test_compiled_and_jsonschema_agree_on_mutations(mutation: Mutation) -> None:
    """Core kinds are strict (unknown fields fail), so each mutation must fail them; custom
    resources leave metadata and some objects open, where both must agree either way."""
    rejected = 0
    for obj in OBJECTS:
        broken = copy.deepcopy(obj)
        if not mutation(broken):
            continue
        where = f"{mutation.__name__} on {obj['kind']}/{obj['metadata']['name']}"
        assert compiled_valid(broken) == jsonschema_valid(broken), where
        if schemas._core_file(obj["apiVersion"], obj["kind"]).is_file():
            assert schemas.problems(broken), where
            rejected += 1
    assert rejected, f"{mutation.__name__} applies to no core object"


def test_problems_name_every_violation_with_its_path() -> None:
    deployment = copy.deepcopy(next(o for o in OBJECTS if o["kind"] == "Deployment"))
    deployment["spec"]["replicas"] = "2"
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    found = schemas.problems(deployment)
    assert found[0].startswith("spec.replicas: '2' is not of type 'integer'")
    assert any("imagePulPolicy" in line for line in found[1:])


RULE = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "r"},
        "spec": {"groups": [{"name": "g", "rules": [], "partial_response_strategy": "abort"}]}}
ROUTE_FILTER = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-a$b", "value": "1"}]}}


@pytest.mark.parametrize(("strategy", "valid"), [("abort", True), ("WARN", True), ("", True), ("never", False)])
def test_re2_flags_after_the_anchor_match_as_in_kubernetes(strategy: str, valid: bool) -> None:
    """prometheus-operator writes `^(?i)(abort|warn)?$`; Python needs the flag group first."""
    rule = copy.deepcopy(RULE)
    rule["spec"]["groups"][0]["partial_response_strategy"] = strategy
    assert compiled_valid(rule) is valid and jsonschema_valid(rule) is valid


def test_a_dollar_inside_a_character_set_stays_a_literal() -> None:
    """The Gateway API's header-name pattern allows `$`; fastjsonschema would make it `\\Z`."""
    route = next(o for o in OBJECTS if o["kind"] == "HTTPRoute")
    route = copy.deepcopy(route)
    route["spec"]["rules"][0]["filters"] = [ROUTE_FILTER]
    assert compiled_valid(route) and jsonschema_valid(route)
    route["spec"]["rules"][0]["filters"][0]["requestHeaderModifier"]["set"][0]["name"] = "x a"
    assert not compiled_valid(route) and not jsonschema_valid(route)


def test_python_patterns() -> None:
    assert schemas._python_pattern("^(?i)(abort|warn)?$") == "(?i)^(abort|warn)?$"
    assert schemas._python_pattern("^[a$]+$") == "^[a\\$]+$"
    assert schemas._python_pattern("^[]$]x$") == "^[]\\$]x$"  # "]" first in a set is a member
    assert schemas._python_pattern("a\\$b[^$]") == "a\\$b[^\\$]"


def compile_in_fresh_process(cache: Path, crds: Path) -> str:
    """Check a ServiceMonitor in a new interpreter; report whether it compiled or read the cache."""
    script = ("import sys; from tgictl.render import schemas\n"
              "compiled = []; real = schemas._compile\n"
              "schemas._compile = lambda s: compiled.append(1) or real(s)\n"
              "bad = {'apiVersion': 'monitoring.coreos.com/v1', 'kind': 'ServiceMonitor', 'metadata': {'name': 'x'},\n"
              "       'spec': {'selector': {}, 'endpoints': [{'port': 'http', 'interval': 15}]}}\n"
              "where = schemas.problems(bad)[0].split(':')[0]\n"
              "print('compiled' if compiled else 'cached', where)")
    env = {**os.environ, "TGICTL_CACHE_DIR": str(cache), "TGICTL_CRDS_DIR": str(crds)}
    return subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True).stdout.strip()


def test_compiled_validators_are_cached_until_their_schema_files_change(tmp_path: Path) -> None:
    crds = tmp_path / "crds"
    crds.mkdir()
    source = next(schemas.CRDS_DIR.rglob("monitoring.coreos.com_servicemonitors.yaml"))
    (crds / source.name).write_text(source.read_text())
    cache = tmp_path / "cache"
    assert compile_in_fresh_process(cache, crds) == "compiled spec.endpoints.0.interval"
    assert compile_in_fresh_process(cache, crds) == "cached spec.endpoints.0.interval"
    (crds / source.name).write_text(source.read_text() + "\n")  # the CRDs changed: compile again
    assert compile_in_fresh_process(cache, crds) == "compiled spec.endpoints.0.interval"
    for stored in (cache / "schemas").iterdir():  # a damaged cache file is compiled again, not trusted
        stored.write_bytes(b"\x00garbage")
    assert compile_in_fresh_process(cache, crds) == "compiled spec.endpoints.0.interval"


def test_an_unwritable_cache_still_validates(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    assert compile_in_fresh_process(blocker, schemas.CRDS_DIR) == "compiled spec.endpoints.0.interval"
