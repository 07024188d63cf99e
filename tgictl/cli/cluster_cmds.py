"""Cluster commands: doctor, deploy, status, rollback, delete. Helm changes the
release; the Kubernetes API is only read."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from tgictl.cli.output import Format, OutputOption, SpecOption, handles_errors, print_json, print_table

ContextOption = Annotated[Optional[str], typer.Option("--context", help="kubeconfig context (the current one when unset).")]
NamespaceOption = Annotated[Optional[str], typer.Option("--namespace", "-n", help="Namespace (overrides metadata.namespace).")]


def spec_in(file: str, namespace: str | None) -> Any:
    """The spec, with the namespace the command line asks for."""
    from tgictl.spec.load import load_file

    spec = load_file(file)
    if namespace:
        spec = spec.model_copy(update={"metadata": spec.metadata.model_copy(update={"namespace": namespace})})
    return spec


def kube_for(context: str | None) -> Any:
    from tgictl.adapters.kube import Kube

    return Kube(context=context)


@handles_errors
def doctor(file: SpecOption = "tgi.yaml", context: ContextOption = None, namespace: NamespaceOption = None,
           output: OutputOption = Format.table) -> None:
    """Pre-flight checks of the cluster for a spec: API, helm, GPUs, storage, CRDs, metrics APIs, secrets, quota."""
    from tgictl.lifecycle.doctor import FAIL, run_doctor

    checks = run_doctor(spec_in(file, namespace), kube_for(context), context)
    if output is Format.json:
        print_json([c.__dict__ for c in checks])
    else:
        print_table(["CHECK", "RESULT", "DETAIL", "FIX"], [(c.name, c.status.upper(), c.detail, c.fix) for c in checks])
    if any(c.status == FAIL for c in checks):
        raise typer.Exit(1)


@handles_errors
def deploy(
    file: SpecOption = "tgi.yaml",
    context: ContextOption = None,
    namespace: NamespaceOption = None,
    smoke: Annotated[bool, typer.Option(help="Smoke-test through a port-forward once ready.")] = True,
    poll: Annotated[float, typer.Option(help="Seconds between looks at the pods.")] = 2.0,
    timeout: Annotated[Optional[float], typer.Option(help="Seconds to wait for ready (default: the start-up probe budget + 60).")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Install or upgrade the release and watch it start; explain and undo a failure."""
    from tgictl.lifecycle.deploy import deploy as run_deploy

    spec = spec_in(file, namespace)

    def progress(state: Any) -> None:
        if output is Format.table:
            typer.echo(f"  {state.phase:<11} {state.detail}", err=True)

    kube = kube_for(context)
    result = run_deploy(spec, kube, context=context, progress=progress, poll_s=poll, budget_s=timeout)
    report: dict[str, Any] = {"release": result.release, "namespace": result.namespace, "revision": result.revision,
                              "phases": result.phases, "seconds": round(result.seconds, 1)}
    if smoke:
        from tgictl.lifecycle.portforward import smoke_release

        report["smoke"] = smoke_release(spec, kube)
    if output is Format.json:
        print_json(report)
    else:
        typer.echo(f"{result.release} revision {result.revision} ready in {result.seconds:.0f}s "
                   f"({' → '.join(result.phases)})")
        if smoke:
            typer.echo(f"smoke: {'PASSED' if report['smoke']['passed'] else 'FAILED'}")
    if smoke and not report["smoke"]["passed"]:
        raise typer.Exit(1)


