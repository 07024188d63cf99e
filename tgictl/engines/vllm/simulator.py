"""vLLM as the simulator shows it: its OpenAI server's errors and fields, and ``/metrics``."""

from __future__ import annotations

from typing import Any

from tgictl.sim.batching import Limits, Sequence
from tgictl.sim.flavors import Flavor, Refusal, SimulatorFace
from tgictl.sim.metrics import EngineSideOnly, Registry

# The reasons vLLM 0.32.0 counts admission rejections under (v1/metrics/loggers.py).
ADMISSION_REASONS = ("max_num_queued_reqs", "max_num_queued_tokens")


class VLLMFlavor(Flavor):
    """vLLM 0.32.0's OpenAI server, as tests/real/test_vllm_real.py sees it (the same requests to both)."""

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

    def admission_limit(self, limits: Limits) -> int | None:
        # check_admission (v1/engine/async_llm.py at 0.32.0): unfinished requests + 1 > max_num_queued_reqs.
        return limits.max_num_queued_reqs

    def overloaded(self) -> Refusal:
        # QueueOverflowError through create_error_response: a GracefulHTTPError keeps its status and
        # takes the status phrase as its type (vllm/exceptions.py, serve/exception_handling at 0.32.0).
        message = ("The engine is currently busy and cannot accept new requests. Please try again later or on a different "
                   "instance.")
        return Refusal(503, {"error": {"message": message, "type": "Service Unavailable", "param": None, "code": 503}}, "overloaded")

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


VLLM_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                        2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
VLLM_LENGTH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)  # request prompt and generation tokens
VLLM_ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
VLLM_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)


class VLLMMetrics(EngineSideOnly):
    """vLLM's V1 engine metrics (``vllm:`` prefix, ``model_name`` label)."""


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
        self.ttft = r.family("vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.",
                             VLLM_LATENCY_BUCKETS)
        self.itl = r.family("vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.",
                            VLLM_ITL_BUCKETS)
        self.e2e = r.family("vllm:e2e_request_latency_seconds", "histogram", "Histogram of e2e request latency in seconds.",
                            VLLM_E2E_BUCKETS)
        self.queue = r.family("vllm:request_queue_time_seconds", "histogram", "Histogram of time spent in WAITING phase for request.",
                              VLLM_E2E_BUCKETS)
        self.prompt_len = r.family("vllm:request_prompt_tokens", "histogram", "Number of prefill tokens processed.", VLLM_LENGTH_BUCKETS)
        self.gen_len = r.family("vllm:request_generation_tokens", "histogram", "Number of generation tokens processed.",
                                VLLM_LENGTH_BUCKETS)
        # Counted per reason from the start, zero until a queue limit refuses (v1/metrics/loggers.py at 0.32.0).
        self.rejections = r.family("vllm:admission_rejections_total", "counter",
                                   "Number of admission attempts rejected by a queue limit, by reason.")
        for reason in ADMISSION_REASONS:
            self.rejections.inc(0, (("model_name", model), ("reason", reason)))
        for family in (self.running, self.waiting, self.kv_usage):
            family.set(0, self.model)
        for family in (self.prompt, self.generation):
            family.inc(0, self.model)

    def on_error(self, kind: str) -> None:
        if kind == "overloaded":  # the simulator's one admission limit is --max-num-queued-reqs
            self.rejections.inc(labels=(("model_name", self.model[1][1]), ("reason", "max_num_queued_reqs")))

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


FACE = SimulatorFace(VLLMFlavor, VLLMMetrics)
