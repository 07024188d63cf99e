"""The planner on the real config.json of popular models.

Parameter counts are the published ones (e.g. Llama-3.1-8B 8,030,261,248);
KV bytes per token are layers x KV heads x head dim x 2 (K and V) x 2 bytes,
worked out by hand in each comment.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from support.checkpoints import llama_tensors, write_sharded
from support.data import FIXTURES, ROOT, document
from tgictl.errors import SpecError
from tgictl.model import files as model_files
from tgictl.model.architectures import dims_from_config, parameter_count
from tgictl.engines.tgi.memory import kv_rule, tgi_kv_bytes_per_token
from tgictl.model.memory import weight_bytes
from tgictl.plan.planner import PlanRequest, UserLimits, plan
from tgictl.render import service
from tgictl.spec.load import parse

MODELS = FIXTURES / "models"


def config(name: str) -> dict:
    return json.loads((MODELS / name / "config.json").read_text())


def request(name: str, gpu: str, count: int | None, **extra: object) -> PlanRequest:
    return PlanRequest(files=model_files.read_directory(MODELS / name), accelerator=gpu, count=count, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("llama-3.1-8b", 8_030_261_248), ("llama-3.1-70b", 70_553_706_496), ("mistral-7b-v0.1", 7_241_732_096),
        ("mixtral-8x7b", 46_702_792_704), ("qwen2.5-7b", 7_615_616_512), ("qwen3-8b", 8_190_735_360),
        # Qwen3-30B-A3B: "30.5B in total and 3.3B activated" (its model card); vLLM 0.19.0 loaded 56.88 GiB of bf16.
        ("qwen3-30b-a3b", 30_532_122_624),
        ("gemma-2-9b", 9_241_705_984), ("phi-3-mini-4k", 3_821_079_552), ("gpt2", 124_439_808),
        ("bloom-560m", 559_214_592), ("falcon-7b", 6_921_720_704), ("starcoder2-7b", 7_173_923_840),
        # DeepSeek-V3 without its multi-token-prediction layer: 671 B.
        ("deepseek-v3", 671_026_419_200),
    ],
)
def test_parameter_count_from_config(name: str, parameters: int) -> None:
    assert parameter_count(dims_from_config(config(name))) == parameters


@pytest.mark.parametrize(
    ("name", "per_token"),
    [
        ("llama-3.1-8b", 32 * 8 * 128 * 2 * 2),  # 131,072
        ("llama-3.1-70b", 80 * 8 * 128 * 2 * 2),  # 327,680
        ("mixtral-8x7b", 32 * 8 * 128 * 2 * 2),  # experts do not touch the cache
        ("qwen3-30b-a3b", 48 * 4 * 128 * 2 * 2),
        ("qwen2.5-7b", 28 * 4 * 128 * 2 * 2),  # 57,344
        ("gemma-2-9b", 42 * 8 * 256 * 2 * 2),  # head_dim 256 from config
        ("phi-3-mini-4k", 32 * 32 * 96 * 2 * 2),  # no GQA
        ("falcon-7b", 32 * 1 * 64 * 2 * 2),  # multi-query: one KV head
        ("gpt2", 12 * 12 * 64 * 2 * 2),
        ("deepseek-v3", 61 * 128 * 192 * 2 * 2),  # TGI caches decompressed MLA heads
    ],
)
def test_kv_bytes_per_token(name: str, per_token: int) -> None:
    assert tgi_kv_bytes_per_token(dims_from_config(config(name)), 1, None) == per_token


def test_kv_splits_across_shards_and_halves_in_fp8() -> None:
    dims = dims_from_config(config("llama-3.1-70b"))
    assert tgi_kv_bytes_per_token(dims, 4, None) == 327_680 // 4
    assert tgi_kv_bytes_per_token(dims, 1, "fp8_e4m3fn") == 327_680 // 2
    falcon = dims_from_config(config("falcon-7b"))
    assert tgi_kv_bytes_per_token(falcon, 2, None) == 8_192  # one KV head, replicated on each shard


def test_weight_bytes_by_quantization() -> None:
    dims = dims_from_config(config("llama-3.1-8b"))
    params = 8_030_261_248
    embeddings = 2 * 128_256 * 4096  # untied embed_tokens + lm_head stay 16-bit
    assert weight_bytes(dims, params, None, {}, None) == 16_060_522_496
    assert weight_bytes(dims, params, "fp8", {}, None) == (params - embeddings) + 2 * embeddings
    nf4 = weight_bytes(dims, params, "bitsandbytes-nf4", {}, None)
    assert nf4 == int((params - embeddings) * (0.5 + 4 / 64) + 2 * embeddings)


def test_awq_checkpoint_without_headers_uses_group_size() -> None:
    result = plan(request("mistral-7b-awq", "l4", 1))
    assert result.quantization == "awq"
    # 6,979,588,096 linear params x (0.5 B packed + 2/128 B scale + 0.5/128 B zero point) + 262,144,000 x 2 B embeddings
    assert result.weight_bytes == 3_626_114_128 + 524_288_000


def test_safetensors_headers_give_exact_count(tmp_path: Path) -> None:
    shutil.copy(MODELS / "llama-3.1-8b" / "config.json", tmp_path)
    write_sharded(tmp_path, llama_tensors(config("llama-3.1-8b")), shards=4)
    files = model_files.read_directory(tmp_path)
    assert files.tensors is not None
    assert files.tensors.tensors == 3 + 9 * 32
    assert files.tensors.elements == 8_030_261_248
    assert files.tensors.bytes == 16_060_522_496
    result = plan(PlanRequest(files=files, accelerator="a100-80gb", count=1))
    assert (result.parameters, result.parameters_source) == (8_030_261_248, "safetensors")


def test_header_reader_matches_the_safetensors_library(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file({"a": np.zeros((3, 5), dtype=np.float16), "b": np.ones(7, dtype=np.int32)}, str(path))
    header = model_files.read_safetensors_header(path)
    assert header["a"]["shape"] == [3, 5] and header["b"]["dtype"] == "I32"
    stats = model_files.tensor_stats([header])
    assert (stats.tensors, stats.elements, stats.bytes) == (2, 22, 3 * 5 * 2 + 7 * 4)


def test_corrupt_safetensors_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config("gpt2")))
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(SpecError, match="not plausible for safetensors"):
        model_files.read_directory(tmp_path)


def test_hub_cache_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "models--meta-llama--Llama-3.1-8B-Instruct"
    snapshot = repo / "snapshots" / "0e9e39f249a16976918f6564b8830bc894c89659"
    snapshot.mkdir(parents=True)
    shutil.copy(MODELS / "llama-3.1-8b" / "config.json", snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0e9e39f249a16976918f6564b8830bc894c89659")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    found = model_files.resolve("meta-llama/Llama-3.1-8B-Instruct")
    assert found.config["num_hidden_layers"] == 32
    assert model_files.resolve(str(repo)).source.endswith("@ 0e9e39f249a16976918f6564b8830bc894c89659")
    assert model_files.find_local("meta-llama/Llama-3.1-8B-Instruct", revision="other") is None


def test_hub_unreachable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    with pytest.raises(SpecError, match="the Hub is unreachable"):
        model_files.resolve("org/model", allow_hub=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SpecError, match="HF_HUB_OFFLINE=1"):
        model_files.resolve("org/model", allow_hub=True)


def test_refuses_non_generative_and_unknown_models() -> None:
    with pytest.raises(SpecError, match="LlamaForSequenceClassification is not a text-generation model"):
        plan(request("llama-classifier", "a100-80gb", 1))
    with pytest.raises(SpecError, match="unknown architecture 'mamba'.*tgictl can size: .*llama"):
        plan(request("mamba-unknown", "a100-80gb", 1))


def test_recommends_smallest_count_that_fits() -> None:
    assert plan(request("llama-3.1-8b", "a100-80gb", None)).count == 1
    assert plan(request("llama-3.1-70b", "a100-80gb", None)).count == 2
    assert plan(request("llama-3.1-70b", "l4", None)).count == 8


def test_says_plainly_when_nothing_fits() -> None:
    result = plan(request("deepseek-v3", "h100-80gb", None))
    assert (result.fits, result.count) == (False, 8)
    assert result.shortfall_bytes > 0
    assert "does not fit on up to 8x h100-80gb" in result.notes[0]


def test_shard_count_must_divide_heads() -> None:
    with pytest.raises(SpecError, match="3 shards cannot split 64 attention heads and 8 KV heads evenly; use one of 1, 2, 4, 8"):
        plan(request("llama-3.1-70b", "h100-80gb", 3))


def test_limits_follow_tgi_rules() -> None:
    result = plan(request("llama-3.1-8b", "a100-80gb", 1))
    assert result.max_total_tokens == min(131_072, result.max_batch_total_tokens)
    assert result.max_input_tokens == result.max_total_tokens - 1
    assert result.full_sequences == result.max_batch_total_tokens // result.max_total_tokens
    assert result.max_batch_total_tokens % 16 == 0


def test_a_request_capped_by_the_cache_keeps_the_estimates_headroom() -> None:
    """Where the KV cache, not the context, bounds one request, the planned request limit is
    90 % of the estimate: the estimate runs up to +4.9 % over TGI's own figure, and TGI 3.x
    refuses to start when max_total_tokens exceeds what it finds. A batch limit the user set
    is the engine's number, not a measurement: a request may fill it."""
    tight = plan(request("llama-3.1-8b", "a10g", 1))
    assert tight.max_batch_total_tokens < 131_072
    assert tight.max_total_tokens == int(tight.max_batch_total_tokens * 0.9) // 16 * 16
    assert tight.max_total_tokens < 0.95 * tight.max_batch_total_tokens
    fixed = plan(request("llama-3.1-8b", "a10g", 1, limits=UserLimits(max_batch_total_tokens=8192)))
    assert (fixed.max_batch_total_tokens, fixed.max_total_tokens) == (8192, 8192)


