"""The tgictl command: a root typer app with one thin command per verb.

Heavy modules (pydantic models, the kubernetes client, helm adapters) are
imported inside the commands, so `tgictl --help` stays fast.
"""

from __future__ import annotations

import os

# tgictl uses no pydantic plugins; skipping their entry-point scan saves ~20 ms per command.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from tgictl.cli.lazy import Lazy, LazyGroup  # noqa: E402

# Every command, in `tgictl --help` order. A command's module is imported only when that
# command runs (or its own --help is asked for): each holds imports the others do not need.
COMMANDS: dict[str, Lazy] = {
    "version": Lazy("spec_cmds", "version", "tgictl's version, the chart it renders, the helm and kubectl it drives, and "
                                            "each engine's default image."),
    "install-tools": Lazy("spec_cmds", "install_tools", "Install the helm v4 and kubectl v1.35 tgictl drives into its tools "
                                                        "directory ($TGICTL_TOOLS_DIR)."),
    "init": Lazy("spec_cmds", "init", "Write a commented starter spec, and beside it (demo-model/) the model config it plans "
                                    "from."),
    "validate": Lazy("spec_cmds", "validate", "Check a spec: schema, types and the engine's own rules."),
    "schema": Lazy("spec_cmds", "schema", "Print the spec's JSON Schema (for editors and CI)."),
    "plan": Lazy("plan_cmd", "plan", "Size a deployment: weights, KV cache, limits, GPU count and cold start."),
    "render": Lazy("render_cmd", "render", "Render specs through the tgi chart: values, manifests, a Kustomize tree, or an "
                                           "Argo CD / Flux object; byte-for-byte stable output for GitOps."),
    "migrate": Lazy("migrate_cmd", "migrate", "Write the equivalent spec for another engine and report what maps exactly, "
                                              "approximately or not at all."),
    "sim": Lazy("sim_cmd", "sim", "Serve TGI's HTTP API without a GPU: for CI, demos and wiring tests.",
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True}),
    "smoke": Lazy("smoke_cmd", "smoke", "Check health, limits, generation, streaming, chat, the 422 on long prompts, "
                                        "metrics and SLOs."),
    "bench": Lazy("bench_cmd", "bench", "Load-test a server: open or closed loop, or a sweep for the best rate meeting the SLO."),
    "metrics": Lazy("metrics_cmd", "metrics", "A deployment's key SLIs now: traffic, errors, queue, latency, tokens, KV cache."),
    "top": Lazy("metrics_cmd", "top", "Every deployment's SLIs, refreshed like `top`."),
    "demo": Lazy("demo_cmd", "demo", "Validate, plan and render the starter spec, then serve it with the simulator and "
                                     "smoke-test it."),
    "doctor": Lazy("cluster_cmds", "doctor", "Pre-flight checks of the cluster for a spec: API, helm, GPUs, storage, CRDs, "
                                             "metrics APIs, secrets, quota."),
    "deploy": Lazy("cluster_cmds", "deploy", "Install or upgrade the release and watch it start; explain and undo a failure."),
    "diff": Lazy("cluster_cmds", "diff", "What a deploy would change in the cluster, field by field. Exit codes as "
                                         "`kubectl diff`: 0 nothing would change, 1 something would, 2 or more an error."),
    "status": Lazy("cluster_cmds", "status", "Release, revision, pods, readiness, restarts, where they run, and key metrics "
                                             "when Prometheus is known."),
    "logs": Lazy("release_cmds", "logs", "The engine's log lines from every pod of the release."),
    "history": Lazy("release_cmds", "history", "The release's revisions, oldest first, as Helm keeps them (what `rollback "
                                               "--revision` takes)."),
    "rollback": Lazy("release_cmds", "rollback", "Return the release to an earlier revision (Helm keeps them)."),
    "delete": Lazy("release_cmds", "delete", "Uninstall the release. The model-cache PVC is kept (weights are slow to "
                                             "download)."),
    "port-forward": Lazy("release_cmds", "port_forward", "Reach a ready pod of the release on a local port until "
                                                         "interrupted (Ctrl-C)."),
    "rollout": Lazy("rollout_cmds", "app", "Canary and blue-green rollouts: where one stands, promote it, abort it."),
    "autoscale": Lazy("autoscale_cmd", "app", "Understand and wire the autoscaler a spec configures."),
    "cache": Lazy("release_cmds", "cache", "The model-cache PVC."),
}

app = typer.Typer(
    name="tgictl",
    help="Plan, render, deploy and verify LLM inference servers (TGI, vLLM, llama.cpp) on Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help: rich's help renderer costs ~0.15 s of imports on every `--help`.
    rich_markup_mode=None,
    cls=LazyGroup.of(COMMANDS),
    context_settings={"help_option_names": ["-h", "--help"]},  # kubectl's and helm's habit; subcommands inherit it
)


def _print_version(value: bool) -> None:
    if value:
        from tgictl.version import tgictl_version

        typer.echo(f"tgictl {tgictl_version()}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, expose_value=False,
                                          help="Print tgictl's version and exit (`tgictl version` for its parts).")] = False,
) -> None:
    """Plan, render, deploy and verify LLM inference servers (TGI, vLLM, llama.cpp) on Kubernetes."""


def run() -> None:
    """Console-script entry point."""
    app()
