"""llama-server as the simulator shows it: its errors, health and ``/metrics``."""

from __future__ import annotations

from typing import Any

from tgictl.sim.batching import Limits, Sequence
from tgictl.sim.flavors import Flavor, Refusal, SimulatorFace
from tgictl.sim.metrics import EngineSideOnly, Registry


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



class LlamaCppMetrics(EngineSideOnly):
    """llama-server's ``/metrics`` (``--metrics``): ``llamacpp:`` counters and gauges."""


    def __init__(self, limits: Limits) -> None:
        r = self.registry = Registry()
        self.limits = limits
        self.prompt_total = r.family("llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed.")
        r.family("llamacpp:prompt_tokens_cached_total", "counter", "Number of prompt tokens served from the cache.")
        self.prompt_seconds = r.family("llamacpp:prompt_seconds_total", "counter", "Prompt process time")
        self.predicted_total = r.family("llamacpp:tokens_predicted_total", "counter", "Number of generation tokens processed.")
        self.predicted_seconds = r.family("llamacpp:tokens_predicted_seconds_total", "counter", "Predict process time")
        self.decode_total = r.family("llamacpp:n_decode_total", "counter", "Total number of llama_decode() calls")
        self.tokens_max = r.family("llamacpp:n_tokens_max", "counter", "Largest observed n_tokens.")
        for name in ("num_draft_tokens", "num_accepted_tokens", "num_drafts"):
            r.family(f"llamacpp:spec_decode_{name}_total", "counter", "Speculative decoding (unused here).")
        self.busy = r.family("llamacpp:n_busy_slots_per_decode", "gauge", "Average number of busy slots per llama_decode() call")
        self.prompt_rate = r.family("llamacpp:prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.")
        self.predicted_rate = r.family("llamacpp:predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.")
        self.processing = r.family("llamacpp:requests_processing", "gauge", "Number of requests processing.")
        self.deferred = r.family("llamacpp:requests_deferred", "gauge", "Number of requests deferred.")
        self._busy_sum = 0
        for family in r.families.values():
            family.set(0) if family.kind == "gauge" else family.inc(0)

    def on_queue(self, waiting: int, running: int, reserved_tokens: int) -> None:
        self.processing.set(running)
        self.deferred.set(waiting)

    def on_step(self, kind: str, seconds: float, batch_size: int) -> None:
        self.decode_total.inc()
        self._busy_sum += batch_size
        self.busy.set(self._busy_sum / self.decode_total.values[()])
        if kind == "prefill":
            self.prompt_seconds.inc(seconds)
        else:
            self.predicted_seconds.inc(seconds)

    def on_finish(self, sequence: Sequence) -> None:
        self.tokens_max.set(max(self.tokens_max.values.get((), 0), sequence.input_tokens + sequence.generated))
        self.prompt_total.inc(sequence.input_tokens)
        self.predicted_total.inc(sequence.generated)
        for rate, total, seconds in ((self.prompt_rate, self.prompt_total, self.prompt_seconds),
                                     (self.predicted_rate, self.predicted_total, self.predicted_seconds)):
            spent = seconds.values.get((), 0.0)
            rate.set(total.values[()] / spent if spent else 0.0)


FACE = SimulatorFace(LlamaCppFlavor, lambda limits, model: LlamaCppMetrics(limits))
