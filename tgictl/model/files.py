"""Find a model's own files and read what sizing needs, without loading weights.

Sources, in order: a local model directory; a Hugging Face cache (a
``models--org--name`` folder or a cache root holding one); the Hub, through
``huggingface_hub``, only when asked (``allow_hub``) and reachable. From them
we read ``config.json``, ``generation_config.json``, ``tokenizer_config.json``
and the safetensors headers: an 8-byte little-endian length, then that many
bytes of JSON naming each tensor's dtype, shape and byte range.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tgictl.errors import Problem, SpecError
from tgictl.model import gguf as gguf_file

# Bytes per element for each safetensors dtype.
DTYPE_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1, "BOOL": 1,
}
# A header larger than this is not a safetensors header (the format caps it at 100 MB).
MAX_HEADER = 100_000_000


@dataclass(frozen=True)
class TensorStats:
    """Totals over every tensor in a checkpoint's safetensors headers."""

    tensors: int
    elements: int
    bytes: int
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelFiles:
    """What was read from one model: its configs and (when present) tensor totals."""

    source: str  # where the files came from, for reports
    config: dict[str, Any]
    generation_config: dict[str, Any]
    tokenizer_config: dict[str, Any]
    tensors: TensorStats | None
    gguf: gguf_file.Header | None = None  # a GGUF file's header (llama.cpp), which stands for all of the above

    @property
    def model_max_length(self) -> int | None:
        value = self.tokenizer_config.get("model_max_length")
        # Tokenizers without a limit store a huge sentinel (1e30).
        return int(value) if isinstance(value, (int, float)) and value < 1e9 else None


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of one .safetensors file (the weights are not read)."""
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) != 8:
            raise SpecError([Problem("", "file too short for a safetensors header")], str(path))
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER:
            raise SpecError([Problem("", f"header length {length} is not plausible for safetensors")], str(path))
        raw = handle.read(length)
    try:
        header: dict[str, Any] = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SpecError([Problem("", f"safetensors header is not JSON: {err}")], str(path)) from None
    problems = _header_problems(header)
    if problems:
        raise SpecError(problems, str(path))
    return header


def _header_problems(header: Any) -> list[Problem]:
    """What makes a header unreadable as safetensors: an object of tensor name -> dtype and shape."""
    if not isinstance(header, dict):
        return [Problem("", f"safetensors header must be a JSON object of tensors, got {type(header).__name__}")]
    problems = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        if (not isinstance(info, dict) or not isinstance(info.get("dtype"), str) or not isinstance(shape, list)
                or not all(type(d) is int and d >= 0 for d in shape)):
            problems.append(Problem(name if name.isprintable() else repr(name),
                                    "not a tensor entry: needs a dtype name and a shape of non-negative integers"))
    return problems[:3]  # a broken file's first few say enough


def tensor_stats(headers: list[dict[str, Any]]) -> TensorStats:
    """Sum tensor counts, elements and bytes over headers."""
    count = elements = total = 0
    by_dtype: dict[str, int] = {}
    for header in headers:
        for name, info in header.items():
            if name == "__metadata__":
                continue
            n = 1
            for dim in info["shape"]:
                n *= dim
            size = n * DTYPE_BYTES.get(info["dtype"], 2)
            count += 1
            elements += n
            total += size
            by_dtype[info["dtype"]] = by_dtype.get(info["dtype"], 0) + size
    return TensorStats(count, elements, total, dict(sorted(by_dtype.items())))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SpecError([Problem("", f"not valid JSON: {err}")], str(path)) from None
    if not isinstance(data, dict):
        raise SpecError([Problem("", f"must be a JSON object, got {type(data).__name__}")], str(path))
    return data


def read_directory(directory: Path, source: str | None = None) -> ModelFiles:
    """Read a directory laid out like a Hub snapshot."""
    config = _read_json(directory / "config.json")
    if not config:
        raise SpecError([Problem("", "no config.json: not a model directory")], str(directory))
    weights = sorted(directory.glob("*.safetensors"))
    stats = tensor_stats([read_safetensors_header(p) for p in weights]) if weights else None
    return ModelFiles(
        source=source or str(directory),
        config=config,
        generation_config=_read_json(directory / "generation_config.json"),
        tokenizer_config=_read_json(directory / "tokenizer_config.json"),
        tensors=stats,
    )


def read_gguf(path: Path) -> ModelFiles:
    """Read a GGUF file's header: llama.cpp's one file holds the config and the weights."""
    header = gguf_file.read_header(path)
    stats = TensorStats(len(header.tensors), sum(t.elements for t in header.tensors), header.bytes,
                        _bytes_by_type(header.tensors))
    return ModelFiles(source=str(path), config={}, generation_config={}, tokenizer_config={}, tensors=stats, gguf=header)


def _bytes_by_type(tensors: tuple[gguf_file.Tensor, ...]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for tensor in tensors:
        totals[tensor.type_name] = totals.get(tensor.type_name, 0) + tensor.bytes
    return dict(sorted(totals.items()))


def _snapshot(cache_root: Path, model: str, revision: str | None) -> Path | None:
    """The snapshot folder holding ``model``'s config.json at ``revision`` (a branch, tag or
    commit; main when unset) in one cache root, resolved by huggingface_hub's own lookup
    (refs/<revision>, then a commit folder)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model, "config.json", cache_dir=cache_root, revision=revision)
    return Path(found).parent if isinstance(found, str) else None


