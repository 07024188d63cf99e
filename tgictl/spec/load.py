"""Read a tgi.yaml into a validated ``Spec``, or fail with every problem at once.

Pydantic's errors are rewritten into ``Problem`` lines that name the YAML
path (``spec.serving.maxTotalTokens``) and say what is allowed, so a user
never sees a traceback or a pydantic URL. Engine-specific rules run after
the schema, so they only ever see well-typed specs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tgictl.errors import Problem, SpecError, not_utf8
from tgictl.spec.model import PATTERN_MEANS, Spec


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the field at ``loc`` (to list its allowed keys)."""
    model: Any = Spec
    for item in loc:
        if isinstance(item, int):
            continue
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        if item not in fields:
            return model
        annotation = fields[item].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def _describe(error: ErrorDetails) -> Problem:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        allowed = sorted(f.alias or n for n, f in owner.model_fields.items()) if owner else []
        message = "unknown field" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    elif kind == "literal_error":
        message = f"got {error['input']!r}; allowed: {error['ctx']['expected']}"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        message = f"must be {PATTERN_MEANS.get(pattern, f'text matching {pattern}')}, got {error['input']!r}"
    elif kind.endswith("_type"):
        expected = kind.removesuffix("_type").replace("_", " ")
        message = f"must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, got {type(error['input']).__name__} {error['input']!r}"
    else:
        message = error["msg"].removeprefix("Value error, ")
    return Problem(_field_path(loc), message)


def parse(document: Any, source: str = "spec") -> Spec:
    """Validate an already-parsed YAML document."""
    if not isinstance(document, dict):
        raise SpecError([Problem("", "the spec must be a YAML mapping with apiVersion, kind, metadata and spec")], source)
    try:
        spec = Spec.model_validate(document)
    except ValidationError as err:
        # One line per field: pydantic reports each union branch separately.
        problems = list(dict.fromkeys(_describe(e) for e in err.errors(include_url=False)))
        raise SpecError(problems, source) from None
    from tgictl.engines import engine_for  # engines import the spec, not the reverse

    try:
        problems = engine_for(spec).problems(spec)
    except SpecError as err:
        problems = err.problems
    if problems:
        raise SpecError(problems, source)
    return spec


class _UniqueKeysLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping: YAML calls keys unique, and PyYAML
    silently keeps the last, so `metadata:` twice once named the release after the second."""


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(f"line {again.line + 1}: {key!r} is given twice (first on line {first.line + 1}): YAML keeps only the "
                         "last; remove one")


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Mark] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (list, dict)):
            continue  # unhashable: construct_mapping below says so
        if key in seen:
            raise _DuplicateKey(key, seen[key], key_node.start_mark)
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=deep)


_UniqueKeysLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _yaml_problem(err: yaml.YAMLError) -> str:
    if isinstance(err, _DuplicateKey):
        return str(err)
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    reason = getattr(err, "problem", None) or str(err)
    if isinstance(err, yaml.composer.ComposerError) and "another document" in reason:
        return f"{where}a second YAML document: one spec per file (give a directory for several)"
    return f"not valid YAML: {where}{reason}"


def load_text(text: str, source: str = "spec") -> Spec:
    """Parse YAML text into a validated spec."""
    try:
        document = yaml.load(text, Loader=_UniqueKeysLoader)  # noqa: S506  # a SafeLoader
    except yaml.YAMLError as err:
        raise SpecError([Problem("", _yaml_problem(err))], source) from None
    return parse(document, source)


def load_file(path: str | Path) -> Spec:
    """Read and validate a spec file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError([Problem("", f"cannot read: {err.strerror}")], str(file)) from None
    except UnicodeDecodeError as err:
        raise SpecError([Problem("", not_utf8(err))], str(file)) from None
    spec = load_text(text, str(file))
    files = spec.spec.model.files
    if files and not Path(files).expanduser().is_absolute():
        # model.files is relative to the spec, not to wherever tgictl runs.
        model = spec.spec.model.model_copy(update={"files": str((file.parent / files).resolve())})
        spec = spec.model_copy(update={"spec": spec.spec.model_copy(update={"model": model})})
    return spec


def in_namespace(spec: Spec, namespace: str | None) -> Spec:
    """The spec with metadata.namespace replaced when the command line names one (-n)."""
    if not namespace:
        return spec
    return spec.model_copy(update={"metadata": spec.metadata.model_copy(update={"namespace": namespace})})
