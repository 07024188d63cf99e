"""Real vLLM (0.32.0, CPU build) started from the chart's own rendered container:
probed as the kubelet probes it, then smoke-tested and benched, with and
without an API key. Substitutions, and only these: `vllm serve MODEL` runs as
`python -m vllm.entrypoints.openai.api_server --model MODEL` (the CPU
distribution's console script cannot find itself), the model id is a local
tiny model, and the server listens on loopback at a free port."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from support.data import ROOT, document
from support.servers import free_port, simulator
from support.streams import read_in_thread
from tgictl.loadgen.client import Timeouts
from tgictl.loadgen.runner import Job, Profile, bench
from tgictl.loadgen.stats import SLOTargets
from tgictl.loadgen.workload import Length, synthetic
from tgictl.render import manifests
from tgictl.smoke.checks import Expectations
from tgictl.smoke.runner import run_smoke
from tgictl.spec.load import parse
from support.vllm import vllm_process, write_tiny_model

# vLLM takes minutes to start on 2 cores: a longer limit than the suite's 300 s.
pytestmark = pytest.mark.timeout(900)

KEY = "sk-real-vllm"
CONTEXT = 1024
# vLLM's own CPU image (docs.vllm.ai, "CPU" installation): the default image is CUDA-only.
CPU_IMAGE = {"repository": "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo", "tag": "v0.32.0"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("vllm-model") / "tiny-llama")


def rendered_pod(model: Path, keyed: bool, **serving: Any) -> dict[str, Any]:
    serving = {"maxTotalTokens": CONTEXT, "maxBatchPrefillTokens": CONTEXT, **serving}
    if keyed:
        serving["apiKeySecret"] = {"name": "llm-keys", "key": "api-key"}
    doc = document(engine={"name": "vllm"}, model={"id": str(model)}, image=CPU_IMAGE,
                   hardware={"cpu": "2", "memory": "4Gi"}, serving=serving)
    objects = manifests.render(parse(doc))
    deployment = next(o.obj for o in objects if o.kind == "Deployment")
    return dict(deployment["spec"]["template"]["spec"])


def rendered_container(model: Path, keyed: bool) -> dict[str, Any]:
    return dict(rendered_pod(model, keyed)["containers"][0])


@dataclass
class Started:
    url: str
    container: dict[str, Any]
    became_ready_s: float
    log: Path


def _kubelet_probe(url: str, probe: dict[str, Any]) -> bool:
    """One HTTP probe as the kubelet sends it: GET, no headers of ours, the probe's timeout;
    success is a status from 200 to 399 (pkg/probe/http/http.go)."""
    try:
        status = requests.get(url + probe["httpGet"]["path"], timeout=probe.get("timeoutSeconds", 1), allow_redirects=False).status_code
    except requests.RequestException:
        return False
    return 200 <= status < 400


def _args_outside_kubernetes(container: dict[str, Any], model: Path, port: int) -> list[str]:
    assert container["command"] == ["vllm", "serve"]
    args = list(container["args"])
    assert args[0] == str(model)  # the positional model `vllm serve` takes
    args = ["--model", *args]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    return args


@pytest.fixture(scope="module", params=[False, True], ids=["no-key", "api-key"])
def started(request: pytest.FixtureRequest, model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    keyed: bool = request.param
    container = rendered_container(model, keyed)
    with serving(container, model, keyed, tmp_path_factory.mktemp("vllm-run")) as (started, _):
        yield started


@contextlib.contextmanager
def serving(container: dict[str, Any], model: Path, keyed: bool, scratch: Path,
            args: Callable[[list[str]], list[str]] = lambda a: a,
            compile_cache: Path | None = None) -> Iterator[tuple[Started, subprocess.Popen[bytes]]]:
    """Real vLLM started from ``container`` (its args passed through ``args``), once the startup and
    readiness probes pass as the kubelet sends them."""
    port = free_port()
    env = pod_paths(container, scratch, compile_cache)
    if keyed:
        secret = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
        assert secret["valueFrom"]["secretKeyRef"] == {"name": "llm-keys", "key": "api-key"}
        env["VLLM_API_KEY"] = KEY  # what the kubelet would read from the Secret
    log = scratch / "vllm.log"
    url = f"http://127.0.0.1:{port}"
    startup, readiness = container["startupProbe"], container["readinessProbe"]
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    with vllm_process(args(_args_outside_kubernetes(container, model, port)), log, env) as process:
        began = time.monotonic()
        while not _kubelet_probe(url, startup):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() - began < min(budget, 600), "the startup probe never passed:\n" + log.read_text()[-3000:]
            time.sleep(1)
        ready_after = time.monotonic() - began
        assert _kubelet_probe(url, readiness), "ready for the startup probe but not the readiness probe"
        yield Started(url, container, ready_after, log), process


POD_HOME = "/home/vllm"


def pod_paths(container: dict[str, Any], scratch: Path, compile_cache: Path | None = None) -> dict[str, str]:
    """The container's env with the pod's paths made local: its HOME (a scratch emptyDir) is a fresh
    directory in ``scratch``, and the compile cache (a subPath of the cache volume) ``compile_cache``
    when given, else a directory in that home."""
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    assert env["HOME"] == POD_HOME
    (scratch / "home").mkdir()
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    cache_root = env["VLLM_CACHE_ROOT"]
    assert mounts[cache_root]["subPath"] == "compile-cache/vllm"  # on the cache volume, not in the scratch home
    local = {cache_root: str(compile_cache or scratch / "home" / ".cache" / "vllm"), POD_HOME: str(scratch / "home")}
    for name, value in env.items():
        pod_path = next((p for p in local if value == p or value.startswith(p + "/")), None)
        if pod_path:
            env[name] = local[pod_path] + value[len(pod_path):]
    return env


def _headers(started: Started) -> dict[str, str]:
    keyed = any(e["name"] == "VLLM_API_KEY" for e in started.container.get("env", []))
    return {"Authorization": f"Bearer {KEY}"} if keyed else {}


def test_probes_pass_only_once_the_engine_serves(started: Started) -> None:
    """Ready means it serves: a completion right after the probes passed succeeds."""
    assert started.container["readinessProbe"]["httpGet"]["path"] == "/health"
    done = requests.post(started.url + "/v1/completions", headers=_headers(started), timeout=60,
                         json={"model": started.container["args"][0], "prompt": "Hello", "max_tokens": 4})
    assert done.status_code == 200, done.text
    log = started.log.read_text()
    assert "Application startup complete" in log and "KV cache size" in log


def test_the_capacity_deploy_reads_from_the_log_is_the_one_vllm_reports(started: Started) -> None:
    """What deploy reads of vLLM's start-up log is what vLLM itself says on /metrics
    (vllm:cache_config_info carries the cache config, kv_cache_size_tokens included)."""
    from tgictl.engines import REGISTRY
    from tgictl.engines.base import logged_capacity

    found = logged_capacity(REGISTRY["vllm"].facts, started.log.read_text().splitlines())
    metrics = requests.get(started.url + "/metrics", headers=_headers(started), timeout=10).text
    info = re.search(r"^vllm:cache_config_info\{(.*)\}", metrics, re.M)
    assert info is not None, metrics[:2000]
    labels = dict(re.findall(r'(\w+)="([^"]*)"', info.group(1)))
    assert found is not None and found.kv_tokens == int(labels["kv_cache_size_tokens"]) > CONTEXT, (found, labels)
    assert found.request_tokens == CONTEXT


def test_keyed_server_guards_the_api_but_not_the_probe(started: Started) -> None:
    if not _headers(started):
        pytest.skip("no key")
    assert requests.get(started.url + "/v1/models", timeout=10).status_code == 401  # why the old probe never passed
    assert requests.get(started.url + "/health", timeout=10).status_code == 200
    assert requests.get(started.url + "/v1/models", headers=_headers(started), timeout=10).status_code == 200


def test_smoke_passes_on_real_vllm(started: Started) -> None:
    expect = Expectations(max_total_tokens=CONTEXT, model_id=started.container["args"][0])
    report = asyncio.run(run_smoke(started.url, expect, headers=_headers(started)))
    assert report.engine == "vllm"
    assert report.passed, [c for c in report.checks if c.status == "fail"]
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["token-limit"] == "pass" and statuses["metrics"] == "pass"


def test_bench_on_real_vllm(started: Started) -> None:
    items = synthetic(16, Length.parse("fixed:16"), Length.parse("fixed:8"), seed=0)
    job = Job(started.url, "completions", items, Profile("concurrency", 1.0, 2), 30.0, 8, started.container["args"][0],
              Timeouts(read=60, total=300), 0, headers=_headers(started))
    result = bench(job, SLOTargets(None, None, None), 1, None)
    assert result.summary["succeeded"] == 8 and result.summary["failed"] == 0, result.summary["errors"]
    assert result.summary["token_source"] == {"server": 8} and result.summary["ttft_ms"]["p50"] > 0


# --- rollouts and scale-down: SIGTERM with streams in flight -------------------------------

DRAIN_S = 30  # serving.gracefulTerminationSeconds for the drain test
LONG_STREAM = 900  # tokens: seconds of decoding on 2 cores, so SIGTERM lands mid-stream


def without_shutdown_timeout(args: list[str]) -> list[str]:
    at = args.index("--shutdown-timeout")
    return args[:at] + args[at + 2:]


def exit_seconds(process: subprocess.Popen[bytes], within: float) -> float | None:
    """Seconds until ``process`` exits, or None when it is still running after ``within``."""
    began = time.monotonic()
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic() - began


@pytest.mark.parametrize("rendered", [True, False], ids=["rendered-args", "vllm-default"])
def test_sigterm_lets_in_flight_streams_finish(rendered: bool, model: Path, tmp_path: Path) -> None:
    """What the kubelet does on a rollout: SIGTERM to the container's first process (after the
    preStop sleep). The rendered --shutdown-timeout lets a long stream finish and vLLM then exits
    within the pod's grace period. vLLM's own default (0) aborts it: the client gets a few tokens,
    then finish_reason "abort" or a cut connection (both seen)."""
    pod = rendered_pod(model, False, gracefulTerminationSeconds=DRAIN_S)
    container = dict(pod["containers"][0])
    assert container["args"][container["args"].index("--shutdown-timeout") + 1] == str(DRAIN_S)
    after_pre_stop = pod["terminationGracePeriodSeconds"] - container["lifecycle"]["preStop"]["sleep"]["seconds"]
    with serving(container, model, False, tmp_path, args=(lambda a: a) if rendered else without_shutdown_timeout) as (started, process):
        body = {"model": str(model), "prompt": "Hello", "max_tokens": LONG_STREAM, "ignore_eos": True}
        streamed, reader = read_in_thread(started.url, body)
        assert streamed.started.wait(120) and streamed.events >= 5, streamed
        process.send_signal(signal.SIGTERM)
        exited_after = exit_seconds(process, after_pre_stop) if rendered else None
        reader.join(timeout=30 if rendered else 15)
        log = started.log.read_text()
    reader.join(timeout=30)  # the group is stopped: a stream left open ends now
    if rendered:
        assert exited_after is not None, f"vLLM still running {after_pre_stop}s after SIGTERM (SIGKILL):\n{log[-2000:]}"
        assert (streamed.done, streamed.finish_reason, streamed.completion_tokens) == (True, "length", LONG_STREAM), (streamed, log[-2000:])
        assert f"mode=drain timeout={DRAIN_S}s" in log
    else:
        assert (streamed.completion_tokens or 0) < LONG_STREAM and streamed.finish_reason != "length", \
            f"vLLM's default no longer aborts ({streamed}): revisit the rendered flag"
        assert "mode=abort" in log, log[-2000:]


def _kernels(cache: Path) -> set[Path]:
    """The compiled kernels (shared objects Inductor built) in a compile cache."""
    return set(cache.rglob("*.so"))


def _engine_init_s(log: Path) -> float:
    """What vLLM logs for building its engine: profiling, KV cache, warm-up and compilation."""
    found = re.findall(r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+) s", log.read_text())
    assert found, log.read_text()[-3000:]
    return float(found[-1])


def test_a_later_pod_loads_what_the_first_compiled(model: Path, tmp_path: Path) -> None:
    """The rendered pod keeps vLLM's compile cache on the cache volume (compile-cache/vllm). Three pods,
    each with its own scratch home as in Kubernetes: the first compiles into the volume; a second,
    with an empty volume of its own, compiles again (the control: same machine, same warm page cache);
    the third, on the first's volume, builds no kernel and starts its engine faster than the control."""
    container = rendered_container(model, False)
    volume, other = tmp_path / "volume" / "compile-cache" / "vllm", tmp_path / "other" / "compile-cache" / "vllm"
    init: dict[str, float] = {}
    for pod, cache in (("first", volume), ("control", other), ("later", volume)):
        (tmp_path / pod).mkdir()
        before = _kernels(cache)
        with serving(container, model, False, tmp_path / pod, compile_cache=cache) as (started, _):
            init[pod] = _engine_init_s(started.log)
        built = _kernels(cache) - before
        assert bool(built) == (pod != "later"), (pod, sorted(built))
    assert init["later"] < 0.7 * init["control"], init


