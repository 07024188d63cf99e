"""Load-generator benchmark: how fast and how accurate `tgictl bench` is, as
ratios against baselines measured in the same run.

1. Closed-loop ceiling, c=16: `tgictl bench` vs a ~40-line aiohttp client
   (bench/baseline_client.py) and vs `vllm bench serve` (when scripts/install-vllm.sh
   has installed vLLM), all against bench/sse_server.py (64 events, no delay).
   Targets (issue 19): >= 1.0x the aiohttp client, >= 1.3x vllm bench serve.
2. Open loop: the highest Poisson rate `tgictl bench` holds with dispatch-lag
   p99 < 10 ms and >= 95% of the scheduled rate.
3. TTFT accuracy: client TTFT minus the simulator's own (arrival → first
   write) at half the simulator's closed-loop ceiling. Target: p99 < 2 ms.
4. Simulator capacity: its closed-loop ceiling with zero model latency,
   against the fastest rate the test suite drives it at. Target: >= 3x.

Servers run pinned to CPU 0, clients to CPU 1 (when the machine has two).
Run: .venv/bin/python bench/loadgen.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import requests  # noqa: E402

from support.servers import free_port, wait_until_up  # noqa: E402
from tgictl.loadgen import workload  # noqa: E402
from tgictl.loadgen.runner import Job, Profile, client_health, run  # noqa: E402
from tgictl.loadgen.stats import percentile  # noqa: E402

PYTHON = sys.executable
TGICTL = str(Path(PYTHON).parent / "tgictl")
# The fastest load the test suite puts on the simulator: test_bench's closed
# loop at concurrency 4 with 2 ms decode steps and 8-16 tokens (~150 req/s).
TEST_SUITE_RATE = 150.0
WARMUP_S = 2.0


def pinned(cpu: int) -> object:
    if (os.cpu_count() or 1) < 2:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def start(command: list[str], url: str, path: str = "/v1/models") -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pinned(0))  # type: ignore[arg-type]
    if path:
        wait_until_up(url, path=path)
    else:
        time.sleep(1.0)
    return process


def client(command: list[str]) -> dict[str, object]:
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=pinned(1))  # type: ignore[arg-type]
    if done.returncode not in (0, 1, 4):
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)


def closed_loop_ceiling(url: str, seconds: float, concurrency: int = 16) -> tuple[float, float]:
    baseline = client([PYTHON, str(ROOT / "bench" / "baseline_client.py"), url, str(concurrency), str(seconds)])
    ours = client([TGICTL, "bench", url, "--concurrency", str(concurrency), "--duration", str(seconds),
                   "--output-len", "fixed:64", "--input-len", "fixed:8", "-o", "json"])
    return float(ours["request_rate"]), float(baseline["streams_per_s"])  # type: ignore[arg-type]


def vllm_python() -> str | None:
    found = subprocess.run(["bash", str(ROOT / "scripts" / "install-vllm.sh"), "--cached"], capture_output=True, text=True)
    return found.stdout.strip().splitlines()[-1] if found.returncode == 0 else None


def vllm_bench_serve(python: str, url: str, requests_to_send: int, concurrency: int = 16) -> float:
    """`vllm bench serve`'s request throughput over ``requests_to_send`` streams of 64 tokens
    (random 8-token prompts from the tiny test model's tokenizer; --ignore-eos as ours)."""
    with tempfile.TemporaryDirectory() as scratch:
        model = Path(scratch) / "model"
        subprocess.run([python, str(ROOT / "tests" / "support" / "vllm_model.py"), str(model)], check=True, capture_output=True)
        subprocess.run([python, str(ROOT / "bench" / "vllm_bench_serve.py"), "--backend", "openai", "--base-url", url,
                        "--endpoint", "/v1/completions", "--model", str(model), "--dataset-name", "random",
                        "--random-input-len", "8", "--random-output-len", "64", "--ignore-eos",
                        "--max-concurrency", str(concurrency), "--num-prompts", str(requests_to_send),
                        "--save-result", "--result-dir", scratch, "--result-filename", "result.json"],
                       check=True, capture_output=True, preexec_fn=pinned(1), env={**os.environ, "HF_HUB_OFFLINE": "1"})  # type: ignore[arg-type]
        return float(json.loads((Path(scratch) / "result.json").read_text())["request_throughput"])


def open_loop_rate(url: str, seconds: float, rates: list[float]) -> list[tuple[float, float, float, bool]]:
    rows = []
    for rate in rates:
        out = client([TGICTL, "bench", url, "--profile", "poisson", "--rate", str(rate), "--duration", str(seconds),
                      "--output-len", "fixed:64", "--input-len", "fixed:8", "-o", "json"])
        c = out["client"]  # type: ignore[index]
        lag = c["dispatch_lag_ms"]["p99"]  # type: ignore[index]
        held = lag < 10 and c["achieved_rate"] >= 0.95 * c["scheduled_rate"]  # type: ignore[index,operator]
        rows.append((rate, c["achieved_rate"], lag, held))  # type: ignore[index]
        if not held:
            break
    return rows


def ttft_error(seconds: float) -> tuple[float, dict[str, float]]:
    """Client TTFT minus server TTFT at half the simulator's ceiling, in ms."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = start([TGICTL, "sim", "--port", str(port), "--decode-ms", "10", "--prefill-ms-per-token", "0.05",
                 "--record-timestamps", "--output-min", "32", "--output-max", "32"], url)
    try:
        ceiling = client([TGICTL, "bench", url, "--concurrency", "64", "--duration", str(seconds),
                          "--output-len", "fixed:32", "-o", "json"])["request_rate"]
        requests.get(url + "/metrics", timeout=5)
        items = workload.synthetic(100000, workload.Length.parse("fixed:32"), workload.Length.parse("fixed:32"), seed=7)
        job = Job(url, "completions", items, Profile("poisson", rate=float(ceiling) / 2), 3 * seconds, seed=7)  # type: ignore[arg-type]
        if pinned(1):
            os.sched_setaffinity(0, {1})
        output = run(job)
        stamps = {s["prompt_head"]: s for s in requests.get(url + "/debug/timestamps", timeout=30).json()}
        errors = []
        warm = min(r.t_sched for r in output.results) + WARMUP_S
        for result in output.results:
            stamp = stamps.get(f"q{result.index}")
            # After the warm-up: the first requests also pay for opening connections.
            if result.ok and stamp and result.ttft is not None and result.t_sched >= warm:
                errors.append((result.ttft - (stamp["first_write"] - stamp["arrived"])) * 1000)
        health = client_health(job, output, 1)
        return float(ceiling), {"p50": percentile(errors, 50), "p99": percentile(errors, 99), "n": len(errors),  # type: ignore[arg-type]
                                "client_cpu": health["cpu_per_core"]}
    finally:
        sim.terminate()
        sim.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start([PYTHON, str(ROOT / "bench" / "sse_server.py"), str(port)], url, path="")
    try:
        ours, baseline = closed_loop_ceiling(url, args.seconds)
        print(f"1. closed loop, 64-event streams, c=16: tgictl bench {ours:.0f}/s, baseline aiohttp {baseline:.0f}/s, "
              f"ratio {ours / baseline:.2f} (target >= 1.0)")
        python = vllm_python()
        if python is None:
            print("   vllm bench serve: skipped, vLLM is not installed (bash scripts/install-vllm.sh)")
        else:
            theirs = vllm_bench_serve(python, url, int(baseline * args.seconds))
            print(f"   vllm bench serve {theirs:.0f}/s: tgictl bench / vllm bench serve {ours / theirs:.2f} (target >= 1.3)")
        rows = open_loop_rate(url, args.seconds, [250, 500, 750, 1000, 1250, 1500])
        held = [r for r in rows if r[3]]
        for rate, achieved, lag, ok in rows:
            print(f"   poisson {rate:5.0f}/s: achieved {achieved:7.1f}/s, dispatch lag p99 {lag:6.2f} ms {'held' if ok else 'NOT held'}")
        print(f"2. open loop: highest Poisson rate held (lag p99 < 10 ms, >= 95% of schedule): "
              f"{held[-1][0] if held else 0:.0f}/s")
    finally:
        server.terminate()
        server.wait()

    ceiling, error = ttft_error(args.seconds)
    print(f"3. TTFT error vs the simulator's own timestamps at {ceiling / 2:.0f}/s (half its {ceiling:.0f}/s ceiling): "
          f"p50 {error['p50']:.2f} ms, p99 {error['p99']:.2f} ms over {error['n']:.0f} requests, client CPU "
          f"{error['client_cpu']:.0%} (target p99 < 2 ms)")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = start([TGICTL, "sim", "--port", str(port), "--decode-ms", "0", "--decode-ms-per-seq", "0",
                 "--prefill-ms-per-token", "0", "--output-min", "16", "--output-max", "16"], url)
    try:
        capacity = client([TGICTL, "bench", url, "--concurrency", "32", "--duration", str(args.seconds),
                           "--output-len", "fixed:16", "-o", "json"])["request_rate"]
    finally:
        sim.terminate()
        sim.wait()
    print(f"4. simulator capacity (zero model latency, 16 tokens, c=32): {capacity:.0f} req/s = "  # type: ignore[str-format]
          f"{float(capacity) / TEST_SUITE_RATE:.1f}x the ~{TEST_SUITE_RATE:.0f} req/s the tests drive (target >= 3x)")  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
