"""Read a GGUF file's header: its metadata and its tensor table, not its weights.

A GGUF file (ggml-org/ggml docs/gguf.md) starts with ``GGUF``, a version, the
tensor and metadata counts; then the metadata as typed key/value pairs; then
one entry per tensor (name, shape, ggml type, offset). A tensor's size follows
from its type's block: ``elements / block_elements * block_bytes``.

Read here, not with the ``gguf`` package: that one memory-maps the file and
needs numpy, which the product does not otherwise carry; the header is small
and sequential. tests/unit/test_gguf.py checks this reader against ``gguf``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tgictl.errors import Problem, SpecError
from tgictl.model.architectures import ModelDims

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)  # llama.cpp refuses version 1 ("GGUFv1 is no longer supported")
DEFAULT_ALIGNMENT = 32  # of the data section, unless general.alignment says otherwise

# ggml type id -> (name, elements per block, bytes per block): gguf-py's GGML_QUANT_SIZES
# at llama.cpp build b11434 (gguf-py/gguf/constants.py).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18), 42: ("Q2_0", 64, 18),
}

# general.file_type -> its name as llama-quantize gives it: gguf-py's LlamaFileType at build b11434.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M",
    13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS",
    21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4",
    40: "Q1_0", 41: "Q2_0",
}

# Metadata value types: id -> struct format of a scalar (8 = string, 9 = array are read apart).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# Arrays longer than this (a tokenizer's vocabulary) are kept as their length only.
_KEPT_ARRAY = 1024


@dataclass(frozen=True)
class ArrayLength:
    """A long metadata array, read past: only how many items it has."""

    items: int


@dataclass(frozen=True)
class Tensor:
    name: str
    type_name: str
    elements: int
    bytes: int

    @property
    def layer(self) -> int | None:
        """The repeating layer ``blk.N.…`` this tensor belongs to, if any."""
        parts = self.name.split(".")
        return int(parts[1]) if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit() else None


@dataclass(frozen=True)
class Header:
    """What a GGUF file says of itself."""

    version: int
    metadata: dict[str, Any]
    tensors: tuple[Tensor, ...]

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def arch_value(self, key: str) -> Any:
        """A per-architecture key (``llama.block_count`` for ``block_count``)."""
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tensors)

    def layer_bytes(self) -> list[int]:
        """Bytes of each repeating layer's tensors, by layer index."""
        sizes = [0] * (1 + max((t.layer for t in self.tensors if t.layer is not None), default=-1))
        for tensor in self.tensors:
            if tensor.layer is not None:
                sizes[tensor.layer] += tensor.bytes
        return sizes

    def output_bytes(self) -> int:
        """The output layer (its norm and head; a tied head copies the token embedding)."""
        names = {t.name: t.bytes for t in self.tensors}
        head = names.get("output.weight", names.get("token_embd.weight", 0))
        return head + sum(b for n, b in names.items() if n.startswith("output_norm."))


class _Reader:
    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self.handle, self.path = handle, path

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        raw = self.handle.read(size)
        if len(raw) != size:
            raise SpecError([Problem("", "the GGUF header ends early: the file is truncated")], str(self.path))
        return struct.unpack(fmt, raw)[0]

    def string(self) -> str:
        return self.handle.read(self.unpack("<Q")).decode("utf-8", errors="replace")

    def value(self, kind: int) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.unpack("<I"), self.unpack("<Q")
            return [self.value(item_kind) for _ in range(count)] if count <= _KEPT_ARRAY else self._skip(item_kind, count)
        if kind not in _SCALARS:
            raise SpecError([Problem("", f"unknown GGUF metadata type {kind}")], str(self.path))
        return self.unpack(_SCALARS[kind])

    def _skip(self, item_kind: int, count: int) -> ArrayLength:
        if item_kind == _STRING:
            for _ in range(count):
                self.handle.seek(self.unpack("<Q"), 1)
        elif item_kind in _SCALARS:
            self.handle.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
        else:
            for _ in range(count):
                self.value(item_kind)
        return ArrayLength(count)

    def tensor(self) -> tuple[Tensor, int]:
        """One tensor's entry, and where its data ends in the data section."""
        name = self.string()
        shape = [self.unpack("<Q") for _ in range(self.unpack("<I"))]
        type_id = self.unpack("<I")
        offset = self.unpack("<Q")
        if type_id not in GGML_TYPES:
            raise SpecError([Problem("", f"tensor {name!r} has ggml type {type_id}, unknown to llama.cpp build b11434")], str(self.path))
        type_name, block, block_bytes = GGML_TYPES[type_id]
        elements = 1
        for dim in shape:
            elements *= dim
        size = elements // block * block_bytes
        return Tensor(name, type_name, elements, size), offset + size