def test_memory_fraction_and_version_shrink_the_budget() -> None:
    base = plan(request("llama-3.1-8b", "a100-80gb", 1))
    fraction = plan(request("llama-3.1-8b", "a100-80gb", 1, memory_fraction=0.8))
    old = plan(request("llama-3.1-8b", "a100-80gb", 1, engine_version="2.4.1"))
    assert fraction.max_batch_total_tokens < base.max_batch_total_tokens < old.max_batch_total_tokens
    # As each release's warmup() reads free memory (flash_causal_lm.py at each tag).
    assert [kv_rule(v) for v in ("0.9.4", "1.4.1", "2.4.1", "3.0.0", "3.2.0", "3.3.5")] == [
        ("scale", 1.0), ("scale", 0.95), ("scale", 0.90), ("reserve", 0.95), ("reserve", 0.93), ("reserve", 0.90)]


def test_sliding_window_noted() -> None:
    assert any("sliding window 4096" in n for n in plan(request("mistral-7b-v0.1", "a100-80gb", 1)).notes)


def test_cpu_plan_uses_pod_memory() -> None:
    result = plan(request("gpt2", "cpu", None, cpu_memory_bytes=4 * 1024**3))
    assert result.fits and result.max_total_tokens == 1024
    with pytest.raises(SpecError, match="needs the pod's memory"):
        plan(request("gpt2", "cpu", None))


