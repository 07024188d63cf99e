"""The simulator over real HTTP: responses match TGI's OpenAPI spec, errors
follow TGI's semantics, and each engine flavour shows its own face."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support.openapi import check
from support.servers import simulator

FAST = ("--decode-ms", "1", "--prefill-ms-per-token", "0.01")


@pytest.fixture(scope="module")
def tgi() -> Iterator[str]:
    with simulator(*FAST, "--max-input-tokens", "64", "--max-total-tokens", "128", "--max-batch-total-tokens", "4096") as url:
        yield url


def post(url: str, path: str, body: dict, **kw: object) -> requests.Response:
    return requests.post(url + path, json=body, timeout=10, **kw)  # type: ignore[arg-type]


def sse_events(response: requests.Response) -> list[str]:
    return [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]


def test_generate_matches_openapi(tgi: str) -> None:
    response = post(tgi, "/generate", {"inputs": "Hello world", "parameters": {"max_new_tokens": 5, "details": True}})
    assert response.status_code == 200
    body = response.json()
    check("GenerateResponse", body)
    plain = post(tgi, "/generate", {"inputs": "Hello world", "parameters": {"max_new_tokens": 5}}).json()
    assert set(plain) == {"generated_text"}  # details is off unless asked: serde's default, not the spec's
    assert body["details"]["generated_tokens"] == 5 and body["details"]["finish_reason"] == "length"
    assert response.headers["x-generated-tokens"] == "5" and response.headers["x-prompt-tokens"] == "2"


def test_generate_stream_events_match_openapi_and_end_without_done(tgi: str) -> None:
    response = post(tgi, "/generate_stream", {"inputs": "Hello", "parameters": {"max_new_tokens": 4}}, stream=True)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.raw.read(6) == b"data: "  # axum 0.7 (TGI >= 2.1.0): Event::json_data writes "data: "
    events = sse_events(requests.post(tgi + "/generate_stream", json={"inputs": "Hello", "parameters": {"max_new_tokens": 4}}))
    parsed = [json.loads(e) for e in events]
    assert "[DONE]" not in events and len(parsed) == 4
    for event in parsed:
        check("StreamResponse", event)
    assert [e["index"] for e in parsed] == [1, 2, 3, 4]
    assert parsed[-1]["generated_text"] == "".join(e["token"]["text"] for e in parsed)
    assert parsed[-1]["details"]["finish_reason"] == "length" and parsed[0]["details"] is None


def test_info_and_tokenize_and_models(tgi: str) -> None:
    info = requests.get(tgi + "/info", timeout=5).json()
    check("Info", info)
    assert (info["max_input_tokens"], info["max_total_tokens"]) == (64, 128)
    tokens = post(tgi, "/tokenize", {"inputs": "Hello big world"}).json()
    check("TokenizeResponse", tokens)
    assert [(t["text"], t["start"], t["stop"]) for t in tokens] == [("Hello", 0, 5), (" big", 5, 9), (" world", 9, 15)]
    for model in requests.get(tgi + "/v1/models", timeout=5).json()["data"]:
        check("ModelInfo", model)


def test_chat_and_completions_match_openapi(tgi: str) -> None:
    chat = post(tgi, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}).json()
    check("ChatCompletion", chat)
    assert chat["usage"]["completion_tokens"] == 3 and chat["choices"][0]["finish_reason"] == "length"
    completion = post(tgi, "/v1/completions", {"prompt": "Once upon", "max_tokens": 2}).json()
    check("CompletionFinal", completion)


def test_openai_streams_end_with_done_and_usage(tgi: str) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": True, "stream_options": {"include_usage": True}}
    events = sse_events(post(tgi, "/v1/chat/completions", body))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        check("ChatCompletionChunk", chunk)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
    text_events = sse_events(post(tgi, "/v1/completions", {"prompt": "Once", "max_tokens": 2, "stream": True}))
    assert text_events[-1] == "[DONE]"
    for event in text_events[:-1]:
        check("Chunk", json.loads(event))


def test_token_limits_give_tgi_422(tgi: str) -> None:
    too_long = post(tgi, "/generate", {"inputs": " ".join(["word"] * 100), "parameters": {"max_new_tokens": 1}})
    assert too_long.status_code == 422
    check("ErrorResponse", too_long.json())
    assert too_long.json() == {"error": "Input validation error: `inputs` must have less than 64 tokens. Given: 100",
                               "error_type": "validation"}
    total = post(tgi, "/generate", {"inputs": "Hello", "parameters": {"max_new_tokens": 500}})
    assert total.status_code == 422
    assert "`inputs` tokens + `max_new_tokens` must be <= 128. Given: 1 `inputs` tokens and 500 `max_new_tokens`" in total.json()["error"]


def test_streaming_errors_are_http_200_with_an_error_event(tgi: str) -> None:
    response = post(tgi, "/generate_stream", {"inputs": "Hello", "parameters": {"max_new_tokens": 500}})
    assert response.status_code == 200
    [event] = sse_events(response)
    assert json.loads(event)["error_type"] == "validation"
    chat = post(tgi, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 500, "stream": True})
    assert chat.status_code == 200
    assert json.loads(sse_events(chat)[0])["error"]["http_status_code"] == 422


def test_overload_gives_429_beyond_max_concurrent_requests() -> None:
    with simulator("--decode-ms", "20", "--max-concurrent-requests", "2") as url:
        body = {"inputs": "Hello", "parameters": {"max_new_tokens": 20}}
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = sorted(pool.map(lambda _: post(url, "/generate", body).status_code, range(6)))
        assert statuses.count(200) >= 2 and 429 in statuses
        refused = [r for r in [post(url, "/generate", body)] if r.status_code == 429]
        assert all(r.json() == {"error": "Model is overloaded", "error_type": "overloaded"} for r in refused)
        metrics = requests.get(url + "/metrics", timeout=5).text
        assert 'tgi_request_failure{err="overloaded"}' in metrics


def test_tgi_metrics_names_types_and_buckets(tgi: str) -> None:
    post(tgi, "/generate", {"inputs": "Hello", "parameters": {"max_new_tokens": 3}})
    text = requests.get(tgi + "/metrics", timeout=5).text
    for name, kind in [("tgi_request_count", "counter"), ("tgi_request_success", "counter"), ("tgi_request_duration", "histogram"),
                       ("tgi_request_queue_duration", "histogram"), ("tgi_request_input_length", "histogram"),
                       ("tgi_request_generated_tokens", "histogram"), ("tgi_queue_size", "gauge"),
                       ("tgi_batch_current_size", "gauge"), ("tgi_batch_max_total_tokens", "gauge"),
                       ("tgi_batch_inference_count", "counter")]:
        assert f"# TYPE {name} {kind}" in text
    assert "tgi_request_count_total" not in text  # TGI's exporter adds no _total suffix
    duration_buckets = [line for line in text.splitlines() if line.startswith("tgi_request_duration_bucket")]
    assert len(duration_buckets) == 36  # 35 geometric buckets + Inf
    assert 'le="0.00015"' in duration_buckets[0]
    assert 'tgi_request_input_length_bucket{le="0.64"}' in text  # 100 linear buckets up to max_input_tokens (64)
    assert "tgi_batch_max_total_tokens 4096" in text


def test_queueing_when_the_token_budget_is_full() -> None:
    # Budget of 256 tokens, each request reserves 1 + 100: only two run at once.
    args = ("--decode-ms", "5", "--max-batch-total-tokens", "256", "--max-input-tokens", "10",
            "--max-total-tokens", "128", "--output-min", "100", "--output-max", "100")
    with simulator(*args) as url:
        body = {"inputs": "Hi", "parameters": {"max_new_tokens": 100}}
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(post, url, "/generate", body) for _ in range(4)]
            time.sleep(0.2)
            queued = [line for line in requests.get(url + "/metrics", timeout=5).text.splitlines()
                      if line.startswith(("tgi_queue_size ", "tgi_batch_current_size "))]
            results = [f.result() for f in futures]
        assert sorted(queued) == ["tgi_batch_current_size 2", "tgi_queue_size 2"]
        queue_times = sorted(int(r.headers["x-queue-time"]) for r in results)
        assert queue_times[0] < 100 and queue_times[-1] >= 400  # the last two waited ~100 decode steps


def test_decode_steps_slow_down_as_the_batch_grows() -> None:
    args = ("--decode-ms", "2", "--decode-ms-per-seq", "2", "--output-min", "50", "--output-max", "50")
    with simulator(*args) as url:
        body = {"inputs": "Hi", "parameters": {"max_new_tokens": 50}}
        started = time.perf_counter()
        post(url, "/generate", body)
        alone = time.perf_counter() - started
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            started = time.perf_counter()
            list(pool.map(lambda _: post(url, "/generate", body), range(8)))
            crowded = time.perf_counter() - started
        # 50 steps of 2+2 ms alone (~0.2 s) vs 2+2x8 ms in a batch of 8 (~0.9 s).
        assert crowded > 2.5 * alone


def test_vllm_flavour() -> None:
    with simulator(*FAST, "--engine", "vllm", "--load-seconds", "1.5", "--model-id", "org/m", wait=False) as url:
        from support.servers import wait_until_up

        with pytest.raises(requests.ConnectionError):  # nothing answers while loading, as real vLLM 0.32
            requests.get(url + "/health", timeout=0.5)
        wait_until_up(url, path="/health", require_ok=True)
        assert requests.get(url + "/v1/models", timeout=5).status_code == 200
        assert requests.post(url + "/generate", json={"inputs": "x"}, timeout=5).status_code == 404
        post(url, "/v1/completions", {"prompt": "Hello", "max_tokens": 3})
        text = requests.get(url + "/metrics", timeout=5).text
        assert 'vllm:num_requests_waiting{engine="0",model_name="org/m"}' in text
        assert "# TYPE vllm:time_to_first_token_seconds histogram" in text
        assert 'vllm:generation_tokens_total{engine="0",model_name="org/m"} 3' in text
        too_long = post(url, "/v1/completions", {"prompt": "Hello", "max_tokens": 5000})
        assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "max_tokens"
        assert "cannot be greater than max_model_len=4096" in too_long.json()["error"]["message"]


def test_llamacpp_flavour_reports_loading_with_503() -> None:
    with simulator(*FAST, "--engine", "llamacpp", "--load-seconds", "1.5", wait=False) as url:
        from support.servers import wait_until_up

        wait_until_up(url, path="/health")
        loading = requests.get(url + "/health", timeout=5)
        assert loading.status_code == 503 and loading.json()["error"]["message"] == "Loading model"
        time.sleep(1.6)
        assert requests.get(url + "/health", timeout=5).json() == {"status": "ok"}
        post(url, "/v1/completions", {"prompt": "Hello", "max_tokens": 3})
        assert "llamacpp:tokens_predicted_total 3" in requests.get(url + "/metrics", timeout=5).text


def test_tgi_port_stays_closed_while_loading() -> None:
    with simulator(*FAST, "--load-seconds", "1.5", wait=False) as url:
        time.sleep(0.8)
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/health", timeout=1)
        from support.servers import wait_until_up

        wait_until_up(url, path="/health")
        assert requests.get(url + "/health", timeout=5).status_code == 200


def test_sim_serves_as_the_specs_release_would(tmp_path: Path) -> None:
    """`tgictl sim -f SPEC` takes the spec's engine, model and limits (it once ignored -f entirely);
    a flag the spec decides is refused rather than silently outvoted."""
    import yaml
    from typer.testing import CliRunner

    from support.data import document
    from tgictl.cli.main import app

    doc = document(model={"id": "org/my-model"}, hardware={"accelerator": {"type": "a10g", "count": 1}},
                   serving={"maxTotalTokens": 2048, "maxConcurrentRequests": 16})
    path = tmp_path / "tgi.yaml"
    path.write_text(yaml.safe_dump(doc))
    with simulator("-f", str(path)) as url:
        info = requests.get(url + "/info", timeout=5).json()
    assert (info["model_id"], info["max_total_tokens"], info["max_input_tokens"], info["max_concurrent_requests"]) == (
        "org/my-model", 2048, 2047, 16)
    refused = CliRunner().invoke(app, ["sim", "-f", str(path), "--engine", "vllm", "--max-total-tokens", "4096"])
    assert refused.exit_code == 2
    assert refused.stderr.strip() == "error: with --file the spec sets --engine, --max-total-tokens: edit the spec, or leave --file out"
