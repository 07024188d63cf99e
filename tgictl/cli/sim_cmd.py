"""`tgictl sim`: a TGI-API-compatible server with a continuous-batching latency model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from tgictl.cli.output import handles_errors

# The simulator's options a spec sets.
_SPEC_SET = ("engine", "model_id", "max_total_tokens", "max_input_tokens", "max_batch_prefill_tokens", "max_batch_total_tokens",
             "max_concurrent_requests")
# The simulator's own defaults, also where a spec leaves a limit to the engine.
_DEFAULT_BATCH_TOTAL, _DEFAULT_PREFILL, _DEFAULT_CONCURRENT = 65536, 4096, 128


def _spec_settings(ctx: typer.Context, file: str) -> list[Any]:
    """The engine, model and limits a spec's release would serve with (planned when it names
    model.files), for the simulator's options in _SPEC_SET's order; a limit the spec
    leaves open as the engine does. An option given beside the spec is refused."""
    from tgictl.errors import UsageError
    from tgictl.plan.service import planned_for_render
    from tgictl.spec.load import load_file

    # By name: typer's click is not always the click package installed beside it.
    given = [f"--{name.replace('_', '-')}" for name in _SPEC_SET if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"]
    if given:
        raise UsageError(f"with --file the spec sets {', '.join(given)}: edit the spec, or leave --file out")

    spec, _ = planned_for_render(load_file(file))
    s = spec.spec.serving
    total = s.max_total_tokens or 4096
    values = {
        "engine": spec.spec.engine.name, "model_id": spec.spec.model.id,
        "max_total_tokens": total, "max_input_tokens": s.max_input_tokens or total - 1,  # TGI's default: one token to generate
        "max_batch_prefill_tokens": s.max_batch_prefill_tokens or _DEFAULT_PREFILL,
        "max_batch_total_tokens": s.max_batch_total_tokens or max(_DEFAULT_BATCH_TOTAL, total),
        "max_concurrent_requests": s.max_concurrent_requests or _DEFAULT_CONCURRENT,
    }
    return [values[name] for name in _SPEC_SET]


@handles_errors
def sim(
    ctx: typer.Context,
    file: Annotated[Optional[str], typer.Option("--file", "-f", help="Serve with this spec's engine, model and (planned) limits.")] = None,
    host: Annotated[str, typer.Option("--host", "--hostname", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    engine: Annotated[str, typer.Option(help="Whose API face, health and metric names to show: tgi, vllm or llamacpp.")] = "tgi",
    model_id: Annotated[str, typer.Option(help="Model id reported by /info and /v1/models.")] = "tgictl/sim",
    prefill_ms_per_token: Annotated[float, typer.Option(help="Prefill cost per input token, ms.")] = 0.05,
    decode_ms: Annotated[float, typer.Option(help="Base time of one decode step, ms.")] = 10.0,
    decode_ms_per_seq: Annotated[float, typer.Option(help="Extra decode-step time per running sequence, ms.")] = 0.2,
    max_input_tokens: Annotated[int, typer.Option(help="Longest prompt accepted.")] = 4095,
    max_total_tokens: Annotated[int, typer.Option(help="Longest prompt + output per request.")] = 4096,
    max_batch_prefill_tokens: Annotated[int, typer.Option(help="Prompt tokens prefilled in one step.")] = _DEFAULT_PREFILL,
    max_batch_total_tokens: Annotated[int, typer.Option(help="Token budget of the running batch (the KV cache).")] = _DEFAULT_BATCH_TOTAL,
    max_concurrent_requests: Annotated[int, typer.Option(help="In-flight requests before TGI answers 429.")] = _DEFAULT_CONCURRENT,
    max_num_queued_reqs: Annotated[Optional[int], typer.Option(min=1, help="vLLM's admission limit: requests before a 503.")] = None,
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

    if file:  # the spec's values, for the options in _SPEC_SET
        engine, model_id, max_total_tokens, max_input_tokens, *rest = _spec_settings(ctx, file)
        max_batch_prefill_tokens, max_batch_total_tokens, max_concurrent_requests = rest
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