# --- render uses the plan -------------------------------------------------------------


def spec_with_files(**spec: object) -> dict:
    doc = document(model={"id": "meta-llama/Llama-3.1-8B-Instruct", "files": str(MODELS / "llama-3.1-8b")},
                   hardware={"accelerator": {"type": "a10g", "count": 1}})
    doc["spec"].update(spec)
    return doc


def flags(doc: dict) -> dict:
    import yaml

    return yaml.safe_load(service.render(parse(doc), "values").stream)["engine"]["flags"]


def test_render_fills_empty_limits_from_plan() -> None:
    result = plan(request("llama-3.1-8b", "a10g", 1))
    rendered = flags(spec_with_files())
    assert rendered["max-total-tokens"] == str(result.max_total_tokens)
    assert rendered["max-input-tokens"] == str(result.max_input_tokens)
    assert rendered["max-batch-prefill-tokens"] == str(result.max_batch_prefill_tokens)
    # The 429 threshold: twice the typical 2k-token requests the KV budget holds at once.
    assert rendered["max-concurrent-requests"] == str(2 * result.max_batch_total_tokens // 2048)


def test_user_limits_win() -> None:
    rendered = flags(spec_with_files(serving={"maxTotalTokens": 8192, "maxInputTokens": 8000}))
    assert (rendered["max-total-tokens"], rendered["max-input-tokens"]) == ("8192", "8000")


def test_impossible_user_limits_fail_before_render() -> None:
    with pytest.raises(SpecError) as caught:
        parse_and_render(spec_with_files(serving={"maxTotalTokens": 200_000}))
    assert "spec.serving.maxTotalTokens: 200000 is beyond the model's context (131072 tokens)" in str(caught.value)
    with pytest.raises(SpecError) as caught:
        parse_and_render(spec_with_files(serving={"maxTotalTokens": 100_000}))
    assert "does not fit the KV cache: 1x a10g holds" in str(caught.value)


def test_model_that_does_not_fit_fails_with_advice() -> None:
    doc = document(model={"id": "meta-llama/Llama-3.1-70B", "files": str(MODELS / "llama-3.1-70b")},
                   hardware={"accelerator": {"type": "a100-80gb", "count": 1}})
    with pytest.raises(SpecError) as caught:
        parse_and_render(doc)
    assert "spec.hardware.accelerator.count: llama model does not fit on 1x a100-80gb" in str(caught.value)
    assert "2x a100-80gb fits" in str(caught.value)


def test_startup_budget_uses_planned_weights() -> None:
    import yaml

    values = yaml.safe_load(service.render(parse(spec_with_files()), "values").stream)
    # 16.06 GB at 200 MB/s download + 1 GB/s load, 10 GB image, 90 s warm-up, x1.5, whole minutes
    expected = -(-((10 / 0.2 + 16.06 / 0.2 + 16.06 + 90) * 1.5) // 60) * 60
    assert values["probes"]["startup"]["failureThreshold"] * 10 == expected


def parse_and_render(doc: dict) -> None:
    service.render(parse(doc), "values")


def _cached_model(root: Path, commit: str, refs: dict[str, str]) -> None:
    repo = root / "models--meta-llama--Llama-3.1-8B-Instruct"
    (repo / "snapshots" / commit).mkdir(parents=True)
    shutil.copy(MODELS / "llama-3.1-8b" / "config.json", repo / "snapshots" / commit)
    for ref, target in refs.items():
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(target)


def test_hub_cache_under_xdg_cache_home_and_a_named_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    commit = "0e9e39f249a16976918f6564b8830bc894c89659"
    _cached_model(tmp_path / "huggingface" / "hub", commit, {"v1.0": commit})
    found = model_files.find_local("meta-llama/Llama-3.1-8B-Instruct", revision="v1.0")
    assert found is not None and found.source.endswith(f"@ {commit}")
    assert model_files.find_local("meta-llama/Llama-3.1-8B-Instruct", revision=commit) is not None
    assert model_files.find_local("meta-llama/Llama-3.1-8B-Instruct") is None  # no refs/main: nothing is "main"


@pytest.mark.parametrize("env", [{"HF_HUB_CACHE": "/a/hub"}, {"HF_HOME": "/b"}, {"XDG_CACHE_HOME": "/c"},
                                 {"HF_HOME": "/b", "XDG_CACHE_HOME": "/c"}, {}])
def test_cache_root_follows_huggingface_hub(env: dict[str, str]) -> None:
    """huggingface_hub fixes its cache root at import: ask a fresh interpreter under each environment."""
    clean = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"}}
    code = ("from huggingface_hub import constants; from tgictl.model.files import hub_cache_dirs; "
            "print(constants.HF_HUB_CACHE); print(hub_cache_dirs()[0])")
    theirs, ours = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                                  check=True).stdout.splitlines()
    assert ours == theirs


def test_public_tgi_warmups_are_benchmarked_with_their_sources() -> None:
    """bench/planner.py plans each case in tests/fixtures/tgi-warmups.json: every case names its
    public source and a model whose config is here, and the planner's error stays in the band
    measured: every case within -10 % and +10 % but Llama-2-70B on 4x A100 (issue 832), which
    TGI's v1.0.0 code does not explain (see the issue-16 note), and the cases the fixture marks
    unexplained, held to the error measured so that a change shows. Issue 36's goal (median
    within 10 %) is not met while those stand."""
    sys.path.insert(0, str(ROOT / "bench"))
    import planner as bench

    rows = bench.errors()
    assert len(rows) >= 4
    for case, tokens, error in rows:
        assert str(case["source"]).startswith("https://github.com/")
        unexplained = case["model"] == "llama-2-70b" or "unexplained" in case
        assert tokens > 0 and -0.10 <= error <= (0.70 if unexplained else 0.10), (case["model"], error)
    assert statistics.median(abs(e) for _, _, e in rows) <= 0.30


def test_public_vllm_profiles_are_benchmarked_term_by_term() -> None:
    """bench/planner.py plans each case in tests/fixtures/vllm-profiles.json: vLLM's logged
    weights are the planner's to 1 %, the KV memory within -10 % and +10 % (the cases the fixture
    marks unexplained held to the band measured, under-estimates all: vLLM found more), and the
    tensor-parallel A/B holds as logged: going from one GPU to two adds the communicators'
    memory and leaves the activation peak where it was."""
    sys.path.insert(0, str(ROOT / "bench"))
    import planner as bench

    rows = bench.vllm_errors()
    assert len(rows) >= 2
    for case, terms, error in rows:
        assert str(case["source"]).startswith("https://github.com/")
        assert terms["weights"] == pytest.approx(case["logged_gib"]["weights"], rel=0.01)
        low = -0.21 if "unexplained" in case else -0.10
        assert low <= error <= 0.10, (case["logged_model"], case["count"], error)
    assert len(rows) >= 30 and statistics.median(abs(e) for _, _, e in rows) <= 0.02
    one, two = (terms for case, terms, _ in rows if case["vllm"] == "0.6.5")
    assert two["non_torch"] - one["non_torch"] == pytest.approx(3.58 - 1.79, abs=0.01)
    assert two["activations"] == one["activations"]


def test_cold_start_counts_compilation_and_what_a_later_pod_finds() -> None:
    """vLLM compiles at start-up (19.4 s for an 8B on a GPU, 9.2 s with a warm cache); a later pod on
    the same volume skips the download and, with the compile cache kept there, most of it. The
    startup budget covers the first pod."""
    def cold(engine: str, **request: object) -> dict[str, float]:
        request = {"accelerator": "h100", "count": 1, **request}
        return plan(PlanRequest(files=model_files.read_directory(MODELS / "llama-3.1-8b"), engine=engine,
                                **request)).cold_start.as_dict()  # type: ignore[arg-type]

    vllm, tgi = cold("vllm"), cold("tgi")
    assert (vllm["compile_s"], vllm["compile_warm_s"], tgi["compile_s"], tgi["compile_warm_s"]) == (19.4, 9.2, 0.0, 0.0)
    assert vllm["total_s"] == pytest.approx(tgi["total_s"] + 19.4, abs=0.11)
    assert vllm["warm_total_s"] == pytest.approx(vllm["total_s"] - vllm["download_s"] - 19.4 + 9.2, abs=0.11)
    assert vllm["budget_s"] >= vllm["total_s"] * 1.5  # the first pod has no cache to find
    uncached = cold("vllm", compile_cache=False)
    assert uncached["compile_warm_s"] == 19.4 and uncached["warm_total_s"] == pytest.approx(vllm["total_s"] - vllm["download_s"], abs=0.11)
    assert cold("vllm", accelerator="cpu", count=None, cpu_memory_bytes=64 * 2**30)["compile_s"] == 0.0  # GPU figures only


@pytest.mark.parametrize("value", [0, -8, 2.5, "32"])
def test_a_config_size_no_reader_can_use_is_named_not_a_traceback(value: object) -> None:
    """Llama-3.1-8B's real config.json with num_attention_heads spoiled: one line naming the field."""
    spoiled = {**json.loads((FIXTURES / "models" / "llama-3.1-8b" / "config.json").read_text()), "num_attention_heads": value}
    with pytest.raises(SpecError) as caught:
        dims_from_config(spoiled)
    assert str(caught.value) == f"config.json: num_attention_heads: must be a positive integer, got {value!r}; cannot size the model"


LIMIT_FLAGS = {"tgi": {"max_total_tokens": "max-total-tokens", "max_input_tokens": "max-input-tokens"},
               "vllm": {"max_total_tokens": "max-model-len"}}


@pytest.mark.parametrize("engine", sorted(LIMIT_FLAGS))
@pytest.mark.parametrize("serving", [{}, {"maxTotalTokens": 8192}, {"maxInputTokens": 4000},
                                     {"maxTotalTokens": 8192, "maxInputTokens": 4000}, {"maxBatchTotalTokens": 12000}])
def test_what_plan_prints_is_what_render_passes_for_every_set_and_unset_limit(engine: str, serving: dict[str, int]) -> None:
    """Llama-3.1-8B on one A10G with only maxTotalTokens: 8192 once failed render (a planned
    maxInputTokens of 13375 the user never set) and plan printed a total of 13376 (vLLM: 131072)."""
    from tgictl.engines import get
    from tgictl.plan.service import plan_spec, planned_for_render
    from tgictl.spec.load import parse

    if engine == "vllm":
        serving = {k: v for k, v in serving.items() if k not in ("maxInputTokens", "maxBatchTotalTokens")}  # vLLM refuses them
    spec = parse(document(engine={"name": engine}, serving=serving, hardware={"accelerator": {"type": "a10g", "count": 1}},
                          model={"id": "meta-llama/Llama-3.1-8B-Instruct", "files": str(FIXTURES / "models" / "llama-3.1-8b")}))
    printed = plan_spec(spec)
    rendered, _ = planned_for_render(spec)
    flags = get(engine).flags(rendered)
    for field, flag in LIMIT_FLAGS[engine].items():
        assert str(getattr(printed, field)) == flags[flag], (field, flags)
    if "maxTotalTokens" in serving:
        assert printed.max_total_tokens == 8192
    if engine == "tgi":
        assert printed.max_input_tokens == serving.get("maxInputTokens", printed.max_total_tokens - 1)
