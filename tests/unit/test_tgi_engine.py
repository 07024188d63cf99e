"""TGI mapping: spec fields → launcher flags and env, and TGI's own cross-flag rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from support.data import MODELS, document
from tgictl.cli.main import app
from tgictl.engines import get
from tgictl.errors import SpecError
from tgictl.spec.load import parse

TGI = get("tgi")


def gpu(count: int = 1, type: str = "a100-80gb", **spec: Any) -> dict[str, Any]:
    return document(hardware={"accelerator": {"type": type, "count": count}}, **spec)


def problems_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(doc)
    return [str(p) for p in caught.value.problems]


def test_flags_map_every_serving_field() -> None:
    serving = {
        "maxInputTokens": 4000, "maxTotalTokens": 4096, "maxBatchPrefillTokens": 4096,
        "maxBatchTotalTokens": 65536, "maxConcurrentRequests": 64, "waitingServedRatio": 1.2,
        "maxWaitingTokens": 10, "maxBatchSize": 32, "maxBestOf": 1, "maxStopSequences": 2,
        "maxTopNTokens": 3, "maxClientBatchSize": 8, "payloadLimit": 4000000, "cudaGraphs": [1, 2, 4],
        "cudaMemoryFraction": 0.9, "quantize": "fp8", "kvCacheDtype": "fp8_e5m2", "speculate": 2,
        "ropeScaling": "dynamic", "ropeFactor": 2.0, "disableCustomKernels": True, "jsonLogs": True,
        "gracefulTerminationSeconds": 30,
    }
    flags = TGI.flags(parse(gpu(serving=serving, model={"id": "m/x", "revision": "abc", "trustRemoteCode": True})))
    assert flags == {
        "model-id": "m/x", "revision": "abc", "trust-remote-code": True, "num-shard": "1",
        "quantize": "fp8", "kv-cache-dtype": "fp8_e5m2", "max-input-tokens": "4000",
        "max-total-tokens": "4096", "max-batch-prefill-tokens": "4096", "max-batch-total-tokens": "65536",
        "max-concurrent-requests": "64", "waiting-served-ratio": "1.2", "max-waiting-tokens": "10",
        "max-batch-size": "32", "max-best-of": "1", "max-stop-sequences": "2", "max-top-n-tokens": "3",
        "max-client-batch-size": "8", "payload-limit": "4000000", "cuda-graphs": ["1", "2", "4"],
        "cuda-memory-fraction": "0.9", "speculate": "2", "rope-scaling": "dynamic", "rope-factor": "2",
        "disable-custom-kernels": True, "json-output": True, "usage-stats": "off",
        "graceful-termination-timeout": "30", "hostname": "0.0.0.0",
    }


def test_num_shard_follows_gpu_count() -> None:
    assert TGI.flags(parse(gpu(4, "h100-80gb")))["num-shard"] == "4"


def test_cpu_has_no_num_shard_and_no_cuda_graphs() -> None:
    flags = TGI.flags(parse(document()))
    assert "num-shard" not in flags
    assert flags["cuda-graphs"] == ["0"]


@pytest.mark.parametrize(("type", "suffix"), [("a100-80gb", ""), ("mi300x", "-rocm"), ("gaudi2", "-gaudi")])
def test_image_variant_per_vendor(type: str, suffix: str) -> None:
    assert TGI.image(parse(gpu(1, type))) == ("ghcr.io/huggingface/text-generation-inference", "3.3.5" + suffix)


def test_cpu_uses_intel_cpu_image() -> None:
    assert TGI.image(parse(document()))[1] == "3.3.5-intel-cpu"


def test_env_from_features_and_offline() -> None:
    doc = gpu(features={"attention": "flashinfer", "prefixCaching": False, "flashAttention": False},
              cache={"offline": True, "existingClaim": "w"}, extraEnv=[{"name": "LOG_LEVEL", "value": "info"}])
    assert TGI.env(parse(doc)) == {
        "ATTENTION": "flashinfer", "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "info",
        "PREFIX_CACHING": "0", "USE_FLASH_ATTENTION": "false",
    }


def test_drain_covers_router_and_shards() -> None:
    assert TGI.drain_seconds(parse(gpu(serving={"gracefulTerminationSeconds": 60}))) == 130


@pytest.mark.parametrize(
    ("serving", "path", "fragment"),
    [
        ({"maxInputTokens": 4096, "maxTotalTokens": 4096}, "spec.serving.maxInputTokens", "must be less than maxTotalTokens (4096)"),
        ({"maxTotalTokens": 8192, "maxBatchTotalTokens": 4096}, "spec.serving.maxTotalTokens", "at most maxBatchTotalTokens (4096)"),
        ({"maxBatchPrefillTokens": 8192, "maxBatchTotalTokens": 4096}, "spec.serving.maxBatchPrefillTokens", "at most maxBatchTotalTokens"),
        ({"dtype": "float16", "quantize": "awq"}, "spec.serving.dtype", "does not combine dtype with quantize"),
        ({"quantize": "bitsandbytes-nf4", "cudaGraphs": [1, 2]}, "spec.serving.cudaGraphs", "does not support CUDA graphs"),
    ],
)
def test_cross_flag_rules(serving: dict[str, Any], path: str, fragment: str) -> None:
    [problem] = problems_of(gpu(serving=serving))
    assert problem.startswith(path + ": ") and fragment in problem


def test_prefill_below_input_needs_chunking() -> None:
    serving = {"maxBatchPrefillTokens": 1000, "maxInputTokens": 2000}
    parse(gpu(serving=serving))  # A100: TGI prefills long prompts in chunks
    for doc in (gpu(1, "t4", serving=serving), gpu(1, "mi300x", serving=serving),
                gpu(serving=serving, features={"attention": "paged"})):
        [problem] = problems_of(doc)
        assert problem.startswith("spec.serving.maxBatchPrefillTokens: 1000 must be at least maxInputTokens (2000)")


def test_exl2_only_unsharded() -> None:
    [problem] = problems_of(gpu(2, serving={"quantize": "exl2"}))
    assert problem == "spec.serving.quantize: exl2 cannot be sharded; use 1 accelerator, not 2"


def test_shards_must_match_gpus() -> None:
    [problem] = problems_of(gpu(4, serving={"numShard": 2}))
    assert problem.startswith("spec.serving.numShard: 2 shards on 4 accelerators")


def test_sharding_without_gpus() -> None:
    [problem] = problems_of(document(serving={"numShard": 2}))
    assert problem == "spec.serving.numShard: sharding needs accelerators; set hardware.accelerator.count"


def test_offload_refused_naming_engines_that_can() -> None:
    [problem] = problems_of(gpu(features={"cpuOffloadGb": 10}))
    assert problem.startswith("spec.features.cpuOffloadGb: TGI cannot offload")
    assert "vllm" in problem and "llamacpp" in problem


def test_continuous_batching_cannot_be_disabled() -> None:
    [problem] = problems_of(gpu(features={"continuousBatching": False}))
    assert "always batches continuously" in problem


def test_flash_attention_needs_ampere() -> None:
    [problem] = problems_of(gpu(1, "t4", features={"flashAttention": True}))
    assert problem.startswith("spec.features.flashAttention: flash attention needs an Ampere")


def test_prefix_caching_needs_non_paged_attention() -> None:
    [problem] = problems_of(gpu(features={"prefixCaching": True, "attention": "paged"}))
    assert "flashinfer or flashdecoding" in problem


def test_fp8_kv_cache_needs_nvidia() -> None:
    [problem] = problems_of(gpu(1, "mi300x", serving={"kvCacheDtype": "fp8_e4m3fn"}))
    assert problem.startswith("spec.serving.kvCacheDtype")


def test_extra_args_cannot_override_spec_flags() -> None:
    [problem] = problems_of(gpu(extraArgs=["--model-id=other", "--disable-grammar-support"]))
    assert problem == "spec.extraArgs[0]: --model-id is set from the spec; change the spec field instead"


def validated(tmp_path: Path, model: str, engine: str = "tgi", **spec: Any) -> tuple[int, str]:
    """`tgictl validate` of a spec planning from a real model's config.json (tests/fixtures/models)."""
    doc = gpu(model={"id": f"org/{model}", "files": str(MODELS / model)}, engine={"name": engine}, **spec)
    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(doc))
    done = CliRunner().invoke(app, ["validate", "-f", str(path), "-o", "json"])
    return done.exit_code, done.stderr


