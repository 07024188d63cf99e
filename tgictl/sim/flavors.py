"""How each engine looks from outside: health while loading, errors, SSE framing.

The simulator serves one flavour at a time, so a cluster running it in place
of TGI, vLLM or llama.cpp sees the probes, error bodies and metric names the
real engine would give. One class per engine; ``FLAVORS`` is the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tgictl.sim.batching import Limits


@dataclass(frozen=True)
class Refusal:
    """An error as the engine words it: HTTP status, body, and TGI's error kind."""

    status: int
    body: dict[str, Any]
    kind: str  # validation | overloaded (TGI's tgi_request_failure err label)

    @property
    def message(self) -> str:
        error = self.body.get("error", self.body.get("message"))
        return error["message"] if isinstance(error, dict) else str(error)


class Flavor:
    name = "base"
    # Every engine writes "data: ". TGI's axum wrote "data:" (no space) up to TGI 2.0.4 (axum 0.6);
    # from 2.1.0 axum 0.7's Event::json_data writes "data: ", and huggingface_hub's stream parser
    # recognises only "data: [DONE]".
    sse_data = "data: "
    listens_while_loading = True
    rejects_when_busy = False  # TGI answers 429 past max-concurrent-requests; others queue
    clamps_to_context = False  # generation stops at the context's end instead of refusing the request
    refuses_before_stream = False  # an invalid streamed request gets an HTTP error, not an in-stream event
    fingerprint = "3.3.5-sim"

    def response_fields(self, kind: str) -> dict[str, Any]:
        """Extra top-level fields of a non-streamed OpenAI response of ``kind``, as the engine sends them."""
        return {}

    def choice_fields(self, kind: str) -> dict[str, Any]:
        """Extra fields of each choice (non-streamed)."""
        return {}

    def message_fields(self) -> dict[str, Any]:
        """Extra fields of a chat choice's message."""
        return {}

    def usage_fields(self) -> dict[str, Any]:
        return {}

    def completion_id(self, kind: str) -> str:
        return ""

    def model_entry(self, model_id: str, limits: Limits) -> dict[str, Any]:
        """One entry of /v1/models."""
        return {"id": model_id, "object": "model", "created": 0, "owned_by": self.name, "max_model_len": limits.max_total_tokens}

    def health(self, loaded: bool) -> tuple[int, Any]:
        return (200, None) if loaded else (503, None)

    def models_ready(self, loaded: bool) -> bool:
        return loaded

    def too_long(self, input_tokens: int, max_new: int, limits: Limits) -> Refusal | None:
        raise NotImplementedError

    def overloaded(self) -> Refusal:
        return Refusal(429, {"error": "Model is overloaded", "error_type": "overloaded"}, "overloaded")

    def bad_request(self, message: str) -> Refusal:
        return Refusal(400, {"error": message, "error_type": "validation"}, "validation")

    def stream_error(self, refusal: Refusal) -> dict[str, Any]:
        """The in-stream error event of an OpenAI-style stream."""
        return {"error": {"message": refusal.message, "http_status_code": refusal.status}}

    def guarded(self, path: str, method: str = "GET") -> bool:
        """Whether an API key, when set, guards this path."""
        return path.startswith("/v1")

    def authorized(self, header: str | None, key: str) -> bool:
        return header == f"Bearer {key}"

    def unauthorized(self) -> Refusal:
        return Refusal(401, {"error": "Unauthorized"}, "authentication")


class TGIFlavor(Flavor):
    name = "tgi"
    # The router binds its port only after warm-up ("Connected").
    listens_while_loading = False
    rejects_when_busy = True

    def health(self, loaded: bool) -> tuple[int, Any]:
        return (200, None) if loaded else (503, {"error": "unhealthy", "error_type": "healthcheck"})

    def too_long(self, input_tokens: int, max_new: int, limits: Limits) -> Refusal | None:
        def validation(message: str) -> Refusal:
            return Refusal(422, {"error": f"Input validation error: {message}", "error_type": "validation"}, "validation")

        if max_new <= 0:
            return validation("`max_new_tokens` must be strictly positive")
        if input_tokens > limits.max_input_tokens:
            return validation(f"`inputs` must have less than {limits.max_input_tokens} tokens. Given: {input_tokens}")
        if input_tokens + max_new > limits.max_total_tokens:
            return validation(f"`inputs` tokens + `max_new_tokens` must be <= {limits.max_total_tokens}. "
                              f"Given: {input_tokens} `inputs` tokens and {max_new} `max_new_tokens`")
        return None

    def bad_request(self, message: str) -> Refusal:
        return Refusal(422, {"error": message, "error_type": "validation"}, "validation")

    def guarded(self, path: str, method: str = "GET") -> bool:
        # Only the inference routes; /health, /info, /metrics and /v1/models stay open.
        # router/src/server.rs (v3.3.5) layers the key check on base_routes only; /chat_tokenize is not one.
        return path in ("/generate", "/generate_stream", "/v1/chat/completions", "/v1/completions", "/vertex",
                        "/invocations", "/tokenize") or (path == "/" and method == "POST")

    def authorized(self, header: str | None, key: str) -> bool:
        # TGI compares the whole header with "Bearer <key>" case-insensitively.
        return header is not None and header.lower() == f"Bearer {key}".lower()

    def unauthorized(self) -> Refusal:
        return Refusal(401, {}, "authentication")  # a bare StatusCode::UNAUTHORIZED: no body

    def model_entry(self, model_id: str, limits: Limits) -> dict[str, Any]:
        # router/src/server.rs (v3.3.5), openai_get_model_info: no context length; /info has it.
        return {"id": model_id, "object": "model", "created": 0, "owned_by": model_id}


