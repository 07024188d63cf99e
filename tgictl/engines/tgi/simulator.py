"""TGI as the simulator shows it: its router's routes, errors, health and ``/metrics``."""

from __future__ import annotations

from typing import Any

from tgictl.sim.batching import Limits, Sequence
from tgictl.sim.flavors import Flavor, Refusal, SimulatorFace
from tgictl.sim.metrics import Registry


class TGIFlavor(Flavor):
    name = "tgi"
    # The router binds its port only after warm-up ("Connected").
    listens_while_loading = False
    serves_tgi_routes = True
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


# Every TGI metric ending in "duration": 35 geometric buckets from 0.15 ms.
TGI_DURATION_BUCKETS = tuple(0.00015 * 1.5**k for k in range(35))


def linear_buckets(maximum: int, count: int = 100) -> tuple[float, ...]:
    """TGI's length buckets: ``count`` equal steps up to ``maximum``."""
    return tuple(maximum / count * (k + 1) for k in range(count))


class TGIMetrics:
    """The router's metrics (``router/src/server.rs``, ``backends/v3``)."""


    def __init__(self, limits: Limits) -> None:
        r = self.registry = Registry()
        d = TGI_DURATION_BUCKETS
        self.count = r.family("tgi_request_count", "counter")
        self.success = r.family("tgi_request_success", "counter")
        self.failure = r.family("tgi_request_failure", "counter")
        self.duration = r.family("tgi_request_duration", "histogram", buckets=d)
        self.validation = r.family("tgi_request_validation_duration", "histogram", buckets=d)
        self.queue_duration = r.family("tgi_request_queue_duration", "histogram", buckets=d)
        self.inference = r.family("tgi_request_inference_duration", "histogram", buckets=d)
        self.per_token = r.family("tgi_request_mean_time_per_token_duration", "histogram", buckets=d)
        self.input_length = r.family("tgi_request_input_length", "histogram", buckets=linear_buckets(limits.max_input_tokens))
        self.generated = r.family("tgi_request_generated_tokens", "histogram", buckets=linear_buckets(limits.max_total_tokens))
        self.max_new = r.family("tgi_request_max_new_tokens", "histogram", buckets=linear_buckets(limits.max_total_tokens))
        self.queue_size = r.family("tgi_queue_size", "gauge")
        self.batch_size = r.family("tgi_batch_current_size", "gauge")
        self.batch_tokens = r.family("tgi_batch_current_max_tokens", "gauge")
        r.family("tgi_batch_max_total_tokens", "gauge").set(limits.max_batch_total_tokens)
        self.next_size = r.family("tgi_batch_next_size", "histogram", buckets=range(1, 1025))
        self.batch_count = r.family("tgi_batch_inference_count", "counter")
        self.batch_success = r.family("tgi_batch_inference_success", "counter")
        self.forward = r.family("tgi_batch_forward_duration", "histogram", buckets=d)
        self.batch_inference = r.family("tgi_batch_inference_duration", "histogram", buckets=d)

    # scheduler observer
    def on_queue(self, waiting: int, running: int, reserved_tokens: int) -> None:
        self.queue_size.set(waiting)
        self.batch_size.set(running)
        self.batch_tokens.set(reserved_tokens)

    def on_step(self, kind: str, seconds: float, batch_size: int) -> None:
        method = (("method", kind),)
        self.batch_count.inc(labels=method)
        self.batch_success.inc(labels=method)
        self.forward.observe(seconds, method)
        self.batch_inference.observe(seconds, method)
        if kind == "prefill":
            self.next_size.observe(batch_size)

    def on_finish(self, sequence: Sequence) -> None:
        assert sequence.admitted_at and sequence.finished_at
        total = sequence.finished_at - sequence.enqueued_at
        inference = sequence.finished_at - sequence.admitted_at
        self.success.inc()
        self.duration.observe(total)
        self.queue_duration.observe(sequence.admitted_at - sequence.enqueued_at)
        self.inference.observe(inference)
        self.per_token.observe(inference / max(1, sequence.generated))
        self.generated.observe(sequence.generated)

    # request recorder
    def on_request(self, input_tokens: int, max_new_tokens: int, validation_seconds: float) -> None:
        self.count.inc()
        self.validation.observe(validation_seconds)
        self.input_length.observe(input_tokens)
        self.max_new.observe(max_new_tokens)

    def on_error(self, kind: str) -> None:
        """``kind``: overloaded, validation, incomplete, generation (TGI's ``err`` label)."""
        self.count.inc()
        self.failure.inc(labels=(("err", kind),))

    def expose(self) -> str:
        return self.registry.expose()


FACE = SimulatorFace(TGIFlavor, lambda limits, model: TGIMetrics(limits))