@handles_errors
def status(
    file: SpecOption = "tgi.yaml",
    context: ContextOption = None,
    namespace: NamespaceOption = None,
    prometheus: Annotated[Optional[str], typer.Option("--prometheus", envvar="TGICTL_PROMETHEUS", help="Also show key SLIs from this Prometheus.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Release, revision, pods, readiness, restarts, where they run, and key metrics when Prometheus is known."""
    from tgictl.adapters import helm
    from tgictl.lifecycle.deploy import observe, selector
    from tgictl.render.manifests import namespace_of

    spec = spec_in(file, namespace)
    namespace = namespace_of(spec)
    kube = kube_for(context)
    release = helm.status(spec.metadata.name, namespace, context)
    pods = kube.pods(namespace, selector(spec))
    rows = []
    for pod in pods:
        statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
        rows.append({"pod": pod["metadata"]["name"], "phase": (pod.get("status") or {}).get("phase"),
                     "ready": all(c.get("ready") for c in statuses), "restarts": sum(c.get("restartCount", 0) for c in statuses),
                     "node": (pod.get("spec") or {}).get("nodeName")})
    state = observe(kube, spec)
    data = {"release": spec.metadata.name, "namespace": namespace, "revision": release.get("version"),
            "status": (release.get("info") or {}).get("status"), "engine": spec.spec.engine.name, "model": spec.spec.model.id,
            "gpus_per_pod": spec.spec.hardware.accelerator.count, "phase": state.phase, "pods": rows}
    if prometheus:
        from tgictl.monitor import read_slis

        found = read_slis(prometheus, namespace, spec.metadata.name)
        data["metrics"] = found[0].values if found else None
    if output is Format.json:
        print_json(data)
        return
    typer.echo(f"{data['release']} ({data['engine']} serving {data['model']}) revision {data['revision']}: {data['status']}, "
               f"{data['phase']}")
    print_table(["POD", "PHASE", "READY", "RESTARTS", "NODE"], [(r["pod"], r["phase"], r["ready"], r["restarts"], r["node"]) for r in rows])
    if data.get("metrics"):
        typer.echo("  ".join(f"{k}={v:.3g}" for k, v in data["metrics"].items() if v is not None))


@handles_errors
def history(file: SpecOption = "tgi.yaml", context: ContextOption = None, namespace: NamespaceOption = None,
            output: OutputOption = Format.table) -> None:
    """The release's revisions, oldest first, as Helm keeps them (what `rollback --revision` takes)."""
    from tgictl.adapters import helm
    from tgictl.errors import UsageError
    from tgictl.render.manifests import namespace_of

    spec = spec_in(file, namespace)
    revisions = helm.history(spec.metadata.name, namespace_of(spec), context)
    if not revisions:
        raise UsageError(f"{spec.metadata.name} is not installed in {namespace_of(spec)}")
    if output is Format.json:
        print_json(revisions)
        return
    print_table(["REVISION", "UPDATED", "STATUS", "CHART", "DESCRIPTION"],
                [(r.get("revision"), r.get("updated", ""), r.get("status"), r.get("chart", ""), r.get("description", "")) for r in revisions])


@handles_errors
def rollback(file: SpecOption = "tgi.yaml", context: ContextOption = None, namespace: NamespaceOption = None,
             revision: Annotated[Optional[int], typer.Option(help="Revision to return to (the previous one when unset).")] = None,
             output: OutputOption = Format.table) -> None:
    """Return the release to an earlier revision (Helm keeps them)."""
    from tgictl.adapters import helm
    from tgictl.errors import UsageError
    from tgictl.render.manifests import namespace_of

    spec = spec_in(file, namespace)
    namespace = namespace_of(spec)
    history = helm.history(spec.metadata.name, namespace, context)
    if revision is None:
        if len(history) < 2:
            raise UsageError(f"{spec.metadata.name} has no earlier revision to return to")
        revision = int(history[-2]["revision"])
    helm.rollback(spec.metadata.name, namespace, revision, context)
    if output is Format.json:
        print_json({"release": spec.metadata.name, "namespace": namespace, "rolled_back_to": revision})
    else:
        typer.echo(f"{spec.metadata.name} rolled back to revision {revision}")


@handles_errors
def delete(file: SpecOption = "tgi.yaml", context: ContextOption = None, namespace: NamespaceOption = None,
           wait: Annotated[bool, typer.Option(help="Return once the release's objects are gone.")] = True,
           output: OutputOption = Format.table) -> None:
    """Uninstall the release. The model-cache PVC is kept (weights are slow to download)."""
    from tgictl.adapters import helm
    from tgictl.render.manifests import namespace_of

    spec = spec_in(file, namespace)
    namespace = namespace_of(spec)
    helm.uninstall(spec.metadata.name, namespace, context, wait=wait)
    cache = spec.spec.cache
    kept = None if cache.ephemeral or cache.existing_claim else f"{spec.metadata.name}-cache"  # an existing claim is not ours
    if output is Format.json:
        print_json({"release": spec.metadata.name, "namespace": namespace, "uninstalled": True, "kept_pvc": kept})
    else:
        typer.echo(f"{spec.metadata.name} uninstalled" + (f"; PVC {kept} kept" if kept else ""))


@handles_errors
def diff(file: SpecOption = "tgi.yaml", context: ContextOption = None, namespace: NamespaceOption = None,
         output: OutputOption = Format.table) -> None:
    """What a deploy would change in the cluster, field by field (exit 1 when anything would)."""
    from tgictl.lifecycle.diff import diff as run_diff

    changes = run_diff(spec_in(file, namespace), kube_for(context))
    if output is Format.json:
        print_json([c.__dict__ for c in changes])
    else:
        for change in changes:
            mark = {"new": "+", "changed": "~", "unchanged": " "}[change.status]
            typer.echo(f"{mark} {change.kind}/{change.name}")
            for line in change.fields:
                typer.echo(f"    {line}")
    if any(c.status != "unchanged" for c in changes):
        raise typer.Exit(1)


@handles_errors
def logs(
    file: SpecOption = "tgi.yaml",
    context: ContextOption = None,
    namespace: NamespaceOption = None,
    tail: Annotated[int, typer.Option(help="Lines from the end of each pod's log.")] = 100,
    previous: Annotated[bool, typer.Option(help="The previous (crashed) container's log.")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing lines as they are written (JSON lines with -o json).")] = False,
    output: OutputOption = Format.table,
) -> None:
    """The engine's log lines from every pod of the release."""
    import json

    from tgictl.lifecycle.deploy import selector
    from tgictl.render.manifests import namespace_of

    spec = spec_in(file, namespace)
    namespace = namespace_of(spec)
    kube = kube_for(context)
    pods = [pod["metadata"]["name"] for pod in kube.pods(namespace, selector(spec))]
    if follow:
        from tgictl.lifecycle.logs import follow as follow_logs

        def emit(pod: str, line: str) -> None:
            typer.echo(json.dumps({"pod": pod, "line": line}) if output is Format.json else f"[{pod}] {line}")

        try:
            errors = follow_logs(kube, namespace, pods, tail, emit)
        except KeyboardInterrupt:
            return
        for error in errors:
            typer.echo(f"error: {error}", err=True)
        if errors:
            raise typer.Exit(1)
        return
    lines = {pod: kube.log(namespace, pod, tail=tail, previous=previous) for pod in pods}
    if output is Format.json:
        print_json([{"pod": name, "lines": found} for name, found in lines.items()])
        return
    for name, found in lines.items():
        for line in found:
            typer.echo(f"[{name}] {line}")


@handles_errors
def port_forward(file: SpecOption = "tgi.yaml", context: ContextOption = None, namespace: NamespaceOption = None,
                 local_port: Annotated[int, typer.Option(help="Local port (a free one when 0).")] = 0) -> None:
    """Reach a ready pod of the release on a local port until interrupted (Ctrl-C)."""
    import signal

    from tgictl.lifecycle.portforward import forwarded

    with forwarded(spec_in(file, namespace), kube_for(context), local_port) as url:
        typer.echo(url)  # alone on stdout, for scripts: URL=$(tgictl port-forward ... | head -1)
        typer.echo("forwarding; Ctrl-C to stop", err=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the same way on SIGTERM
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


cache = typer.Typer(help="The model-cache PVC.", no_args_is_help=True)


@cache.command("warm")
@handles_errors
def cache_warm(file: SpecOption = "tgi.yaml", context: ContextOption = None, namespace: NamespaceOption = None,
               poll: Annotated[float, typer.Option(help="Seconds between looks at the Job.")] = 2.0,
               output: OutputOption = Format.table) -> None:
    """Download the model into the cache PVC with a Job, before the first deploy."""
    from tgictl.lifecycle.cachewarm import check_warmable, warm

    spec = spec_in(file, namespace)
    check_warmable(spec)
    last = warm(spec, kube_for(context), context=context, progress=lambda line: typer.echo(f"  {line}", err=True), poll_s=poll)
    if output is Format.json:
        print_json({"release": spec.metadata.name, "pvc": f"{spec.metadata.name}-cache", "warm": True, "last_log_line": last})
    else:
        typer.echo(f"cache of {spec.metadata.name} warm: {last}")