def _overflow_refusal(url: str, model: str) -> tuple[int, Any]:
    """Eight long requests at once against a limit of two: the status and body of a refused one."""
    def send(_: int) -> requests.Response:
        return requests.post(url + "/v1/completions", json={"model": model, "prompt": "hello", "max_tokens": 200}, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    refused = [a for a in answers if a.status_code != 200]
    assert refused, [a.status_code for a in answers]
    return refused[0].status_code, refused[0].json()


def test_max_concurrent_requests_bounds_vllms_queue(model: Path, tmp_path: Path) -> None:
    """serving.maxConcurrentRequests renders --max-num-queued-reqs: past it real vLLM answers 503,
    which bench counts as overloaded (as TGI's 429), not as a server error."""
    container = dict(rendered_pod(model, False, maxConcurrentRequests=2)["containers"][0])
    assert container["args"][container["args"].index("--max-num-queued-reqs") + 1] == "2"
    with serving(container, model, False, tmp_path) as (started, _):
        items = synthetic(24, Length.parse("fixed:8"), Length.parse("fixed:200"), seed=0)
        job = Job(started.url, "completions", items, Profile("concurrency", 1.0, 8), 60.0, 24, str(model),
                  Timeouts(read=60, total=120), 0)
        run = bench(job, SLOTargets(None, None, None), 1, None)
        summary = run.summary
        rejected = requests.post(started.url + "/v1/completions", json={"model": str(model), "prompt": "x", "max_tokens": 1},
                                 timeout=30)
        metrics = requests.get(started.url + "/metrics", timeout=10).text
        real_refusal = _overflow_refusal(started.url, str(model))
    with simulator("--engine", "vllm", "--model-id", str(model), "--max-num-queued-reqs", "2", "--decode-ms", "20") as twin:
        assert _overflow_refusal(twin, str(model)) == real_refusal  # the simulator's vLLM face refuses alike
    assert real_refusal[0] == 503
    assert summary["succeeded"] >= 2 and summary["errors"].get("overloaded", 0) >= 1, summary
    assert set(summary["errors"]) == {"overloaded"}, {r.error for r in run.results if not r.ok}
    assert rejected.status_code == 200  # idle again: admitted
    assert 'vllm:admission_rejections_total{' in metrics and 'reason="max_num_queued_reqs"' in metrics


# --- the simulator's vLLM face against the real thing ---------------------------------------


@pytest.fixture(scope="module")
def twin(model: Path) -> Iterator[str]:
    """The simulator as vLLM, with the real server's context and model name."""
    from support.servers import simulator

    with simulator("--engine", "vllm", "--model-id", str(model), "--max-input-tokens", str(CONTEXT - 1),
                   "--max-total-tokens", str(CONTEXT), "--decode-ms", "1") as url:
        yield url


def _keys(value: Any) -> Any:
    """The shape of a JSON value: its keys, recursively (lists by their first item), not its values."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(value[0])] if value else []
    return type(value).__name__ if value is not None else None


def _both(started: Started, twin: str, method: str, path: str,
          body: dict[str, Any] | None = None) -> tuple[requests.Response, requests.Response]:
    def one(url: str) -> requests.Response:
        return requests.request(method, url + path, json=body, headers=_headers(started) if url == started.url else {}, timeout=120)

    return one(started.url), one(twin)


SAME_SHAPE = [
    ("GET", "/v1/models", None),
    ("POST", "/v1/completions", {"prompt": "Hello", "max_tokens": 4}),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}),
    ("POST", "/v1/completions", {"prompt": "Hello", "max_tokens": CONTEXT + 1}),  # max_tokens past the context
    ("POST", "/v1/completions", {"prompt": "hello " * (CONTEXT + 50), "max_tokens": 4}),  # prompt past the context
    ("POST", "/v1/completions", {"prompt": "hello " * (CONTEXT + 50), "max_tokens": 4, "stream": True}),  # refused before streaming
]


@pytest.mark.parametrize(("method", "path", "body"), SAME_SHAPE, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(SAME_SHAPE)])
def test_simulator_answers_in_real_vllms_shape(started: Started, twin: str, method: str, path: str, body: dict[str, Any] | None) -> None:
    if body is not None:
        body = {**body, "model": started.container["args"][0]}
    real, simulated = _both(started, twin, method, path, body)
    assert simulated.status_code == real.status_code, real.text[:300]
    real_shape, simulated_shape = _keys(real.json()), _keys(simulated.json())
    if path == "/v1/models":  # the values differ (created, permission ids); the fields must not
        assert simulated_shape == real_shape
    else:
        assert simulated_shape == real_shape, (real.text[:400], simulated.text[:400])
    if real.status_code == 400:
        assert real.json()["error"]["param"] == simulated.json()["error"]["param"]
        assert real.json()["error"]["message"].split(" (parameter=")[0].split(".")[0] == \
            simulated.json()["error"]["message"].split(" (parameter=")[0].split(".")[0]


def test_simulator_streams_in_real_vllms_framing(started: Started, twin: str) -> None:
    body = {"model": started.container["args"][0], "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "stream": True}
    real, simulated = _both(started, twin, "POST", "/v1/chat/completions", body)
    for response in (real, simulated):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = response.text.split("\n\n")
        assert events[-1] == "" and events[-2] == "data: [DONE]"
        assert all(e.startswith("data: {") for e in events[:-2])
    real_chunks = [_keys(json.loads(e[6:])) for e in real.text.split("\n\n")[:-2]]
    simulated_chunks = [_keys(json.loads(e[6:])) for e in simulated.text.split("\n\n")[:-2]]
    real_fields = {k for chunk in real_chunks for k in chunk} | {"usage"}
    assert {k for chunk in simulated_chunks for k in chunk} <= real_fields  # nothing real vLLM never sends


def test_unauthorized_bodies_match(started: Started, twin: str, model: Path) -> None:
    if not _headers(started):
        pytest.skip("no key on this server")
    from support.servers import simulator

    real = requests.get(started.url + "/v1/models", timeout=10)
    with simulator("--engine", "vllm", "--api-key", KEY) as keyed_twin:
        simulated = requests.get(keyed_twin + "/v1/models", timeout=10)
    assert (simulated.status_code, simulated.json()) == (real.status_code, real.json())


# --- metrics and monitoring on real vLLM -------------------------------------------------------


def _families(metrics_text: str) -> dict[str, str]:
    """vLLM's metric families and types from its /metrics, without the *_created gauges."""
    found = {}
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE vllm:"):
            _, _, name, kind = line.split()
            if not name.endswith("_created"):
                found[name] = kind
    return found


def test_rules_know_every_metric_real_vllm_exposes(started: Started) -> None:
    from tgictl.engines.vllm import METRICS_NOT_READ, metrics_read_by_rules

    exposed = _families(requests.get(started.url + "/metrics", timeout=10).text)
    read = metrics_read_by_rules()
    assert read - set(exposed) == set(), "the rules read names this vLLM does not expose"
    assert set(exposed) - read - METRICS_NOT_READ == set(), "this vLLM exposes names the rules neither read nor list as unread"


def test_simulator_metrics_are_real_vllm_names_and_types(started: Started, twin: str) -> None:
    requests.post(twin + "/v1/completions", json={"prompt": "Hi", "max_tokens": 2}, timeout=30)
    real = _families(requests.get(started.url + "/metrics", timeout=10).text)
    simulated = _families(requests.get(twin + "/metrics", timeout=10).text)
    assert simulated and {name: real.get(name) for name in simulated} == simulated


def test_rules_dashboards_and_autoscaler_read_real_vllm(started: Started, twin: str, tmp_path: Path) -> None:
    """A real Prometheus scrapes real vLLM (release demo-vllm) beside the simulator's vLLM face
    (demo-vllm-sim), both under load: every llm: rule has data for the real one, every dashboard
    query with data for the simulator has data for the real one, and so does the KEDA query."""
    import yaml

    from support.monitoring import NAMESPACE, fast_groups, prometheus, query, scrape_job

    if _headers(started):
        pytest.skip("monitoring is checked on the server without a key (vLLM's /metrics needs none either way)")
    deployments = {"demo-vllm": started.url, "demo-vllm-sim": twin}
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [g for d in deployments for g in fast_groups("vllm", d)]}, sort_keys=False))
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(rules)],
              "scrape_configs": [scrape_job("vllm", url, d) for d, url in deployments.items()]}
    model = started.container["args"][0]
    with prometheus(config, tmp_path) as prom:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(query(prom, "up == 1")) < len(deployments):
            time.sleep(0.5)
        items = synthetic(200, Length.parse("fixed:16"), Length.parse("fixed:16"), seed=1)
        for url in deployments.values():
            bench(Job(url, "completions", items, Profile("concurrency", 0.0, 4), 6.0, 0, model, Timeouts(read=60, total=300)),
                  SLOTargets(None, None, None))
        deadline = time.monotonic() + 60
        generating = [f'llm:generated_tokens:rate5m{{deployment="{d}"}} > 0' for d in deployments]
        while time.monotonic() < deadline and not all(query(prom, expr) for expr in generating):
            time.sleep(1)
        time.sleep(3)
        records = [r["record"] for g in fast_groups("vllm", "demo-vllm") for r in g["rules"] if "record" in r]
        assert records and [r for r in records if not query(prom, f'{r}{{deployment="demo-vllm"}}')] == []
        missing = []
        for board in sorted((ROOT / "dashboards").glob("*.json")):
            for panel in json.loads(board.read_text())["panels"]:
                for target in panel["targets"]:
                    expr = target["expr"].replace("$namespace", NAMESPACE)
                    on_twin, on_real = (query(prom, expr.replace("$deployment", d)) for d in ("demo-vllm-sim", "demo-vllm"))
                    if on_twin and not on_real:
                        missing.append(f"{board.stem}: {panel['title']}")
        assert missing == []
        doc = document(engine={"name": "vllm"}, model={"id": model}, image=CPU_IMAGE, hardware={"cpu": "2", "memory": "4Gi"},
                       serving={"maxTotalTokens": CONTEXT}, monitoring={"enabled": True}, autoscaling={"enabled": True, "target": 4})
        doc["metadata"] = {"name": "demo-vllm", "namespace": NAMESPACE}
        scaled = next(o.obj for o in manifests.render(parse(doc)) if o.kind == "ScaledObject")
        keda_query = scaled["spec"]["triggers"][0]["metadata"]["query"]
        assert query(prom, keda_query), keda_query