def hub_cache_dirs() -> list[Path]:
    """The Hugging Face cache root, by huggingface_hub's rules: $HF_HUB_CACHE, else
    $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
    Read from the environment on each call (huggingface_hub.constants fixes it at import)."""
    if cache := os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return [Path(cache).expanduser()]
    xdg_cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    home = os.environ.get("HF_HOME") or str(Path(xdg_cache) / "huggingface")
    return [Path(home).expanduser() / "hub"]


def _cache_entry_repo(entry: Path) -> tuple[Path, str] | None:
    """(cache root, repo id) of a ``models--org--name`` folder."""
    if not entry.name.startswith("models--"):
        return None
    return entry.parent, entry.name.removeprefix("models--").replace("--", "/")


def find_local(model: str, revision: str | None = None) -> ModelFiles | None:
    """A model directory, a cache entry, or a Hub id found in a local cache; None if absent."""
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return read_gguf(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return read_directory(path)
        if (entry := _cache_entry_repo(path)) and (snapshot := _snapshot(*entry, revision)):
            return read_directory(snapshot, f"{path} @ {snapshot.name}")
        raise SpecError([Problem("", "neither a model directory (config.json) nor a Hugging Face cache entry")], str(path))
    if "/" in model and not model.startswith(("/", ".")):
        for root in hub_cache_dirs():
            if (root / ("models--" + model.replace("/", "--"))).is_dir() and (snapshot := _snapshot(root, model, revision)):
                return read_directory(snapshot, f"{root / ('models--' + model.replace('/', '--'))} @ {snapshot.name}")
    return None


def read_path(path: str, revision: str | None = None) -> ModelFiles:
    """A model directory or cache entry the user named; an error if it is neither."""
    directory = Path(path).expanduser()
    if directory.is_file() and directory.suffix.lower() == ".gguf":
        return read_gguf(directory)
    if not directory.is_dir():
        raise SpecError([Problem("spec.model.files", f"{path}: no such directory (or .gguf file)")])
    found = find_local(str(directory), revision)
    assert found is not None  # find_local raises for a directory it cannot read
    return found


def _check_reachable(endpoint: str, model: str) -> None:
    """Fail in seconds when the Hub cannot be reached, instead of after the
    client's retries with backoff (about a minute per file)."""
    import requests

    try:
        requests.head(endpoint, timeout=5)
    except requests.RequestException as err:
        raise SpecError([Problem("", f"the Hub is unreachable at {endpoint} ({type(err).__name__}); "
                                     "pass a model directory or a cache")], model) from None


def fetch_from_hub(model: str, revision: str | None = None) -> ModelFiles:
    """Read configs and safetensors headers from the Hub (ranged reads; no weights downloaded)."""
    try:
        import huggingface_hub
        from huggingface_hub import errors as hub_errors
    except ImportError:  # pragma: no cover - a declared dependency
        raise SpecError([Problem("", "huggingface_hub is not installed")], model) from None
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise SpecError([Problem("", "not in a local Hugging Face cache and HF_HUB_OFFLINE=1; pass a model directory")], model)
    from huggingface_hub import constants as hub_constants

    _check_reachable(hub_constants.ENDPOINT, model)
    try:
        configs = {}
        for name in ("config.json", "generation_config.json", "tokenizer_config.json"):
            try:
                configs[name] = json.loads(Path(huggingface_hub.hf_hub_download(model, name, revision=revision)).read_text())
            except hub_errors.EntryNotFoundError:
                configs[name] = {}
        metadata = huggingface_hub.get_safetensors_metadata(model, revision=revision)
    except hub_errors.GatedRepoError:
        raise SpecError([Problem("", "gated model: accept its licence on the Hub and set HF_TOKEN")], model) from None
    except hub_errors.RepositoryNotFoundError:
        raise SpecError([Problem("", "no such model on the Hub (or it is private: set HF_TOKEN)")], model) from None
    except (hub_errors.LocalEntryNotFoundError, OSError) as err:
        raise SpecError([Problem("", f"the Hub is unreachable ({type(err).__name__}); pass a model directory or a cache")], model) from None
    headers = [
        {name: {"dtype": info.dtype, "shape": info.shape} for name, info in file.tensors.items()}
        for file in metadata.files_metadata.values()
    ]
    return ModelFiles(f"hub:{model}", configs["config.json"], configs["generation_config.json"],
                      configs["tokenizer_config.json"], tensor_stats(headers))


def resolve(model: str, revision: str | None = None, *, allow_hub: bool = False) -> ModelFiles:
    """Find a model's files locally, or on the Hub when allowed; a clear error otherwise."""
    found = find_local(model, revision)
    if found is not None:
        return found
    if allow_hub:
        return fetch_from_hub(model, revision)
    raise SpecError([Problem("", "not a model directory and not in a local Hugging Face cache: pass --hub to read its config "
                                 "and safetensors headers from the Hub, or give a directory holding them (in a spec: model.files)")],
                    model)
