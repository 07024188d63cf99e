"""Prometheus text exposition with each engine's own metric names, types and buckets.

We write the format ourselves rather than use prometheus_client because the
engines break its conventions on purpose: TGI's counters have no ``_total``
suffix and its series appear only after their first observation. Each
flavour (``TGIMetrics``, ``VLLMMetrics``, ``LlamaCppMetrics``) is a scheduler
observer plus a request recorder that renders ``/metrics`` like its engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from tgictl.sim.batching import Limits, Sequence

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{v}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return repr(int(value)) if float(value).is_integer() else repr(value)


@dataclass
class Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str = ""
    buckets: tuple[float, ...] = ()
    values: dict[Labels, float] = field(default_factory=dict)
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=dict)

    def inc(self, amount: float = 1.0, labels: Labels = ()) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def set(self, value: float, labels: Labels = ()) -> None:
        self.values[labels] = value

    def observe(self, value: float, labels: Labels = ()) -> None:
        counts = self.counts.setdefault(labels, [0] * (len(self.buckets) + 1))
        # Cumulative buckets are built at exposition time; here count per slot.
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                counts[index] += 1
                break
        else:
            counts[-1] += 1
        self.sums[labels] = self.sums.get(labels, 0.0) + value

    def expose(self) -> Iterable[str]:
        if not self.values and not self.counts:
            return  # like TGI's exporter: no series before the first observation
        if self.help:
            yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(labels)} {_num(value)}"
        for labels, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts):
                running += count
                yield f"{self.name}_bucket{_labels(labels, f'le={_q(_num(bound))}')} {running}"
            yield f"{self.name}_sum{_labels(labels)} {_num(self.sums[labels])}"
            yield f"{self.name}_count{_labels(labels)} {running}"


def _q(text: str) -> str:
    return f'"{text}"'


class Registry:
    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def family(self, name: str, kind: str, help: str = "", buckets: Iterable[float] = ()) -> Family:
        if name not in self.families:
            self.families[name] = Family(name, kind, help, tuple(buckets))
        return self.families[name]

    def expose(self) -> str:
        lines: list[str] = []
        for family in self.families.values():
            block = list(family.expose())
            if block:
                lines.extend(block)
                lines.append("")
        return "\n".join(lines)


# --- TGI --------------------------------------------------------------------------

# Every TGI metric ending in "duration": 35 geometric buckets from 0.15 ms.
TGI_DURATION_BUCKETS = tuple(0.00015 * 1.5**k for k in range(35))


def linear_buckets(maximum: int, count: int = 100) -> tuple[float, ...]:
    """TGI's length buckets: ``count`` equal steps up to ``maximum``."""
    return tuple(maximum / count * (k + 1) for k in range(count))


class TGIMetrics:
    """The router's metrics (``router/src/server.rs``, ``backends/v3``)."""

    engine = "tgi"

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


class _EngineSideOnly:
    """For engines whose metrics come from the engine loop only: no per-request
    counters at admission (vLLM, llama.cpp count requests when they finish)."""

    registry: Registry

    def on_request(self, input_tokens: int, max_new_tokens: int, validation_seconds: float) -> None:
        pass

    def on_error(self, kind: str) -> None:
        pass

    def expose(self) -> str:
        return self.registry.expose()


# --- vLLM ----------------------------------------------------------------------------

VLLM_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                        2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
VLLM_ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
VLLM_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)


class VLLMMetrics(_EngineSideOnly):
    """vLLM's V1 engine metrics (``vllm:`` prefix, ``model_name`` label)."""

    engine = "vllm"

    def __init__(self, limits: Limits, model: str) -> None:
        r = self.registry = Registry()
        self.limits = limits
        self.model = (("engine", "0"), ("model_name", model))
        self.running = r.family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.")
        self.waiting = r.family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.")
        self.kv_usage = r.family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.")
        self.prompt = r.family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.")
        self.generation = r.family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.")
        self.success = r.family("vllm:request_success_total", "counter", "Count of successfully processed requests.")
        self.ttft = r.family("vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.", VLLM_LATENCY_BUCKETS)
        self.itl = r.family("vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.", VLLM_ITL_BUCKETS)
        self.e2e = r.family("vllm:e2e_request_latency_seconds", "histogram", "Histogram of e2e request latency in seconds.", VLLM_E2E_BUCKETS)
        self.queue = r.family("vllm:request_queue_time_seconds", "histogram", "Histogram of time spent in WAITING phase for request.", VLLM_E2E_BUCKETS)
        self.prompt_len = r.family("vllm:request_prompt_tokens", "histogram", "Number of prefill tokens processed.", (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000))
        self.gen_len = r.family("vllm:request_generation_tokens", "histogram", "Number of generation tokens processed.", (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000))
        for family in (self.running, self.waiting, self.kv_usage):
            family.set(0, self.model)
        for family in (self.prompt, self.generation):
            family.inc(0, self.model)

    def on_queue(self, waiting: int, running: int, reserved_tokens: int) -> None:
        self.waiting.set(waiting, self.model)
        self.running.set(running, self.model)
        self.kv_usage.set(reserved_tokens / self.limits.max_batch_total_tokens, self.model)

    def on_step(self, kind: str, seconds: float, batch_size: int) -> None:
        if kind == "decode":
            for _ in range(batch_size):
                self.itl.observe(seconds, self.model)

    def on_finish(self, sequence: Sequence) -> None:
        assert sequence.admitted_at and sequence.finished_at and sequence.first_token_at
        self.prompt.inc(sequence.input_tokens, self.model)
        self.generation.inc(sequence.generated, self.model)
        reason = "stop" if sequence.finish_reason in ("eos_token", "stop_sequence") else "length"
        self.success.inc(labels=(*self.model, ("finished_reason", reason)))
        self.ttft.observe(sequence.first_token_at - sequence.enqueued_at, self.model)
        self.e2e.observe(sequence.finished_at - sequence.enqueued_at, self.model)
        self.queue.observe(sequence.admitted_at - sequence.enqueued_at, self.model)
        self.prompt_len.observe(sequence.input_tokens, self.model)
        self.gen_len.observe(sequence.generated, self.model)



# --- llama.cpp -------------------------------------------------------------------------


class LlamaCppMetrics(_EngineSideOnly):
    """llama-server's ``/metrics`` (``--metrics``): ``llamacpp:`` counters and gauges."""

    engine = "llamacpp"

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