# --- deploy reads real vLLM's start-up and failure logs ---------------------------------------


def test_real_vllm_start_replays_through_every_phase(started: Started, cluster: Any, helm_log: Path, tmp_path: Path) -> None:
    from support.cluster_fixtures import deployed_phases, replay, spec_file

    if _headers(started):
        pytest.skip("one real start is enough: the server without a key")
    lines = [line for line in started.log.read_text().splitlines() if line.strip() and not line.startswith("INFO:     127.0.0.1")]
    replay(cluster, lines)
    assert deployed_phases(spec_file(tmp_path, engine={"name": "vllm"})) == ["starting", "download", "load", "warmup", "ready"]


FAILURES = {
    "kv-cache-too-small": (["--max-model-len", "2000000"], {"VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1"},
                           "vLLM's KV cache cannot hold one sequence of max-model-len: lower serving.maxTotalTokens"),
    "model-not-cached-offline": (["--model", "nobody/missing-model"], {"HF_HUB_OFFLINE": "1"},
                                 "the weights are not in the cache and the Hub is off (cache.offline)"),
    "model-path-missing": (["--model", "/models/not-mounted"], {},
                           "model.id is neither a Hub id (org/name) nor a path that exists in the container"),
}


@pytest.mark.slow
@pytest.mark.parametrize("failure", FAILURES)
def test_real_vllm_failures_are_named(failure: str, model: Path, cluster: Any, helm_log: Path, tmp_path: Path) -> None:
    """Real vLLM fails as it would in the pod; deploy names the cause, both while the container still
    runs (its log so far) and after it restarted (the previous container's log)."""
    from support.cluster_fixtures import deploy_failure, spec_file
    from support.fake_kube import Step, pod

    extra, env, words = FAILURES[failure]
    args = ["--model", str(model), "--host", "127.0.0.1", "--port", str(free_port()), *extra]
    log = tmp_path / "vllm.log"
    with vllm_process(args, log, env) as process:
        assert process.wait(timeout=300) != 0
    lines = log.read_text().splitlines()
    path = spec_file(tmp_path, engine={"name": "vllm"})
    cluster.steps = [Step(pod(running=True), [], lines)]
    assert words in deploy_failure(path)
    cluster.steps = [Step(pod(running=True), [], lines[:3]), Step(pod(waiting="CrashLoopBackOff", restarts=1), [], [], lines)]
    assert words in deploy_failure(path)


