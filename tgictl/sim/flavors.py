"""How each engine looks from outside: health while loading, errors, SSE framing.

The simulator serves one flavour at a time, so a cluster running it in place
of TGI, vLLM or llama.cpp sees the probes, error bodies and metric names the
real engine would give. ``Flavor`` holds what engines share; each engine's own
subclass lives in its package (``tgictl/engines/<name>/simulator.py``).
"""

from __future__ import annotations

from collections.abc import Callable
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

    def admission_limit(self, limits: Limits) -> int | None:
        """In-flight requests past which the engine refuses a new one (``overloaded``); None: it queues them all."""
        return limits.max_concurrent_requests if self.rejects_when_busy else None
    clamps_to_context = False  # generation stops at the context's end instead of refusing the request
    refuses_before_stream = False  # an invalid streamed request gets an HTTP error, not an in-stream event
    fingerprint = "3.3.5-sim"
    serves_tgi_routes = False  # TGI's own routes: /generate, /info, /tokenize, POST / ...

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


@dataclass(frozen=True)
class SimulatorFace:
    """What the simulator needs of an engine: its flavour, and a factory of its metrics
    recorder from the limits and the model id. Each engine package exports one as FACE."""

    flavor: type[Flavor]
    metrics: Callable[[Limits, str], Any]
