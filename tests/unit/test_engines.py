"""One spec, three engines: flag mapping, refusals, the chart's engine
partials, rendered flags against each engine's documented flag list, and the
rendered llama.cpp container really starting llama-server."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.data import FIXTURES, SPECS, document
from support.llama import llama_server_binary
from support.servers import free_port, wait_until_up
from tgictl.engines import REGISTRY, get
from tgictl.errors import SpecError
from tgictl.render import manifests, service
from tgictl.smoke.runner import run_smoke
from tgictl.spec.load import load_file, parse
from support.tiny_model import write_tiny_llama
from support.vllm import vllm_python

FLAGS = FIXTURES / "engine-flags"


def engine_doc(engine: str, **spec: Any) -> dict[str, Any]:
    return document(engine={"name": engine}, **spec)


def problems_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(doc)
    return [str(p) for p in caught.value.problems]


def container(objects: list[Any]) -> dict[str, Any]:
    deployment = next(o.obj for o in objects if o.kind == "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_registry_has_the_three_engines_with_their_facts() -> None:
    assert list(REGISTRY) == ["tgi", "vllm", "llamacpp"]
    assert {e.facts.port for e in REGISTRY.values()} == {8000, 8080}
    assert {e.facts.metrics_prefix for e in REGISTRY.values()} == {"tgi_", "vllm:", "llamacpp:"}


def test_vllm_mapping() -> None:
    doc = engine_doc("vllm", hardware={"accelerator": {"type": "h100", "count": 4}},
                     serving={"maxTotalTokens": 16384, "maxBatchPrefillTokens": 8192, "maxBatchSize": 256,
                              "cudaMemoryFraction": 0.92, "quantize": "awq", "kvCacheDtype": "fp8_e4m3fn", "cudaGraphs": [0]},
                     features={"cpuOffloadGb": 8, "prefixCaching": False, "attention": "flashinfer"})
    spec = parse(doc)
    vllm = get("vllm")
    assert vllm.positional_args(spec) == ["meta-llama/Llama-3.1-8B-Instruct"]
    assert vllm.flags(spec) == {
        "host": "0.0.0.0", "port": "8000", "tensor-parallel-size": "4", "max-model-len": "16384",
        "max-num-batched-tokens": "8192", "max-num-seqs": "256", "gpu-memory-utilization": "0.92",
        "quantization": "awq", "kv-cache-dtype": "fp8_e4m3", "enforce-eager": True,
        "no-enable-prefix-caching": True, "cpu-offload-gb": "8", "attention-backend": "FLASHINFER", "shutdown-timeout": "90",
    }
    assert not any(name.startswith("VLLM_ATTENTION") for name in vllm.env(spec))  # no supported release reads it


def test_vllm_bounds_its_queue_as_tgi_bounds_concurrent_requests() -> None:
    spec = parse(engine_doc("vllm", hardware={"accelerator": {"type": "h100", "count": 1}}, serving={"maxConcurrentRequests": 64}))
    assert get("vllm").flags(spec)["max-num-queued-reqs"] == "64"


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"features": {"swapSpaceGb": 4}}, "spec.features.swapSpaceGb", "vLLM 0.18.0 and newer have no such setting"),
    ({"image": {"repository": "vllm/vllm-openai", "tag": "v0.17.1"}}, "spec.image.tag",
     "older than the oldest release tgictl supports (0.18.0)"),
])
def test_vllm_refuses_what_its_releases_dropped(change: dict[str, Any], field: str, words: str) -> None:
    doc = engine_doc("vllm", hardware={"accelerator": {"type": "h100", "count": 1}}, **change)
    with pytest.raises(SpecError) as refused:
        parse(doc)
    assert any(p.path == field and words in p.message for p in refused.value.problems), refused.value.problems


def test_llamacpp_mapping_slots_and_context() -> None:
    spec = parse(engine_doc("llamacpp", model={"id": "org/m-GGUF", "ggufFile": "m-Q4_K_M.gguf"},
                            hardware={"cpu": "6", "memory": "8Gi"},
                            serving={"maxTotalTokens": 4096, "maxConcurrentRequests": 3, "maxBatchPrefillTokens": 1024},
                            features={"flashAttention": False, "continuousBatching": False, "prefixCaching": False}))
    flags = get("llamacpp").flags(spec)
    assert flags == {
        "hf-repo": "org/m-GGUF", "hf-file": "m-Q4_K_M.gguf", "host": "0.0.0.0", "port": "8080", "metrics": True,
        "parallel": "3", "ctx-size": str(4096 * 3), "batch-size": "1024", "flash-attn": "off",
        "no-cont-batching": True, "no-cache-prompt": True, "threads": "6",
    }


@pytest.mark.parametrize(("vendor_type", "tag"), [("cpu", "server-b11434"), ("l4", "server-cuda-b11434"), ("mi300x", "server-rocm-b11434")])
def test_llamacpp_image_variants(vendor_type: str, tag: str) -> None:
    count = 0 if vendor_type == "cpu" else 1
    spec = parse(engine_doc("llamacpp", model={"id": "/models/m.gguf"}, hardware={"accelerator": {"type": vendor_type, "count": count}}))
    assert get("llamacpp").image(spec) == ("ghcr.io/ggml-org/llama.cpp", tag)


@pytest.mark.parametrize(("model", "flags"), [
    ({"id": "ggml-org/gemma-3-1b-it-GGUF"}, {"hf-repo": "ggml-org/gemma-3-1b-it-GGUF"}),  # llama-server picks its Q4_K_M
    ({"id": "org/m:Q8_0"}, {"hf-repo": "org/m:Q8_0"}),
    ({"id": "org/m", "ggufFile": "m-Q4_K_M.gguf"}, {"hf-repo": "org/m", "hf-file": "m-Q4_K_M.gguf"}),
    ({"id": "./m.GGUF"}, {"model": "./m.GGUF"}),
    ({"id": "x", "url": "https://example.com/m.gguf?download=true"}, {"model-url": "https://example.com/m.gguf?download=true"}),
])
def test_every_gguf_source_llamacpp_loads_validates(model: dict[str, str], flags: dict[str, str]) -> None:
    spec = parse(engine_doc("llamacpp", model=model))
    assert {k: v for k, v in get("llamacpp").model_flags(spec).items() if v is not None} == flags


@pytest.mark.parametrize(
    ("engine", "spec", "path", "fragment"),
    [
        ("tgi", {"features": {"gpuLayers": 10}}, "spec.features.gpuLayers", "TGI cannot keep layers on the CPU; use vllm"),
        ("tgi", {"model": {"id": "org/m", "ggufFile": "m.gguf"}}, "spec.model.ggufFile", "use llamacpp"),
        ("vllm", {"serving": {"maxConcurrentRequests": 10}, "image": {"tag": "v0.28.1"}}, "spec.serving.maxConcurrentRequests",
         "queues every request (--max-num-queued-reqs came in 0.29.0)"),
        ("vllm", {"serving": {"maxInputTokens": 10}}, "spec.serving.maxInputTokens", "no separate input limit"),
        ("vllm", {"serving": {"quantize": "exl2"}}, "spec.serving.quantize", "vLLM has no exl2"),
        ("vllm", {"features": {"continuousBatching": False}}, "spec.features.continuousBatching", "always batches"),
        ("vllm", {"hardware": {"accelerator": {"type": "mi300x", "count": 1}}}, "spec.image.repository", "CUDA-only"),
        ("llamacpp", {"serving": {"quantize": "awq"}}, "spec.serving.quantize", "GGUF"),
        ("llamacpp", {"features": {"cpuOffloadGb": 4}}, "spec.features.cpuOffloadGb", "set gpuLayers"),
        ("llamacpp", {"model": {"id": "org/m", "revision": "abc"}}, "spec.model.revision", "cannot pin a Hub revision"),
        ("llamacpp", {"hardware": {"accelerator": {"type": "gaudi2", "count": 1}}}, "spec.hardware.accelerator.type", "no Gaudi"),
        # A safetensors repo validated, planned as 16-bit weights and rendered `--hf-repo` llama.cpp cannot load.
        ("llamacpp", {"model": {"id": "meta-llama/Llama-3.1-8B-Instruct"}}, "spec.model.id",
         "llama.cpp loads GGUF files: 'meta-llama/Llama-3.1-8B-Instruct' does not look like a GGUF repo; name its file in "
         "model.ggufFile, or point model.id at a GGUF repo (…-GGUF) or a .gguf path"),
        ("llamacpp", {"model": {"id": "/models/llama-3.1-8b"}}, "spec.model.id", "the path of a .gguf file, not a directory"),
        ("llamacpp", {"model": {"id": "org/m", "ggufFile": "model.safetensors"}}, "spec.model.ggufFile", "name a .gguf file"),
        ("llamacpp", {"model": {"id": "x", "url": "https://example.com/m.bin"}}, "spec.model.url", "must name a .gguf file"),
    ],
)
def test_fields_an_engine_cannot_honour_are_errors(engine: str, spec: dict[str, Any], path: str, fragment: str) -> None:
    found = problems_of(engine_doc(engine, **spec))
    assert any(p.startswith(path + ": ") and fragment in p for p in found), found


def test_api_key_comes_from_a_secret_per_engine() -> None:
    for engine, variable in (("tgi", "API_KEY"), ("vllm", "VLLM_API_KEY"), ("llamacpp", "LLAMA_API_KEY")):
        model = {"id": "/models/m.gguf"} if engine == "llamacpp" else {"id": "org/m"}
        gpu = {"accelerator": {"type": "l4", "count": 1}}
        keyed = engine_doc(engine, model=model, hardware=gpu, serving={"apiKeySecret": {"name": "keys", "key": "k"}})
        objects = manifests.render(parse(keyed))
        env = {e["name"]: e for e in container(objects)["env"]}
        assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": "keys", "key": "k"}


@pytest.mark.parametrize(("engine", "startup", "readiness", "port"), [
    ("tgi", "/health", "/health", 8080), ("vllm", "/health", "/health", 8000), ("llamacpp", "/health", "/health", 8080)])
def test_chart_partials_set_probes_and_ports(engine: str, startup: str, readiness: str, port: int) -> None:
    model = {"id": "/models/m.gguf"} if engine == "llamacpp" else {"id": "org/m"}
    c = container(manifests.render(parse(engine_doc(engine, model=model, hardware={"accelerator": {"type": "l4", "count": 1}}))))
    assert c["startupProbe"]["httpGet"]["path"] == startup and c["readinessProbe"]["httpGet"]["path"] == readiness
    assert c["ports"][0]["containerPort"] == port


def _rendered_flags(spec_file: Path) -> set[str]:
    args = container(manifests.render(load_file(spec_file))).get("args", [])
    return {a[2:] for a in args if a.startswith("--")}


def _documented(engine: str) -> set[str]:
    if engine == "llamacpp":
        help_text = subprocess.run([llama_server_binary(), "--help"], capture_output=True, text=True).stdout
        return set(re.findall(r"--([a-z][a-z0-9-]*)", help_text))
    if engine == "vllm":  # the installed release's own argument parser, not a hand-kept list
        help_text = subprocess.run([vllm_python(), "-m", "vllm.entrypoints.openai.api_server", "--help=all"],
                                   capture_output=True, text=True, timeout=300).stdout
        flags = set(re.findall(r"--([a-z][a-z0-9-]*)", help_text))
        assert {"max-model-len", "attention-backend"} <= flags and "swap-space" not in flags  # vLLM 0.32's parser
        return flags
    lines = (FLAGS / f"{engine}.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


@pytest.mark.parametrize("engine", ["tgi", "vllm", "llamacpp"])
def test_every_rendered_flag_is_one_the_engine_documents(engine: str) -> None:
    rendered: set[str] = set()
    for spec_file in sorted(SPECS.glob("*.yaml")):
        if yaml.safe_load(spec_file.read_text())["spec"].get("engine", {}).get("name", "tgi") == engine:
            rendered |= _rendered_flags(spec_file)
    assert rendered, f"no golden spec uses {engine}"
    unknown = rendered - _documented(engine)
    assert not unknown, f"{engine} does not know {sorted(unknown)}"


def test_rendered_llamacpp_container_starts_the_real_server(tmp_path: Path) -> None:
    """Run the chart's command and args for a llamacpp spec outside Kubernetes
    (two substitutions: the binary's path, and loopback with a free port)."""
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    doc = engine_doc("llamacpp", model={"id": str(model)}, hardware={"cpu": "1", "memory": "2Gi"},
                     serving={"maxTotalTokens": 256, "maxConcurrentRequests": 2, "maxBatchPrefillTokens": 512})
    c = container(manifests.render(parse(doc)))
    assert c["command"] == ["/app/llama-server"]
    args = list(c["args"])
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    args[args.index("--host") + 1] = "127.0.0.1"
    env = {e["name"]: e["value"] for e in c["env"]} | {"LLAMA_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen([llama_server_binary(), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout=60, path=c["readinessProbe"]["httpGet"]["path"], require_ok=True)
        report = asyncio.run(run_smoke(url))
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert report.passed, report.checks
    assert report.engine == "llamacpp"
    assert {c.name: c.status for c in report.checks}["token-limit"] == "pass"  # ctx 512 / 2 slots refuses 272 tokens


def test_golden_specs_cover_every_engine() -> None:
    engines = {yaml.safe_load(f.read_text())["spec"].get("engine", {}).get("name", "tgi") for f in SPECS.glob("*.yaml")}
    assert engines == set(REGISTRY)
    for spec_file in SPECS.glob("*.yaml"):
        service.render(load_file(spec_file), "manifests")


def test_engine_neutral_series_match_the_chart_rules() -> None:
    """Each engine's declared llm: series are exactly what its recording rules produce."""
    from support.monitoring import rule_groups

    for name, engine in REGISTRY.items():
        records = {r["record"] for g in rule_groups(name) for r in g["rules"] if "record" in r}
        assert records == set(engine.facts.neutral_series), name


@pytest.mark.parametrize(("features", "field", "backend"), [({"flashAttention": True}, "flashAttention", "FLASH_ATTN"),
                                                           ({"attention": "flashinfer"}, "attention", "FLASHINFER")])
def test_vllm_refuses_an_attention_backend_the_gpu_cannot_run(features: dict[str, Any], field: str, backend: str) -> None:
    """At v0.32.0 FlashAttentionBackend and FlashInferBackend.supports_compute_capability need 8.0 or
    newer, and a backend named with --attention-backend is validated at start (platforms/cuda.py):
    "Selected backend ... is not valid for this configuration. Reason: ['compute capability not supported']"."""
    t4 = engine_doc("vllm", hardware={"accelerator": {"type": "t4", "count": 1}}, features=features)
    assert f"spec.features.{field}: vLLM's {backend} attention needs compute capability 8.0 or newer; t4 has 7.5: leave it unset " \
           "(vLLM picks a backend that runs), or choose an Ampere-or-newer hardware.accelerator.type" in problems_of(t4)
    parse(engine_doc("vllm", hardware={"accelerator": {"type": "a10g", "count": 1}}, features=features))
    from tgictl.lifecycle.progress import assess

    line = (f"(EngineCore_DP0 pid=88) ERROR 12-06 10:00:00 [core.py:1510] ValueError: Selected backend "
            f"AttentionBackendEnum.{backend} is not valid for this configuration. Reason: ['compute capability not supported']")
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Running", "containerStatuses": [
        {"name": "server", "ready": False, "restartCount": 0, "state": {"running": {}}}]}}
    state = assess(pod, [], [line, "(APIServer pid=1) RuntimeError: Engine core initialization failed."], get("vllm").facts)
    assert state.failed and "the attention backend asked for cannot run on this GPU" in (state.failure or ""), state


@pytest.mark.parametrize(("accelerator", "refused"), [("t4", True), ("a10g", False), ("h100-80gb", False)])
def test_vllm_refuses_bfloat16_before_ampere_as_its_start_does(accelerator: str, refused: bool) -> None:
    """vLLM 0.32's platforms/cuda.py raises "Bfloat16 is only supported on GPUs with compute capability of at
    least 8.0" at start (tests/fixtures/vllm-logs/bf16-old-gpu*.log): validate says it first."""
    doc = engine_doc("vllm", hardware={"accelerator": {"type": accelerator, "count": 1}}, serving={"dtype": "bfloat16"})
    if refused:
        assert any(p.startswith("spec.serving.dtype: bfloat16 needs compute capability 8.0 or newer; t4 has 7.5") for p in problems_of(doc))
    else:
        parse(doc)