# --- the planner's KV cache against vLLM's own figure ---------------------------------------------

BLOCK = 128  # vLLM 0.32's CPU KV block, in tokens (its logged capacities are whole blocks of it)
KV_SPACE = 1 << 30  # VLLM_CPU_KVCACHE_SPACE=1: exactly 1 GiB of KV cache, no fraction, no profiling


def vllm_logged_capacity(bytes_per_token: int, layer_kinds: list[str], max_model_len: int) -> int:
    """The 'KV cache size: N tokens' vLLM 0.32 logs, from tgictl's KV bytes per token.
    vLLM groups layers by kind (full or sliding attention) into equal-size groups sharing one
    pool of blocks, and reports max_model_len x how many full-length requests fit
    (kv_cache_utils.get_kv_cache_capacity); a sliding-window group holds one block more per
    request than its window needs (kv_cache_interface.SlidingWindowSpec.max_memory_usage_bytes)."""
    kinds = sorted(set(layer_kinds))
    block_bytes = BLOCK * bytes_per_token // len(kinds)  # one block of one group: its share of the layers
    blocks = KV_SPACE // block_bytes
    per_request = sum(-(-max_model_len // BLOCK) + (kind == "sliding") for kind in kinds)
    return int(blocks / per_request * max_model_len)


def _layer_kinds(config: dict[str, Any]) -> list[str]:
    if config.get("layer_types"):
        return ["sliding" if kind == "sliding_attention" else "full" for kind in config["layer_types"]]
    sliding = config.get("sliding_window") and config.get("use_sliding_window") is not False
    return ["sliding" if sliding else "full"] * config["num_hidden_layers"]


ARCHITECTURES = ["llama", "mistral", "qwen2", "qwen3", "gemma2", "phi3", "mixtral"]


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_planned_kv_bytes_give_vllms_own_kv_capacity(architecture: str, tmp_path: Path) -> None:
    import re

    from tgictl.model import files as model_files
    from tgictl.plan.planner import PlanRequest, plan

    model = write_tiny_model(tmp_path / architecture, architecture)
    planned = plan(PlanRequest(files=model_files.resolve(str(model)), accelerator="cpu", count=None, engine="vllm",
                               engine_version="0.32.0", cpu_memory_bytes=8 << 30))
    log = tmp_path / "vllm.log"
    args = ["--model", str(model), "--host", "127.0.0.1", "--port", str(free_port()), "--max-model-len", str(CONTEXT), "--enforce-eager"]
    with vllm_process(args, log) as process:  # stopped once it has logged its KV cache: serving is not needed
        deadline = time.monotonic() + 240
        while not (found := re.search(r"KV cache size: ([\d,]+) tokens", log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    logged = int(found.group(1).replace(",", ""))
    config = json.loads((model / "config.json").read_text())
    assert logged == vllm_logged_capacity(planned.kv_bytes_per_token, _layer_kinds(config), CONTEXT), \
        f"{architecture}: vLLM logged {logged} tokens, tgictl plans {planned.kv_bytes_per_token} B/token"
