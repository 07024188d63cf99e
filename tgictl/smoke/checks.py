"""The smoke checks: each proves one thing a user relies on, against a live server.

Every check is an async function registered in ``CHECKS`` in the order they
run. A check returns ``(status, detail)`` with status pass, fail or skip, and
raises nothing: the runner adds the per-check timeout. Checks adapt to the
engine (TGI's native routes, or the OpenAI routes vLLM and llama.cpp share).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tgictl.loadgen.client import StreamResult, Timeouts, stream_one
from tgictl.loadgen.stats import percentile

PASS, FAIL, SKIP = "pass", "fail", "skip"
# A stream that takes longer than this yet arrives in one read was buffered on the way.
BUFFERED_MS = 20.0
Outcome = tuple[str, str]



@dataclass(frozen=True)
class Expectations:
    """What the server should report, from a spec (None = not checked)."""

    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    model_id: str | None = None
    from_spec: bool = False  # a spec was given, whether or not it (or its plan) sets limits


@dataclass(frozen=True)
class SLO:
    requests: int = 0  # 0: no SLO check
    ttft_p50: float | None = None  # seconds
    ttft_p95: float | None = None
    itl_p50: float | None = None
    itl_p95: float | None = None


@dataclass
class Context:
    session: aiohttp.ClientSession
    url: str
    expect: Expectations
    slo: SLO
    timeouts: Timeouts
    headers: dict[str, str] = field(default_factory=dict)
    engine: str = ""  # detected by the first check
    # The server's own description of its limits (TGI's /info), when it has one: then it
    # speaks TGI's native API (/generate, POST /) beside the OpenAI routes.
    info: dict[str, Any] | None = None
    context_limit: int | None = None  # max total tokens the server admits, once known
    model: str | None = None

    @property
    def api(self) -> str:
        return "tgi" if self.info is not None else "completions"

    async def get(self, path: str) -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=self.timeouts.read)
        async with self.session.get(self.url + path, timeout=timeout, headers=self.headers) as response:
            return response.status, await response.text()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=self.timeouts.total, sock_read=self.timeouts.read)
        async with self.session.post(self.url + path, json=body, timeout=timeout, headers=self.headers) as response:
            return response.status, await response.text()

    async def stream(self, prompt: str, max_tokens: int) -> StreamResult:
        return await stream_one(self.session, self.url, self.api, prompt, max_tokens, model=self.model,
                                timeouts=self.timeouts, headers=self.headers)


Check = Callable[[Context], Awaitable[Outcome]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        CHECKS[name] = function
        return function

    return register


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@check("health")
async def health(ctx: Context) -> Outcome:
    status, body = await ctx.get("/health")
    if status != 200:
        return FAIL, f"/health answered {status}: {body[:120]}"
    await _identify(ctx)
    _, models = await ctx.get("/v1/models")
    listing = _json(models)
    if isinstance(listing, dict) and listing.get("data"):
        first = listing["data"][0]
        ctx.model = first.get("id")
        ctx.context_limit = ctx.context_limit or first.get("max_model_len") or (first.get("meta") or {}).get("n_ctx_train")
    if ctx.info is None:  # llama-server's /props holds the context it really allocated
        props_status, props = await ctx.get("/props")
        settings = ((_json(props) if props_status == 200 else None) or {}).get("default_generation_settings") or {}
        ctx.context_limit = settings.get("n_ctx") or ctx.context_limit
    return PASS, f"healthy; engine {ctx.engine}" + (f", model {ctx.model}" if ctx.model else "")


async def _identify(ctx: Context) -> None:
    """Which engine answers: one with a limits route (TGI's /info) that answers it, else
    the one whose metric prefix /metrics shows (vLLM, llama.cpp), else plain "openai"."""
    from tgictl.engines import REGISTRY

    for engine in REGISTRY.values():
        if engine.facts.info_route:
            status, text = await ctx.get(engine.facts.info_route)
            data = _json(text) if status == 200 else None
            if isinstance(data, dict) and "max_total_tokens" in data:
                ctx.engine, ctx.info, ctx.context_limit = engine.name, data, data["max_total_tokens"]
                return
    _, metrics = await ctx.get("/metrics")
    named = [e.name for e in REGISTRY.values() if not e.facts.info_route and e.facts.metrics_prefix in metrics]
    ctx.engine = named[0] if named else "openai"


@check("limits")
async def limits(ctx: Context) -> Outcome:
    e = ctx.expect
    if e.max_total_tokens is None and e.max_input_tokens is None and e.model_id is None:
        if e.from_spec:
            return SKIP, "the spec leaves the limits to the engine (no model.files to plan them from): nothing to compare"
        return SKIP, "no spec given: nothing to compare"
    if ctx.info is None:
        if e.max_total_tokens is not None and ctx.context_limit != e.max_total_tokens:
            return FAIL, f"server context {ctx.context_limit}, spec wants {e.max_total_tokens}"
        return PASS, f"context {ctx.context_limit}"
    info = ctx.info
    wrong = [f"{key} is {info.get(key)}, spec wants {want}"
             for key, want in (("max_input_tokens", e.max_input_tokens), ("max_total_tokens", e.max_total_tokens), ("model_id", e.model_id))
             if want is not None and info.get(key) != want]
    if wrong:
        return FAIL, "; ".join(wrong)
    return PASS, f"max_input_tokens {info.get('max_input_tokens')}, max_total_tokens {info.get('max_total_tokens')}"


@check("generate")
async def generate(ctx: Context) -> Outcome:
    if ctx.info is not None:
        # details defaults to false in TGI (serde default), whatever its OpenAPI spec says.
        status, text = await ctx.post("/generate", {"inputs": "Hello, my name is", "parameters": {"max_new_tokens": 8, "details": True}})
        body = _json(text) or {}
        produced = (body.get("details") or {}).get("generated_tokens", 0)
        answer = body.get("generated_text")
    else:
        request: dict[str, Any] = {"prompt": "Hello, my name is", "max_tokens": 8}
        if ctx.model:
            request["model"] = ctx.model
        status, text = await ctx.post("/v1/completions", request)
        body = _json(text) or {}
        produced = (body.get("usage") or {}).get("completion_tokens", 0)
        answer = ((body.get("choices") or [{}])[0]).get("text")
    if status != 200:
        return FAIL, f"HTTP {status}: {text[:160]}"
    if not answer or not produced:
        return FAIL, f"no text generated: {text[:160]}"
    return PASS, f"{produced} tokens"


@check("compat")
async def compat(ctx: Context) -> Outcome:
    """TGI's `POST /`: the route the official clients (text-generation, huggingface_hub) and SageMaker call."""
    if ctx.info is None:
        return SKIP, f"no POST / route on {ctx.engine}"
    status, text = await ctx.post("/", {"inputs": "Hello, my name is", "parameters": {"max_new_tokens": 4}})
    body = _json(text)
    if status != 200:
        return FAIL, f"HTTP {status}: {text[:160]}"
    if not (isinstance(body, list) and body and isinstance(body[0], dict) and body[0].get("generated_text")):
        return FAIL, f"expected [{{generated_text: ...}}], got {text[:160]}"
    return PASS, "POST / answers as the official clients expect"


def _in_one_read(result: StreamResult) -> bool:
    """Every content event arrived in one read, although the request took a while."""
    return len(set(result.arrivals)) < 2 and (result.e2e or 0.0) * 1000 >= BUFFERED_MS


@check("stream")
async def stream(ctx: Context) -> Outcome:
    result = await ctx.stream("Tell me a story about a robot.", 16)
    if not result.ok:
        return FAIL, f"{result.error_class}: {result.error}"
    if result.output_tokens < 2 or len(result.arrivals) < 2:
        return FAIL, f"not streamed: {len(result.arrivals)} content event(s) for {result.output_tokens} tokens"
    if _in_one_read(result):
        # A fast engine can write 16 tokens before a busy client reads once, after a slow
        # prefill: ask for four times as many before calling the stream buffered.
        longer = await ctx.stream("Tell me a story about a robot.", min(64, (ctx.context_limit or 4096) // 4))
        if longer.ok and _in_one_read(longer):
            took = (longer.e2e or 0.0) * 1000
            return FAIL, f"{len(longer.arrivals)} events arrived in one read after {took:.0f} ms: the stream is buffered"
        result = longer if longer.ok else result
    took = (result.e2e or 0.0) * 1000
    note = "" if len(set(result.arrivals)) >= 2 else f" (all in one read: generated in {took:.1f} ms, faster than the client reads)"
    return PASS, f"{result.output_tokens} tokens in {len(result.arrivals)} events, TTFT {(result.ttft or 0.0) * 1000:.1f} ms{note}"


@check("chat")
async def chat(ctx: Context) -> Outcome:
    request: dict[str, Any] = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
    if ctx.model:
        request["model"] = ctx.model
    status, text = await ctx.post("/v1/chat/completions", request)
    if status != 200:
        return FAIL, f"HTTP {status}: {text[:160]}"
    body = _json(text) or {}
    content = (((body.get("choices") or [{}])[0]).get("message") or {}).get("content")
    reasoning = (((body.get("choices") or [{}])[0]).get("message") or {}).get("reasoning_content")
    if not (content or reasoning):
        return FAIL, f"no message content: {text[:160]}"
    return PASS, f"{(body.get('usage') or {}).get('completion_tokens', '?')} tokens"


@check("token-limit")
async def token_limit(ctx: Context) -> Outcome:
    if not ctx.context_limit:
        return SKIP, "the server does not report its context limit"
    prompt = " ".join(["hello"] * (ctx.context_limit + 16))
    if ctx.info is not None:
        status, text = await ctx.post("/generate", {"inputs": prompt, "parameters": {"max_new_tokens": 4}})
        kind = (_json(text) or {}).get("error_type")
        ok = status == 422 and kind == "validation"
        expected = "422 validation"
    else:
        request: dict[str, Any] = {"prompt": prompt, "max_tokens": 4}
        if ctx.model:
            request["model"] = ctx.model
        status, text = await ctx.post("/v1/completions", request)
        ok = status == 400
        expected = "400"
    if not ok:
        return FAIL, f"a {ctx.context_limit + 16}-token prompt got HTTP {status}, expected {expected}: {text[:120]}"
    return PASS, f"over-long prompt refused with {status}"


@check("metrics")
async def metrics(ctx: Context) -> Outcome:
    status, text = await ctx.get("/metrics")
    if status != 200:
        return FAIL, f"/metrics answered {status}"
    from tgictl.engines import REGISTRY

    engine = REGISTRY.get(ctx.engine)
    series = engine.facts.metrics_series if engine else None
    if not series:
        return SKIP, f"no known series for engine {ctx.engine}"
    if not any(line.startswith(series) for line in text.splitlines()):
        return FAIL, f"{series} missing from /metrics"
    return PASS, f"{series} present"


@check("slo")
async def slo(ctx: Context) -> Outcome:
    if not ctx.slo.requests:
        return SKIP, "no SLO thresholds given"
    results = [await ctx.stream("Write two sentences about the sea.", 32) for _ in range(ctx.slo.requests)]
    failed = [r for r in results if not r.ok]
    if failed:
        return FAIL, f"{len(failed)}/{len(results)} requests failed ({failed[0].error_class})"
    ttfts = [r.ttft for r in results if r.ttft is not None]
    gaps = [g for r in results for g in r.gaps]
    measured = {"ttft_p50": percentile(ttfts, 50), "ttft_p95": percentile(ttfts, 95),
                "itl_p50": percentile(gaps, 50) if gaps else 0.0, "itl_p95": percentile(gaps, 95) if gaps else 0.0}
    limits = {"ttft_p50": ctx.slo.ttft_p50, "ttft_p95": ctx.slo.ttft_p95, "itl_p50": ctx.slo.itl_p50, "itl_p95": ctx.slo.itl_p95}
    misses = [f"{k} {measured[k] * 1000:.1f} ms > {v * 1000:.0f} ms" for k, v in limits.items() if v is not None and measured[k] > v]
    summary = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in measured.items())
    if misses:
        return FAIL, "; ".join(misses)
    return PASS, f"{len(results)} requests: {summary}; mean TTFT {statistics.fmean(ttfts) * 1000:.1f} ms"
