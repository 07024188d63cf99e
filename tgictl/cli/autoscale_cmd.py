"""`tgictl autoscale explain|adapter-values`: the autoscaler's numbers, and the adapter rule for HPAs."""

from __future__ import annotations

import typer

from tgictl.cli.output import Format, OutputOption, SpecOption, handles_errors, print_data, print_table

app = typer.Typer(help="Understand and wire the autoscaler a spec configures.", no_args_is_help=True)


@app.command()
@handles_errors
def explain(file: SpecOption = "tgi.yaml", output: OutputOption = Format.table) -> None:
    """Thresholds, query, cold-start-derived behavior and worst-case time to one more ready replica."""
    from tgictl.autoscale import explain as run_explain
    from tgictl.spec.load import load_file

    result = run_explain(load_file(file))
    if output is not Format.table:
        print_data(result, output)
        return
    rows = [(k.replace("_", " "), v) for k, v in result.items() if not isinstance(v, dict)]
    rows += [(f"{k} {sub}".replace("_", " "), v) for k, d in result.items() if isinstance(d, dict) for sub, v in d.items()]
    print_table(["AUTOSCALING", "VALUE"], [(k, "-" if v is None else v) for k, v in rows])


@app.command("adapter-values")
@handles_errors
def adapter_values(file: SpecOption = "tgi.yaml") -> None:
    """prometheus-adapter chart values for the HPA's Pods metric (custom metrics only)."""
    from tgictl.autoscale import adapter_values as values
    from tgictl.render.service import dump_yaml
    from tgictl.spec.load import load_file

    typer.echo(dump_yaml(values(load_file(file))), nl=False)
