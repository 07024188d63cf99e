"""tgictl's GGUF header reader against ggml-org's own ``gguf`` package: the same
tensors, sizes and metadata from files the package writes, quantized ones included."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from support.data import document
from support.gguf_files import write_llama_gguf
from support.tiny_model import write_tiny_llama
from tgictl.cli.main import app
from tgictl.errors import SpecError
from tgictl.model import gguf as reader

QUANTIZED = (gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_0, gguf.GGMLQuantizationType.F16,
             gguf.GGMLQuantizationType.BF16)


def write_mixed(path: Path) -> Path:
    """A GGUF with quantized tensors, a per-layer KV head count and a vocabulary long enough to be skipped."""
    writer = gguf.GGUFWriter(str(path), "qwen3")
    writer.add_block_count(2)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_head_count_kv([2, 1])
    writer.add_context_length(4096)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_token_list([f"t{i}" for i in range(3000)])
    writer.add_float32("qwen3.rope.freq_base", 1e6)
    rng = np.random.default_rng(0)
    for layer, qtype in enumerate(QUANTIZED):
        data = rng.standard_normal((64, 256)).astype(np.float32)
        writer.add_tensor(f"blk.{layer % 2}.w{layer}", gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    writer.add_tensor("token_embd.weight", rng.standard_normal((3000, 64)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("make", [write_mixed, write_tiny_llama], ids=["quantized", "tiny-llama"])
def test_tensors_and_sizes_agree_with_ggufs_own_reader(tmp_path: Path, make: object) -> None:
    path = make(tmp_path / "model.gguf")  # type: ignore[operator]
    ours, theirs = reader.read_header(path), gguf.GGUFReader(str(path))
    assert [(t.name, t.elements, t.bytes) for t in ours.tensors] == \
        [(t.name, int(t.n_elements), int(t.n_bytes)) for t in theirs.tensors]
    assert ours.bytes == sum(int(t.n_bytes) for t in theirs.tensors)
    field = theirs.get_field("general.architecture")
    assert field is not None and ours.architecture == field.contents()


def test_metadata_scalars_arrays_and_a_skipped_vocabulary(tmp_path: Path) -> None:
    header = reader.read_header(write_mixed(tmp_path / "model.gguf"))
    assert header.version == 3
    assert header.arch_value("attention.head_count_kv") == [2, 1]
    assert header.arch_value("rope.freq_base") == pytest.approx(1e6)
    assert header.metadata["tokenizer.ggml.tokens"] == reader.ArrayLength(3000)
    assert reader.file_type(header) == "Q8_0"
    assert header.layer_bytes() == [sum(t.bytes for t in header.tensors if t.name.startswith(f"blk.{i}.")) for i in (0, 1)]


def test_dimensions_from_the_metadata(tmp_path: Path) -> None:
    header = reader.read_header(write_mixed(tmp_path / "model.gguf"))
    dims = reader.dims(header, "model.gguf")
    assert (dims.family, dims.layers, dims.hidden, dims.heads, dims.kv_heads, dims.head_dim, dims.vocab, dims.context) == \
        ("qwen3", 2, 64, 4, 2, 16, 3000, 4096)
    assert dims.tied_embeddings  # no output.weight: the head is the token embedding


# gguf 0.19.0 gives Q8_1 40 bytes a block; ggml-common.h at b11434 asserts 2 halves + 32 = 36
# (an intermediate type llama.cpp never stores in a file).
GGML_SOURCE_DIFFERS = {9}


def test_every_ggml_type_size_is_ggufs() -> None:
    known = {int(t): (t.name, *gguf.GGML_QUANT_SIZES[t]) for t in gguf.GGMLQuantizationType if t in gguf.GGML_QUANT_SIZES}
    shared = (known.keys() & reader.GGML_TYPES.keys()) - GGML_SOURCE_DIFFERS
    assert len(shared) >= 30
    assert {k: reader.GGML_TYPES[k] for k in shared} == {k: known[k] for k in shared}


@pytest.mark.parametrize(("content", "words"), [
    (b"lmgg" + b"\0" * 64, "not a GGUF file"),
    (b"GGUF" + (1).to_bytes(4, "little") + b"\0" * 16, "GGUF version 1"),
    (b"GGUF" + (3).to_bytes(4, "little") + (5).to_bytes(8, "little"), "truncated"),
])
def test_files_llama_cpp_would_refuse_are_named(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=words):
        reader.read_header(path)


ONE_L4 = {"accelerator": {"type": "l4", "count": 1}}


def llamacpp_spec(tmp_path: Path, model: Path, **spec: object) -> str:
    doc = document(model={"id": str(model), "files": str(model)}, engine={"name": "llamacpp"},
                   serving={"maxTotalTokens": 4096, "maxConcurrentRequests": 2}, **spec)
    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def validate(path: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["validate", "-f", path, "-o", "json"])
    return done.exit_code, done.stderr


def test_a_gguf_plans_from_its_own_header(tmp_path: Path) -> None:
    model = write_llama_gguf(tmp_path / "Llama-3.1-8B-Q4_K_M.gguf", "llama-3.1-8b")
    done = CliRunner().invoke(app, ["plan", "-f", llamacpp_spec(tmp_path, model, hardware=ONE_L4),
                                    "-o", "json"])
    plan = json.loads(done.stdout)
    assert done.exit_code == 0 and plan["parameters_source"] == "gguf" and plan["quantization"] == "Q4_K_M"
    assert plan["weight_bytes"] == reader.read_header(model).bytes and plan["context"] == 131072


def test_more_gpu_layers_than_the_gpus_hold_are_refused_naming_how_many_fit(tmp_path: Path) -> None:
    """Llama-3.1-70B at Q4_K (40 GB) on one L4: the output layer and 43 of 80 layers fit beside a 8192-token cache."""
    model = write_llama_gguf(tmp_path / "Llama-3.1-70B-Q4_K_M.gguf", "llama-3.1-70b")
    on_l4 = {**ONE_L4, "memory": "64Gi"}
    code, said = validate(llamacpp_spec(tmp_path, model, hardware=on_l4, features={"gpuLayers": 81}))
    assert code == 2 and said.count("\n") == 1, said
    fitting = int(said.split("at most ")[1].split()[0])
    assert "spec.features.gpuLayers: 81 layers put 39.2 GiB (weights and a 8192-token cache) on 1x l4" in said and 30 < fitting < 60
    assert validate(llamacpp_spec(tmp_path, model, hardware=on_l4, features={"gpuLayers": fitting}))[0] == 0
    assert f"{fitting + 1} layers put" in validate(llamacpp_spec(tmp_path, model, hardware=on_l4, features={"gpuLayers": fitting + 1}))[1]
    two = {**on_l4, "accelerator": {"type": "l4", "count": 2}}
    assert validate(llamacpp_spec(tmp_path, model, hardware=two, features={"gpuLayers": 81}))[0] == 0  # split over both
    planned = CliRunner().invoke(app, ["plan", "-f", llamacpp_spec(tmp_path, model, hardware=on_l4, features={"gpuLayers": fitting}),
                                       "-o", "json"])
    notes = json.loads(planned.stdout)["notes"]
    assert any(n.startswith(f"{fitting} of 81 layers on the GPUs (features.gpuLayers): the weights per shard are theirs") for n in notes)


def test_an_architecture_the_pinned_build_does_not_know_is_refused(tmp_path: Path) -> None:
    newer = write_llama_gguf(tmp_path / "next.gguf", "qwen3-8b", architecture="qwen9")
    code, said = validate(llamacpp_spec(tmp_path, newer, hardware=ONE_L4))
    assert code == 2 and "spec.image.tag: llama.cpp b11434 (the pinned server image) does not know the architecture 'qwen9'" in said
    known = write_llama_gguf(tmp_path / "qwen3.gguf", "qwen3-8b", architecture="qwen3")
    assert validate(llamacpp_spec(tmp_path, known, hardware=ONE_L4))[0] == 0
    pinned_elsewhere = llamacpp_spec(tmp_path, newer, hardware=ONE_L4, image={"tag": "server-cuda-b99999"})
    assert validate(pinned_elsewhere)[0] == 0  # another build's architectures are its own


def test_a_truncated_download_is_refused_before_deploy(tmp_path: Path) -> None:
    whole = write_tiny_llama(tmp_path / "whole.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: len(whole) // 2])
    code, said = validate(llamacpp_spec(tmp_path, cut, hardware={"cpu": "2", "memory": "2Gi"}))
    assert code == 2 and "the GGUF file is truncated" in said, said
