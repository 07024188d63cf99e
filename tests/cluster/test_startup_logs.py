"""Deploy's progress from each engine's own start-up log: llama.cpp's lines come
from the real llama-server starting here; vLLM's are a recorded v0.11 start.
Each is replayed line by line through the fake API server, as a pod's log grows."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from typer.testing import CliRunner

from support.cluster_fixtures import deploy_failure, deployed_phases, replay, spec_file
from support.fake_kube import Cluster, Step, pod
from support.llama import llama_server

runner = CliRunner()

VLLM_START = [
    "INFO 11-28 10:00:00 [api_server.py:1885] vLLM API server version 0.11.0",
    "INFO 11-28 10:00:04 [model.py:547] Resolved architecture: LlamaForCausalLM",
    "INFO 11-28 10:00:09 [gpu_model_runner.py:2602] Starting to load model meta-llama/Llama-3.1-8B-Instruct...",
    "INFO 11-28 10:00:10 [weight_utils.py:392] Using model weights format ['*.safetensors']",
    "Loading safetensors checkpoint shards:  50% Completed | 2/4 [00:02<00:02,  1.02s/it]",
    "INFO 11-28 10:01:31 [default_loader.py:267] Loading weights took 4.21 seconds",
    "INFO 11-28 10:01:32 [gpu_model_runner.py:2653] Model loading took 14.9889 GiB and 82.3 seconds",
    "INFO 11-28 10:01:40 [gpu_worker.py:298] Available KV cache memory: 53.05 GiB",
    "INFO 11-28 10:01:40 [kv_cache_utils.py:1087] GPU KV cache size: 434,592 tokens",
    "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE): 100%|██████████| 67/67",
    "INFO 11-28 10:01:55 [api_server.py:1971] Starting vLLM API server 0 on http://0.0.0.0:8000",
    "INFO:     Application startup complete.",
]


def test_vllm_start_runs_through_every_phase(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    replay(cluster, VLLM_START)
    path = spec_file(tmp_path, engine={"name": "vllm"})
    assert deployed_phases(path) == ["starting", "download", "load", "warmup", "ready"]


def test_real_llama_server_start_is_read_as_load_warmup_ready(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    with llama_server(tmp_path):
        time.sleep(0.2)
    # llama-server prefixes each line with a timestamp and level; the pod log holds them as printed.
    lines = [line for line in (tmp_path / "llama-server.log").read_text().splitlines() if line.strip()]
    assert any(re.search(r"listening on http", line) for line in lines), lines
    replay(cluster, [line for line in lines if "cleaning up" not in line])
    path = spec_file(tmp_path, engine={"name": "llamacpp"}, model={"id": "/models/tiny-llama.gguf"})
    assert deployed_phases(path) == ["starting", "load", "warmup", "ready"]


def test_real_llama_server_failing_to_load_a_corrupt_gguf_is_named(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    from support.llama import llama_server_binary

    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"not a gguf file" * 100)
    crashed = subprocess.run([llama_server_binary(), "--model", str(corrupt), "--port", "0"], capture_output=True, text=True, timeout=60)
    lines = (crashed.stdout + crashed.stderr).splitlines()
    cluster.steps = [Step(pod(running=True), [], lines[:2]),
                     Step(pod(waiting="CrashLoopBackOff", restarts=1), [], [], lines)]
    stderr = deploy_failure(spec_file(tmp_path, engine={"name": "llamacpp"}, model={"id": "/models/broken.gguf"}))
    assert "the model file is not GGUF" in stderr
    assert "invalid magic characters: 'not '" in stderr  # the evidence: the engine's own line


def test_vllm_kv_cache_too_small_for_max_model_len_is_named(cluster: Cluster, helm_log: Path, tmp_path: Path) -> None:
    crash = VLLM_START[:7] + [
        "(EngineCore_DP0 pid=212) ERROR 11-28 10:01:41 [core.py:708] ValueError: To serve at least one request with the model's max "
        "seq len (131072), (16.00 GiB KV cache is needed, which is larger than the available KV cache memory (9.70 GiB). Based on the "
        "available memory, the estimated maximum model length is 83248. Try increasing `gpu_memory_utilization` or decreasing "
        "`max_model_len` when initializing the engine.",
        "(APIServer pid=1) RuntimeError: Engine core initialization failed. See root cause above.",
    ]
    cluster.steps = [Step(pod(running=True), [], VLLM_START[:3]), Step(pod(waiting="CrashLoopBackOff", restarts=1), [], [], crash)]
    stderr = deploy_failure(spec_file(tmp_path, engine={"name": "vllm"}))
    assert "vLLM's KV cache cannot hold one sequence of max-model-len: lower serving.maxTotalTokens" in stderr