@pytest.mark.parametrize("model", ["gpt-oss-20b", "mistral-small-3.1-24b"])
def test_a_model_type_neither_tgi_nor_its_transformers_knows_is_refused(tmp_path: Path, model: str) -> None:
    """gpt_oss and mistral3 came after transformers 4.51.3, which TGI 3.3.5 pins; get_model ends in 'Unsupported model type'."""
    code, said = validated(tmp_path, model)
    assert code == 2 and "spec.engine.name: TGI 3.3.5 has no model of its own for model type" in said, said
    assert "nor does transformers 4.51.3" in said and said.count("\n") == 1


def test_the_transformers_fallback_refuses_awq_but_tgis_own_models_take_it(tmp_path: Path) -> None:
    code, said = validated(tmp_path, "qwen3-8b", serving={"quantize": "awq"})  # qwen3: transformers' class, not TGI's own
    assert code == 2 and "spec.serving.quantize: " in said and "'awq quantization is not supported for AutoModel'" in said
    assert validated(tmp_path, "qwen3-8b")[0] == 0
    assert validated(tmp_path, "mistral-7b-awq")[0] == 0  # mistral is TGI's own: its AWQ checkpoint loads


def test_another_tgi_tag_is_not_judged_by_3_3_5s_lists(tmp_path: Path) -> None:
    assert validated(tmp_path, "qwen3-8b", serving={"quantize": "awq"}, image={"tag": "3.9.0"})[0] == 0