class VLLMFlavor(Flavor):
    """vLLM 0.32.0's OpenAI server, as tests/test_vllm_real.py sees it (the same requests to both)."""

    name = "vllm"
    # vLLM binds its socket early but answers HTTP only once the engine is built (measured on
    # 0.32.0: /health times out until "Application startup complete"); not listening is the
    # same failure to a kubelet probe.
    listens_while_loading = False
    # prompt + max_tokens past the context is cut at the context's end; only a prompt or a
    # max_tokens longer than the context is refused, with 400 before any stream starts.
    clamps_to_context = True
    refuses_before_stream = True
    fingerprint = "vllm-0.32.0-sim"

    def too_long(self, input_tokens: int, max_new: int, limits: Limits) -> Refusal | None:
        context = limits.max_total_tokens
        if max_new > context:
            return self._bad(f"max_tokens={max_new} cannot be greater than max_model_len={context}. "
                             f"Please request fewer output tokens. (parameter=max_tokens, value={max_new})", "max_tokens")
        if input_tokens > context:  # vLLM stops counting one past the limit: "at least context + 1"
            return self._bad(f"This model's maximum context length is {context} tokens. However, your prompt contains at least "
                             f"{context + 1} input tokens, which exceeds this limit even without any output tokens. Please reduce "
                             f"the length of the input prompt. (parameter=input_tokens, value={context + 1})", "input_tokens")
        if max_new <= 0:
            return self._bad(f"max_tokens must be at least 1, got {max_new}.", "max_tokens")
        return None

    def bad_request(self, message: str) -> Refusal:
        return self._bad(message, None)

    def _bad(self, message: str, param: str | None) -> Refusal:
        return Refusal(400, {"error": {"message": message, "type": "BadRequestError", "param": param, "code": 400}}, "validation")

    def response_fields(self, kind: str) -> dict[str, Any]:
        fields = {"service_tier": None, "kv_transfer_params": None, "ec_transfer_params": None, "metrics": None}
        if kind == "chat.completion":  # a chat names its prompt at the top; a completion in each choice
            fields |= {"prompt_logprobs": None, "prompt_token_ids": None, "prompt_text": None}
        return fields

    def choice_fields(self, kind: str) -> dict[str, Any]:
        fields = {"stop_reason": None, "token_ids": None, "routed_experts": None}
        if kind != "chat.completion":
            fields |= {"prompt_logprobs": None, "prompt_token_ids": None}
        return fields

    def message_fields(self) -> dict[str, Any]:
        return {"refusal": None, "annotations": None, "audio": None, "function_call": None, "reasoning": None}

    def usage_fields(self) -> dict[str, Any]:
        return {"prompt_tokens_details": None, "completion_tokens_details": None}

    def completion_id(self, kind: str) -> str:
        return ("chatcmpl-" if kind.startswith("chat") else "cmpl-") + "sim"

    def model_entry(self, model_id: str, limits: Limits) -> dict[str, Any]:
        permission = {"id": "modelperm-sim", "object": "model_permission", "created": 0, "allow_create_engine": False,
                      "allow_sampling": True, "allow_logprobs": True, "allow_search_indices": False, "allow_view": True,
                      "allow_fine_tuning": False, "organization": "*", "group": None, "is_blocking": False}
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "vllm", "root": model_id, "parent": None,
                "max_model_len": limits.max_total_tokens, "permission": [permission]}


class LlamaCppFlavor(Flavor):
    name = "llamacpp"

    def health(self, loaded: bool) -> tuple[int, Any]:
        if loaded:
            return 200, {"status": "ok"}
        return 503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}

    def too_long(self, input_tokens: int, max_new: int, limits: Limits) -> Refusal | None:
        if input_tokens < limits.max_total_tokens:
            return None  # llama.cpp stops at the context end instead of refusing
        body = {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                          "type": "exceed_context_size_error", "n_prompt_tokens": input_tokens, "n_ctx": limits.max_total_tokens}}
        return Refusal(400, body, "validation")

    def bad_request(self, message: str) -> Refusal:
        return Refusal(400, {"error": {"code": 400, "message": message, "type": "invalid_request_error"}}, "validation")

    def guarded(self, path: str, method: str = "GET") -> bool:
        return path not in ("/health", "/v1/health")  # /metrics too: scrapes must send the key

    def unauthorized(self) -> Refusal:
        return Refusal(401, {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}, "authentication")


FLAVORS: dict[str, type[Flavor]] = {f.name: f for f in (TGIFlavor, VLLMFlavor, LlamaCppFlavor)}
