"""The clients users really run, against the simulator's TGI face: every call
huggingface_hub's InferenceClient and the text-generation client make (generate,
stream, details, chat, chat stream, tokenize, errors), and the openai client.
A simulator these clients cannot parse would pass our own tests and fail users."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest
import requests
import text_generation
from huggingface_hub import InferenceClient
from huggingface_hub.errors import OverloadedError, ValidationError
from text_generation import errors as tg_errors

from support.servers import simulator

KEY = "sk-official-clients"
LONG = "word " * 80  # over the simulator's 64-token input limit below
LIMITS = ("--max-input-tokens", "64", "--max-total-tokens", "128", "--decode-ms", "1", "--output-min", "16", "--output-max", "32")
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with simulator(*LIMITS, "--api-key", KEY) as url:
        yield url


@pytest.fixture(scope="module")
def hub(sim: str) -> InferenceClient:
    return InferenceClient(sim, token=KEY)  # `token` works from the floor (0.23) on; `api_key` came later


@pytest.fixture(scope="module")
def tgi(sim: str) -> text_generation.Client:
    return text_generation.Client(sim, headers={"Authorization": f"Bearer {KEY}"})


def test_hub_text_generation(hub: InferenceClient) -> None:
    text = hub.text_generation("Hello", max_new_tokens=5)
    assert isinstance(text, str) and text
    detailed = hub.text_generation("Hello", max_new_tokens=5, details=True)
    assert detailed.details is not None and detailed.details.generated_tokens == 5
    assert len(detailed.details.tokens) == 5 and detailed.details.finish_reason == "length"
    assert "".join(t.text for t in detailed.details.tokens) == detailed.generated_text


def test_hub_text_generation_stream(hub: InferenceClient) -> None:
    pieces = list(hub.text_generation("Hello", max_new_tokens=5, stream=True))
    assert len(pieces) == 5 and all(isinstance(p, str) for p in pieces)
    events = list(hub.text_generation("Hello", max_new_tokens=5, stream=True, details=True))
    assert [e.index for e in events] == [1, 2, 3, 4, 5]
    last = events[-1]
    assert last.details is not None and last.details.generated_tokens == 5
    assert last.generated_text == "".join(e.token.text for e in events)
    assert all(e.details is None and e.generated_text is None for e in events[:-1])


def test_hub_chat_completion(hub: InferenceClient) -> None:
    answer = hub.chat_completion(MESSAGES, max_tokens=6)
    assert answer.choices[0].message.role == "assistant" and answer.choices[0].message.content
    assert answer.usage.completion_tokens == 6


def test_hub_chat_completion_stream_ends_cleanly(hub: InferenceClient) -> None:
    chunks = list(hub.chat_completion(MESSAGES, max_tokens=6, stream=True))
    assert len(chunks) == 6 and chunks[-1].choices[0].finish_reason == "length"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_hub_validation_errors_become_its_exceptions(hub: InferenceClient) -> None:
    with pytest.raises(ValidationError, match="must have less than 64 tokens"):
        hub.text_generation(LONG, max_new_tokens=5)
    with pytest.raises(ValidationError, match="must have less than 64 tokens"):  # in-stream: HTTP 200, then an error event
        list(hub.text_generation(LONG, max_new_tokens=5, stream=True))


def test_text_generation_client(tgi: text_generation.Client) -> None:
    response = tgi.generate("Hello", max_new_tokens=5)
    assert response.generated_text and response.details.generated_tokens == 5
    assert response.details.finish_reason == text_generation.types.FinishReason.Length
    stream = list(tgi.generate_stream("Hello", max_new_tokens=5))
    assert len(stream) == 5 and stream[-1].details is not None
    assert stream[-1].generated_text == "".join(s.token.text for s in stream)


def test_text_generation_async_client(sim: str) -> None:
    async def both() -> tuple[str, list[str]]:
        client = text_generation.AsyncClient(sim, headers={"Authorization": f"Bearer {KEY}"})
        response = await client.generate("Hello", max_new_tokens=4)
        return response.generated_text, [s.token.text async for s in client.generate_stream("Hello", max_new_tokens=4)]

    text, pieces = asyncio.run(both())
    assert text and len(pieces) == 4


def test_text_generation_errors(tgi: text_generation.Client, sim: str) -> None:
    with pytest.raises(tg_errors.ValidationError, match="must have less than 64 tokens"):
        tgi.generate(LONG, max_new_tokens=5)
    with pytest.raises(tg_errors.ValidationError, match="must have less than 64 tokens"):
        list(tgi.generate_stream(LONG, max_new_tokens=5))
    # TGI's 401 is a bare status with no body, and text-generation 0.7 parses every error body
    # as JSON: it fails as it would against real TGI, not with a client error class.
    with pytest.raises(requests.exceptions.JSONDecodeError):
        text_generation.Client(sim).generate("Hello", max_new_tokens=2)


def test_overloaded_is_429_for_both_clients() -> None:
    # The busy stream holds the one slot for 60 s: long enough on a loaded CI machine.
    with simulator("--max-concurrent-requests", "1", "--output-min", "3000", "--output-max", "3000", "--decode-ms", "20") as url:
        busy = requests.post(url + "/generate_stream", json={"inputs": "a", "parameters": {"max_new_tokens": 3000}}, stream=True,
                             timeout=30)
        try:
            next(busy.iter_lines())  # the first token: the one slot is taken
            with pytest.raises(OverloadedError):
                InferenceClient(url).text_generation("Hello", max_new_tokens=2)
            with pytest.raises(tg_errors.OverloadedError):
                text_generation.Client(url).generate("Hello", max_new_tokens=2)
        finally:
            busy.close()


def test_tokenize_and_chat_tokenize(sim: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    tokens = requests.post(sim + "/tokenize", json={"inputs": "Hello world"}, headers=headers, timeout=10).json()
    assert [t["text"] for t in tokens] and all({"id", "text", "start", "stop"} == set(t) for t in tokens)
    chat = requests.post(sim + "/chat_tokenize", json={"messages": MESSAGES}, timeout=10)  # not guarded in TGI
    assert chat.status_code == 200
    body = chat.json()
    assert set(body) == {"tokenize_response", "templated_text"} and "Say hello" in body["templated_text"]


def test_invocations_dispatches_like_sagemaker(sim: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    generate = requests.post(sim + "/invocations", json={"inputs": "Hi", "parameters": {"max_new_tokens": 3}}, headers=headers, timeout=10)
    chat = requests.post(sim + "/invocations", json={"messages": MESSAGES, "max_tokens": 3}, headers=headers, timeout=10)
    completion = requests.post(sim + "/invocations", json={"prompt": "Hi", "max_tokens": 3}, headers=headers, timeout=10)
    assert isinstance(generate.json(), list) and generate.json()[0]["generated_text"]
    assert chat.json()["object"] == "chat.completion" and completion.json()["object"] == "text_completion"
    assert requests.post(sim + "/invocations", json={"inputs": "Hi"}, timeout=10).status_code == 401


def test_openai_client(sim: str) -> None:
    client = openai.OpenAI(base_url=sim + "/v1", api_key=KEY)
    chat = client.chat.completions.create(model="tgi", messages=MESSAGES, max_tokens=5)  # type: ignore[arg-type]
    assert chat.choices[0].message.content and chat.usage is not None and chat.usage.completion_tokens == 5
    chunks = list(client.chat.completions.create(model="tgi", messages=MESSAGES, max_tokens=5, stream=True))  # type: ignore[arg-type]
    assert len(chunks) == 5 and chunks[-1].choices[0].finish_reason == "length"
    completion = client.completions.create(model="tgi", prompt="Hello", max_tokens=5)
    assert completion.choices[0].text
    with pytest.raises(openai.UnprocessableEntityError):
        client.completions.create(model="tgi", prompt=LONG, max_tokens=5)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=sim + "/v1", api_key="wrong").completions.create(model="tgi", prompt="Hello", max_tokens=5)
