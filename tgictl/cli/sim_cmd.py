"""`tgictl sim`: a TGI-API-compatible server with a continuous-batching latency model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from tgictl.cli.output import handles_errors


@handles_errors
def sim(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", "--hostname", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    engine: Annotated[str, typer.Option(help="Whose API face, health and metric names to show: tgi, vllm or llamacpp.")] = "tgi",
    model_id: Annotated[str, typer.Option(help="Model id reported by /info and /v1/models.")] = "tgictl/sim",
    prefill_ms_per_token: Annotated[float, typer.Option(help="Prefill cost per input token, ms.")] = 0.05,
    decode_ms: Annotated[float, typer.Option(help="Base time of one decode step, ms.")] = 10.0,
    decode_ms_per_seq: Annotated[float, typer.Option(help="Extra decode-step time per running sequence, ms.")] = 0.2,
    max_input_tokens: Annotated[int, typer.Option(help="Longest prompt accepted.")] = 4095,
    max_total_tokens: Annotated[int, typer.Option(help="Longest prompt + output per request.")] = 4096,
    max_batch_prefill_tokens: Annotated[int, typer.Option(help="Prompt tokens prefilled in one step.")] = 4096,
    max_batch_total_tokens: Annotated[int, typer.Option(help="Shared token budget of the running batch (the KV cache).")] = 65536,
    max_concurrent_requests: Annotated[int, typer.Option(help="In-flight requests before TGI answers 429.")] = 128,
    max_num_queued_reqs: Annotated[Optional[int], typer.Option(min=1, help="vLLM's admission limit: unfinished requests before it "
                                                                     "answers 503 (vLLM sets none by default).")] = None,
    output_min: Annotated[int, typer.Option(help="Shortest natural answer, tokens.")] = 16,
    output_max: Annotated[int, typer.Option(help="Longest natural answer, tokens.")] = 128,
    load_seconds: Annotated[float, typer.Option(help="Pretend loading takes this long (probes see it).")] = 0.0,
    record_timestamps: Annotated[bool,
                                 typer.Option(help="Serve /debug/timestamps (arrival and first write per OpenAI stream) for "
                                                   "client-accuracy benchmarks.")] = False,
    api_key: Annotated[Optional[str], typer.Option("--api-key", envvar=["API_KEY", "VLLM_API_KEY", "LLAMA_API_KEY"], show_default=False,
                                                   help="Require this bearer token on the routes the engine guards (read from the engine's "
                                                        "env var).")] = None,
) -> None:
    """Serve TGI's HTTP API without a GPU: for CI, demos and wiring tests.

    Other TGI launcher flags (--num-shard, --cuda-graphs, ...) are accepted and
    ignored, so the chart can run the simulator image with a TGI spec's args."""
    import asyncio

    from tgictl.errors import UsageError
    from tgictl.sim.batching import LatencyModel, Limits
    from tgictl.engines import REGISTRY
    from tgictl.sim.server import SimConfig, serve

    if engine not in REGISTRY:
        raise UsageError(f"unknown --engine {engine!r}; allowed: {', '.join(REGISTRY)}")
    if not max_input_tokens < max_total_tokens <= max_batch_total_tokens:
        raise UsageError("need max-input-tokens < max-total-tokens <= max-batch-total-tokens")
    if output_min < 1 or output_max < output_min:
        raise UsageError("need 1 <= output-min <= output-max")
    config = SimConfig(
        engine=engine, model_id=model_id,
        latency=LatencyModel(prefill_ms_per_token / 1000, decode_ms / 1000, decode_ms_per_seq / 1000),
        limits=Limits(max_input_tokens, max_total_tokens, max_batch_prefill_tokens, max_batch_total_tokens, max_concurrent_requests,
                      max_num_queued_reqs),
        output_min=output_min, output_max=output_max, load_seconds=load_seconds, record_timestamps=record_timestamps,
        api_key=api_key,
    )
    typer.echo(f"tgictl sim ({engine}) serving {model_id} on http://{host}:{port}", err=True)
    try:
        import uvloop

        run: Callable[..., Any] = uvloop.run
    except ImportError:  # uvloop is the optional `fast` extra
        run = asyncio.run
    try:
        run(serve(config, host, port))
    except KeyboardInterrupt:
        pass
