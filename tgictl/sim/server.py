"""The simulator's HTTP server: TGI's API (and vLLM's or llama.cpp's face) over
the continuous-batching model.

Routes follow TGI's OpenAPI spec: ``/generate``, ``/generate_stream``,
``/v1/completions``, ``/v1/chat/completions``, ``/info``, ``/health``,
``/metrics``, ``/tokenize``, ``/v1/models``. Streaming validation errors
come as HTTP 200 plus an error event, as TGI does.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tgictl import engines
from tgictl.sim import tokens
from tgictl.sim.batching import LatencyModel, Limits, Scheduler, Sequence, TokenEvent
from tgictl.sim.flavors import Flavor, Refusal

VERSION = "3.3.5"


@dataclass(frozen=True)
class SimConfig:
    engine: str = "tgi"
    model_id: str = "tgictl/sim"
    latency: LatencyModel = field(default_factory=LatencyModel)
    limits: Limits = field(default_factory=Limits)
    output_min: int = 16  # natural output length range (tokens before EOS)
    output_max: int = 128
    load_seconds: float = 0.0  # pretend weights take this long to load
    record_timestamps: bool = False  # keep arrival/first-write times for /debug/timestamps
    api_key: str | None = None  # when set, the engine's guarded routes need `Authorization: Bearer <key>`


class Simulator:
    """One simulated engine: scheduler, metrics, flavour and request handlers."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        face = engines.get(config.engine).simulator_face()
        self.flavor: Flavor = face.flavor()
        self.metrics = face.metrics(config.limits, config.model_id)
        self.scheduler = Scheduler(config.latency, config.limits, self.metrics, tokens.word)
        self.in_flight = 0
        self.loaded_at = time.monotonic() + config.load_seconds
        # (prompt's first word, arrival, first content write), perf_counter seconds:
        # CLOCK_MONOTONIC, so a client on this machine can compare its own stamps.
        self.timestamps: list[tuple[str, float, float]] = []

    @property
    def loaded(self) -> bool:
        return time.monotonic() >= self.loaded_at

    # --- request core ---------------------------------------------------------------

    def admit(self, prompt: str, max_new: int | None, stop: list[str], seed: int | None) -> Sequence | Refusal:
        """Validate and queue one generation, or say why not (as the engine would)."""
        started = time.perf_counter()
        limits = self.config.limits
        input_tokens = tokens.count(prompt)
        if max_new is None:
            max_new = max(1, limits.max_total_tokens - input_tokens)
        refusal = self.flavor.too_long(input_tokens, max_new, limits)
        admission = self.flavor.admission_limit(limits)
        if refusal is None and admission is not None and self.in_flight >= admission:
            refusal = self.flavor.overloaded()
        if refusal is not None:
            self.metrics.on_error(refusal.kind)
            return refusal
        if self.flavor.clamps_to_context:
            max_new = min(max_new, limits.max_total_tokens - input_tokens)
        natural = tokens.natural_length(prompt, seed, self.config.output_min, self.config.output_max)
        sequence = Sequence(prompt, input_tokens, max_new, natural, tuple(stop))
        self.metrics.on_request(input_tokens, max_new, time.perf_counter() - started)
        self.scheduler.submit(sequence)
        return sequence

    async def tokens_of(self, sequence: Sequence) -> Any:
        """Yield the sequence's token events until its last; count it in flight meanwhile."""
        self.in_flight += 1
        try:
            while True:
                event = await sequence.events.get()
                yield event
                if event.finish_reason:
                    return
        finally:
            self.in_flight -= 1
            if sequence.finish_reason is None:
                sequence.cancelled = True  # the client went away: free the batch slot

    # --- helpers -----------------------------------------------------------------------

    def usage(self, sequence: Sequence) -> dict[str, int]:
        return {"prompt_tokens": sequence.input_tokens, "completion_tokens": sequence.generated,
                "total_tokens": sequence.input_tokens + sequence.generated, **self.flavor.usage_fields()}

    def openai_reason(self, reason: str | None) -> str | None:
        return {"eos_token": "stop", "stop_sequence": "stop"}.get(reason or "", reason)

    async def sse(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        return response

    async def send(self, response: web.StreamResponse, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        await response.write(f"{self.flavor.sse_data}{data}\n\n".encode())

    def refuse(self, refusal: Refusal) -> web.Response:
        return web.json_response(refusal.body, status=refusal.status)

    def not_ready(self) -> web.Response | None:
        if self.loaded:
            return None
        status, body = self.flavor.health(False)
        return web.json_response(body, status=status) if body is not None else web.Response(status=status)

    # --- TGI-native routes ---------------------------------------------------------------

    async def generate(self, request: web.Request) -> web.Response:
        body, refusal = await self._body(request, "inputs")
        if refusal:
            return self.refuse(refusal)
        params = body.get("parameters") or {}
        started = time.perf_counter()
        admitted = self.admit(body["inputs"], params.get("max_new_tokens"), params.get("stop") or [], params.get("seed"))
        if isinstance(admitted, Refusal):
            return self.refuse(admitted)
        generated: list[TokenEvent] = [e async for e in self.tokens_of(admitted)]
        text = "".join(e.text for e in generated)
        result: dict[str, Any] = {"generated_text": (body["inputs"] + text) if params.get("return_full_text") else text}
        if params.get("details"):  # serde default: false (the OpenAPI spec's "default: true" is not what runs)
            result["details"] = {
                "finish_reason": admitted.finish_reason, "generated_tokens": admitted.generated, "seed": params.get("seed"),
                "prefill": [], "tokens": [self._token(e) for e in generated],
            }
        elapsed = time.perf_counter() - started
        headers = {"x-compute-type": "gpu+simulated", "x-generated-tokens": str(admitted.generated),
                   "x-prompt-tokens": str(admitted.input_tokens), "x-total-time": str(int(elapsed * 1000)),
                   "x-queue-time": str(int(((admitted.admitted_at or started) - admitted.enqueued_at) * 1000))}
        return web.json_response(result, headers=headers)

    def _token(self, event: TokenEvent) -> dict[str, Any]:
        return {"id": tokens.token_id(event.text), "text": event.text, "logprob": -0.5, "special": False}

    async def generate_stream(self, request: web.Request) -> web.StreamResponse:
        body, refusal = await self._body(request, "inputs")
        if refusal:
            return self.refuse(refusal)
        params = body.get("parameters") or {}
        response = await self.sse(request)
        admitted = self.admit(body["inputs"], params.get("max_new_tokens"), params.get("stop") or [], params.get("seed"))
        if isinstance(admitted, Refusal):
            # TGI validates inside the stream: HTTP 200 and an error event.
            await self.send(response, admitted.body)
            return response
        text = ""
        async for event in self.tokens_of(admitted):
            text += event.text
            last = event.finish_reason is not None
            await self.send(response, {
                "index": event.index + 1, "token": self._token(event), "top_tokens": [],
                "generated_text": text if last else None,
                "details": {"finish_reason": event.finish_reason, "generated_tokens": admitted.generated,
                            "input_length": admitted.input_tokens, "seed": params.get("seed")} if last else None,
            })
        return response

    async def info(self, request: web.Request) -> web.Response:
        limits = self.config.limits
        return web.json_response({
            "model_id": self.config.model_id, "model_sha": None, "model_pipeline_tag": "text-generation",
            "max_concurrent_requests": limits.max_concurrent_requests, "max_best_of": 2, "max_stop_sequences": 4,
            "max_input_tokens": limits.max_input_tokens, "max_total_tokens": limits.max_total_tokens,
            "validation_workers": 2, "max_client_batch_size": 4, "router": "text-generation-router",
            "version": VERSION, "sha": None, "docker_label": None,
        })

    async def tokenize(self, request: web.Request) -> web.Response:
        body, refusal = await self._body(request, "inputs")
        if refusal:
            return self.refuse(refusal)
        return web.json_response([{"id": t.id, "text": t.text, "start": t.start, "stop": t.stop} for t in tokens.tokenize(body["inputs"])])

    async def compat_generate(self, request: web.Request) -> web.StreamResponse:
        """TGI's `POST /` (router/src/server.rs, compat_generate): what the official clients
        (text-generation, huggingface_hub) and SageMaker call. `stream` picks generate_stream;
        otherwise generate's answer wrapped in a list, as the Inference API returns it."""
        body, refusal = await self._body(request, "inputs")
        if refusal:
            return self.refuse(refusal)
        if body.get("stream"):
            return await self.generate_stream(request)
        answer = await self.generate(request)
        if answer.status != 200:
            return answer
        assert isinstance(answer, web.Response) and answer.body is not None
        extra = {k: v for k, v in answer.headers.items() if k.startswith("x-")}
        return web.json_response([json.loads(answer.text or "null")], headers=extra)

    async def invocations(self, request: web.Request) -> web.StreamResponse:
        """SageMaker's route (router/src/sagemaker.rs): an untagged request, tried as
        generate (`inputs`), then chat (`messages`), then completion (`prompt`)."""
        body, refusal = await self._body(request, "")
        if refusal:
            return self.refuse(refusal)
        for field_name, handler in (("inputs", self.compat_generate), ("messages", self.chat), ("prompt", self.completions)):
            if field_name in body:
                return await handler(request)
        return self.refuse(self.flavor.bad_request("Failed to deserialize the JSON body into the target type"))

    async def chat_tokenize(self, request: web.Request) -> web.Response:
        """The chat template applied, then tokenized: {tokenize_response, templated_text}."""
        body, refusal = await self._body(request, "messages")
        if refusal:
            return self.refuse(refusal)
        prompt = _chat_prompt(body["messages"])
        if prompt is None:
            return self.refuse(self.flavor.bad_request("`messages` must be a list of objects"))
        found = [{"id": t.id, "text": t.text, "start": t.start, "stop": t.stop} for t in tokens.tokenize(prompt)]
        return web.json_response({"tokenize_response": found, "templated_text": prompt})

    # --- shared routes ---------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        status, body = self.flavor.health(self.loaded)
        return web.json_response(body, status=status) if body is not None else web.Response(status=status)

    async def metrics_route(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.expose(), content_type="text/plain", charset="utf-8")

    async def models(self, request: web.Request) -> web.Response:
        if not self.flavor.models_ready(self.loaded):
            return web.json_response({"error": "model is loading"}, status=503)
        return web.json_response({"object": "list", "data": [self.flavor.model_entry(self.config.model_id, self.config.limits)]})

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body, refusal = await self._body(request, "prompt")
        if refusal:
            return self.refuse(refusal)
        prompt = body["prompt"] if isinstance(body["prompt"], str) else "".join(body["prompt"])
        return await self._openai(request, body, prompt, "text_completion")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body, refusal = await self._body(request, "messages")
        if refusal:
            return self.refuse(refusal)
        prompt = _chat_prompt(body["messages"])
        if prompt is None:
            return self.refuse(self.flavor.bad_request("`messages` must be a list of objects"))
        return await self._openai(request, body, prompt, "chat.completion")

    async def _openai(self, request: web.Request, body: dict[str, Any], prompt: str, kind: str) -> web.StreamResponse:
        arrived = request["arrived"] if self.config.record_timestamps else 0.0
        not_ready = self.not_ready()
        if not_ready is not None:
            return not_ready
        stream = bool(body.get("stream"))
        stop = body.get("stop") or []
        admitted = self.admit(prompt, body.get("max_tokens"), [stop] if isinstance(stop, str) else stop, body.get("seed"))
        created = int(time.time())
        base = {"id": self.flavor.completion_id(kind), "created": created, "model": body.get("model") or self.config.model_id,
                "system_fingerprint": self.flavor.fingerprint}
        if isinstance(admitted, Refusal) and (not stream or self.flavor.refuses_before_stream):
            return self.refuse(admitted)
        if not stream:
            assert not isinstance(admitted, Refusal)
            text = "".join([e.text async for e in self.tokens_of(admitted)])
            reason = self.openai_reason(admitted.finish_reason)
            choice: dict[str, Any] = ({"index": 0, "message": {"role": "assistant", "content": text, **self.flavor.message_fields()},
                                       "logprobs": None, "finish_reason": reason}
                                      if kind == "chat.completion" else {"index": 0, "text": text, "logprobs": None,
                                                                         "finish_reason": reason})
            return web.json_response({**base, "object": kind, "choices": [{**choice, **self.flavor.choice_fields(kind)}],
                                      "usage": self.usage(admitted), **self.flavor.response_fields(kind)})
        response = await self.sse(request)
        if isinstance(admitted, Refusal):
            await self.send(response, self.flavor.stream_error(admitted))
            return response
        chunk_kind = "chat.completion.chunk" if kind == "chat.completion" else "text_completion"
        first = True
        async for event in self.tokens_of(admitted):
            reason = self.openai_reason(event.finish_reason)
            if kind == "chat.completion":
                delta = {"role": "assistant", "content": event.text}
                choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            else:
                # TGI's completion chunks carry finish_reason "" until the last one.
                choice = {"index": 0, "text": event.text, "logprobs": None, "finish_reason": reason or ""}
            await self.send(response, {**base, "object": chunk_kind, "choices": [choice], "usage": None})
            if first and self.config.record_timestamps:
                self.timestamps.append((prompt.split(" ", 1)[0], arrived, time.perf_counter()))
            first = False
        if (body.get("stream_options") or {}).get("include_usage"):
            await self.send(response, {**base, "object": chunk_kind, "choices": [], "usage": self.usage(admitted)})
        await self.send(response, "[DONE]")
        return response

    async def debug_timestamps(self, request: web.Request) -> web.Response:
        return web.json_response([{"prompt_head": p, "arrived": a, "first_write": f} for p, a, f in self.timestamps])

    async def _body(self, request: web.Request, required: str) -> tuple[dict[str, Any], Refusal | None]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}, self.flavor.bad_request("Failed to parse the request body as JSON")
        if not isinstance(body, dict) or (required and required not in body):
            return {}, self.flavor.bad_request(f"missing field `{required}`")
        return body, None

    # --- app ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=2_000_000)  # TGI's default payload limit
        routes = [
            web.get("/health", self.health), web.get("/metrics", self.metrics_route), web.get("/v1/models", self.models),
            web.post("/v1/completions", self.completions), web.post("/v1/chat/completions", self.chat),
        ]
        if self.config.record_timestamps:
            routes.append(web.get("/debug/timestamps", self.debug_timestamps))

            @web.middleware
            async def stamp(request: web.Request, handler: Any) -> web.StreamResponse:
                request["arrived"] = time.perf_counter()
                return await handler(request)

            app.middlewares.append(stamp)
        if self.config.api_key:
            app.middlewares.append(self._authorize)
        if self.flavor.serves_tgi_routes:
            # TGI's router (router/src/server.rs, v3.3.5) also serves health on GET / and /ping.
            routes += [web.post("/", self.compat_generate), web.post("/invocations", self.invocations),
                       web.post("/generate", self.generate), web.post("/generate_stream", self.generate_stream),
                       web.get("/info", self.info), web.post("/tokenize", self.tokenize),
                       web.post("/chat_tokenize", self.chat_tokenize), web.get("/", self.health), web.get("/ping", self.health)]
        app.add_routes(routes)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    @web.middleware
    async def _authorize(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = self.config.api_key or ""
        if self.flavor.guarded(request.path, request.method) and not self.flavor.authorized(request.headers.get("Authorization"), key):
            refusal = self.flavor.unauthorized()
            return web.json_response(refusal.body, status=refusal.status) if refusal.body else web.Response(status=refusal.status)
        return await handler(request)

    async def _start(self, app: web.Application) -> None:
        self.scheduler.start()

    async def _stop(self, app: web.Application) -> None:
        await self.scheduler.stop()


def _chat_prompt(messages: Any) -> str | None:
    """The simulator's chat template: role-tagged turns, then the assistant's tag."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return None
    return "".join(f"<|{m.get('role', 'user')}|> {m.get('content') or ''}\n" for m in messages) + "<|assistant|>"


async def serve(config: SimConfig, host: str, port: int, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or cancelled). TGI's flavour binds only once 'loaded', like the real router."""
    simulator = Simulator(config)
    if not simulator.flavor.listens_while_loading and config.load_seconds:
        await asyncio.sleep(config.load_seconds)
    runner = web.AppRunner(simulator.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    if ready is not None:
        ready.set()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()
