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

from tgictl.cli import (  # noqa: E402
    autoscale_cmd, bench_cmd, cluster_cmds, demo_cmd, metrics_cmd, migrate_cmd, plan_cmd, release_cmds, render_cmd, sim_cmd,
    smoke_cmd, spec_cmds,
)

app = typer.Typer(
    name="tgictl",
    help="Plan, render, deploy and verify LLM inference servers (TGI, vLLM, llama.cpp) on Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help: rich's help renderer costs ~0.15 s of imports on every `--help`.
    rich_markup_mode=None,
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


app.command()(spec_cmds.version)
app.command("install-tools")(spec_cmds.install_tools)
app.command()(spec_cmds.init)
app.command()(spec_cmds.validate)
app.command()(spec_cmds.schema)
app.command()(plan_cmd.plan)
app.command()(render_cmd.render)
app.command()(migrate_cmd.migrate)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(sim_cmd.sim)
app.command()(smoke_cmd.smoke)
app.command()(bench_cmd.bench)
app.command()(metrics_cmd.metrics)
app.command()(metrics_cmd.top)
app.command()(demo_cmd.demo)
for command in (cluster_cmds.doctor, cluster_cmds.deploy, cluster_cmds.diff, cluster_cmds.status, release_cmds.logs,
                release_cmds.history, release_cmds.rollback, release_cmds.delete):
    app.command()(command)
app.command("port-forward")(release_cmds.port_forward)
app.add_typer(autoscale_cmd.app, name="autoscale")
app.add_typer(release_cmds.cache, name="cache")


def run() -> None:
    """Console-script entry point."""
    app()