def file_type(header: Header) -> str | None:
    """The quantization the file was made with (``Q4_K_M``), when it says."""
    value = header.metadata.get("general.file_type")
    return FILE_TYPES.get(value) if isinstance(value, int) else None


def read_header(path: Path) -> Header:
    """The header of one GGUF file; a SpecError naming the file if it is not one llama.cpp reads."""
    with path.open("rb") as handle:
        reader = _Reader(handle, path)
        if handle.read(4) != MAGIC:
            raise SpecError([Problem("", "not a GGUF file (no GGUF magic): llama.cpp reads only GGUF")], str(path))
        version = reader.unpack("<I")
        if version not in SUPPORTED_VERSIONS:
            raise SpecError([Problem("", f"GGUF version {version}: llama.cpp reads versions 2 and 3")], str(path))
        tensor_count, kv_count = reader.unpack("<Q"), reader.unpack("<Q")
        metadata = {}
        for _ in range(kv_count):
            key = reader.string()
            metadata[key] = reader.value(reader.unpack("<I"))
        entries = [reader.tensor() for _ in range(tensor_count)]
        _check_complete(path, handle.tell(), int(metadata.get("general.alignment", DEFAULT_ALIGNMENT)), entries)
    return Header(version, metadata, tuple(tensor for tensor, _ in entries))


def _check_complete(path: Path, header_end: int, alignment: int, entries: list[tuple[Tensor, int]]) -> None:
    """The data section starts at the next ``alignment`` after the header; a file shorter than
    its last tensor's end is a cut-off download (llama.cpp: "data is not within the file bounds")."""
    needed = -(-header_end // alignment) * alignment + max((end for _, end in entries), default=0)
    size = path.stat().st_size
    if size < needed:
        raise SpecError([Problem("", f"the GGUF file is truncated: {size} of its {needed} bytes (an interrupted download?)")],
                        str(path))


def _largest(value: Any) -> int:
    """A count some architectures give per layer (an array): the largest bounds the cache."""
    if isinstance(value, list):
        return max((int(v) for v in value), default=0)
    return int(value or 0)


def dims(header: Header, source: str) -> ModelDims:
    """The planner's dimensions from a GGUF's metadata (llama.cpp's ``%s.…`` keys, src/llama-arch.cpp)."""
    missing = [key for key in ("block_count", "embedding_length", "attention.head_count") if header.arch_value(key) is None]
    if not header.architecture or missing:
        what = "general.architecture" if not header.architecture else ", ".join(f"{header.architecture}.{k}" for k in missing)
        raise SpecError([Problem("", f"the GGUF metadata lacks {what}: not a model llama.cpp can load")], source)
    hidden, heads = int(header.arch_value("embedding_length")), _largest(header.arch_value("attention.head_count"))
    tokens = header.metadata.get("tokenizer.ggml.tokens")
    vocab = header.arch_value("vocab_size") or (tokens.items if isinstance(tokens, ArrayLength) else len(tokens or []))
    return ModelDims(
        family=header.architecture,
        hidden=hidden,
        layers=int(header.arch_value("block_count")),
        heads=heads,
        kv_heads=_largest(header.arch_value("attention.head_count_kv")) or heads,
        head_dim=int(header.arch_value("attention.key_length") or hidden // heads),
        intermediate=_largest(header.arch_value("feed_forward_length")),
        vocab=int(vocab),
        context=int(header.arch_value("context_length") or 0),
        tied_embeddings=not any(t.name == "output.weight" for t in header.tensors),
        experts=int(header.arch_value("expert_count") or 0),
        experts_per_token=int(header.arch_value("expert_used_count") or 0),
        expert_intermediate=int(header.arch_value("expert_feed_forward_length") or 0),
        shared_experts=int(header.arch_value("expert_shared_count") or 0),
        dense_layers=int(header.arch_value("leading_dense_block_count") or 0),
        # No sliding_window: in the families that set attention.sliding_window (Gemma 2/3, gpt-oss)
        # it bounds only some layers, and bounding all would promise more cache than there is.
    )
