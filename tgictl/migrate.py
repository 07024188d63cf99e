"""Migrate a deployment to another engine: the equivalent spec, and a report of
what maps exactly, approximately (with the difference), or not at all.

Input is a spec, or a TGI container's args list or env block (read back
through TGI's flag table). The target engine's own validation decides what
cannot move: every field it refuses is dropped from the new spec and
reported with the engine's reason, so nothing disappears silently.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from pydantic.alias_generators import to_camel

from tgictl.engines import get
from tgictl.engines.tgi import DIRECT_FLAGS
from tgictl.errors import Problem, SpecError, UsageError
from tgictl.spec.load import parse
from tgictl.spec.model import API_VERSION, KIND, SECRET_ENV, Spec

@dataclass(frozen=True)
class Row:
    field: str  # camelCase path under spec
    status: str  # exact | approximate | not mapped | changed
    note: str


@dataclass(frozen=True)
class Migration:
    spec: dict[str, Any]  # the new spec document
    rows: list[Row]


def _set_fields(document: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted camelCase paths of every leaf under ``spec`` that the document sets."""
    paths = []
    for key, value in document.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value and key not in ("nodeSelector", "affinity", "podAnnotations", "podLabels", "hfTokenSecret",
                                                             "apiKeySecret", "accelerator"):
            paths.extend(_set_fields(value, path))
        else:
            paths.append(path)
    return paths


def _drop(document: dict[str, Any], dotted: str) -> None:
    parts = dotted.split(".")
    node = document
    for part in parts[:-1]:
        node = node.get(part, {})
    node.pop(parts[-1], None)


def _present(document: dict[str, Any], dotted: str) -> bool:
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _snake(path: str) -> str:
    return ".".join(re.sub(r"([A-Z])", r"_\1", p).lower() for p in path.split("."))


def migrate(spec: Spec, target: str, *, unmapped: list[Row] | None = None, model: dict[str, str] | None = None) -> Migration:
    """The spec for ``target`` with a row per set field, and rows for inputs already unmapped.

    ``model`` (camelCase keys: id, ggufFile) replaces the source's model where the target
    cannot load it: llama.cpp needs a GGUF of the safetensors model TGI and vLLM serve."""
    get(target)  # a clear error for an unknown engine
    document = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    body = document["spec"]
    source = spec.spec.engine.name
    rows: list[Row] = list(unmapped or [])
    given = {key: value for key, value in (model or {}).items() if value}
    for key, value in given.items():
        rows.append(Row(f"model.{key}", "changed", f"{body['model'].get(key) or 'unset'} -> {value} (given for {target})"))
    # The engine goes right after the model, where people look for it.
    document["spec"] = body = {"model": {**body.pop("model"), **given}, "engine": {"name": target}, **body}
    if "image" in body and body["image"].get("repository"):
        rows.append(Row("image", "changed", f"{body['image']['repository']} is a {source} image: the {target} default is used"))
        body.pop("image")
    dropped: dict[str, str] = {}
    for _ in range(10):  # each round drops what the target refuses; two rounds suffice in practice
        try:
            parse(document)
            break
        except SpecError as err:
            blocking = [p for p in err.problems if not _present(body, p.path.removeprefix("spec."))]
            if blocking:
                # Nothing to drop: the spec needs a decision only its owner can make.
                # A required field dropped last round (model.id) is reported for why it was dropped.
                raise SpecError([Problem(p.path, f"cannot migrate to {target}: {_blocking_reason(p, dropped)}")
                                 for p in blocking]) from None
            for problem in err.problems:
                field = problem.path.removeprefix("spec.")
                dropped[field] = problem.message
                _drop(body, field)
    for field, reason in dropped.items():
        rows.append(Row(field, "not mapped", reason))
    approximate: dict[str, str] = get(target).part("migration").APPROXIMATE
    for field in _set_fields(body):
        if field.removeprefix("model.") in given:
            continue  # reported as changed above
        if _snake(field) in approximate or _snake(field.rsplit(".", 1)[0]) in approximate:
            status, note = "approximate", approximate.get(_snake(field)) or approximate[_snake(field.rsplit(".", 1)[0])]
        else:
            status, note = "exact", ""
        rows.append(Row(field, status, note))
    order = {"not mapped": 0, "changed": 1, "approximate": 2, "exact": 3}
    return Migration(document, sorted(rows, key=lambda r: (order[r.status], r.field)))


def _blocking_reason(problem: Problem, dropped: dict[str, str]) -> str:
    field = problem.path.removeprefix("spec.")
    reason = dropped.get(field, problem.message)
    return f"{reason}; give the model it loads with --model (and --gguf-file)" if field == "model.id" else reason


def _typed(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def spec_from_tgi(text: str, name: str) -> tuple[Spec, list[Row]]:
    """A TGI spec read back from container args (``--flag value`` / ``--flag=value``,
    one string or a YAML/JSON list) or an env block (``NAME=value`` lines)."""
    import yaml

    settings: dict[str, str | bool] = {}
    rows: list[Row] = []
    loaded = yaml.safe_load(text) if text.strip().startswith("[") or text.strip().startswith("- ") else None
    tokens = [str(t) for t in loaded] if isinstance(loaded, list) else shlex.split(text)
    if tokens and all("=" in t and not t.startswith("-") for t in tokens):
        for token in tokens:  # env block: MAX_TOTAL_TOKENS=4096
            key, _, value = token.partition("=")
            flag = key.lower().replace("_", "-")
            if key in SECRET_ENV:
                rows.append(Row(f"env {key}", "not mapped",
                                "a credential: reference it from a Secret (cache.hfTokenSecret or serving.apiKeySecret)"))
            elif flag in DIRECT_FLAGS or flag in ("hostname", "port"):
                settings[flag] = value
            else:
                rows.append(Row(f"env {key}", "not mapped", "not a launcher setting tgictl models; keep it in extraEnv if it matters"))
    else:
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if not token.startswith("--"):
                raise UsageError(f"expected a --flag at {token!r}")
            flag, has_value, value = token[2:].partition("=")
            if not has_value:
                following = tokens[index + 1] if index + 1 < len(tokens) else None
                if following is not None and not following.startswith("--"):
                    value, index = following, index + 1
                else:
                    value = "true"
            settings[flag] = value
            index += 1
    body: dict[str, Any] = {"model": {}}
    for flag, setting in settings.items():
        if flag in ("hostname", "port"):
            continue  # the chart owns the listening address
        if flag == "api-key":
            rows.append(Row("--api-key", "not mapped", "a credential: put it in a Secret and set serving.apiKeySecret"))
            continue
        path = DIRECT_FLAGS.get(flag)
        if path is None:
            rows.append(Row(f"--{flag}", "not mapped", "a TGI flag tgictl does not model; carry it in extraArgs if the target has it"))
            continue
        typed = [int(v) for v in str(setting).split(",")] if flag == "cuda-graphs" else _typed(str(setting))
        if flag == "model-id":
            typed = str(setting)
        node = body
        section, _, leaf = path.rpartition(".")
        for part in section.split(".") if section else []:
            node = node.setdefault(to_camel(part), {})
        node[to_camel(leaf)] = typed
    shards = body.get("serving", {}).pop("numShard", None)
    if shards:
        body["hardware"] = {"accelerator": {"type": "a100-80gb", "count": shards}}
        rows.append(Row("hardware.accelerator", "changed",
                        f"{shards} GPUs from --num-shard; the GPU type is a guess (a100-80gb): set the real one"))
    document = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": body}
    return parse(document, "TGI arguments"), rows
