"""The helm binary: template rendering now, release lifecycle later.

Values go to helm on stdin as JSON (a subset of YAML), so nothing with a
secret reference or a user value touches the disk, and no temp file can be
left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tgictl.adapters import toolchain
from tgictl.errors import ToolFailedError


def chart_path() -> Path:
    """The chart to render: ``$TGICTL_CHART`` (a chart directory or a ``helm package`` .tgz),
    else the one the wheel ships (setup.py installs charts/tgi as tgictl/chart), else the
    checkout's charts/tgi (an editable install): one copy of the chart either way."""
    if override := os.environ.get("TGICTL_CHART"):
        return Path(override)
    package = Path(__file__).resolve().parents[1]
    shipped, checkout = package / "chart", package.parent / "charts" / "tgi"
    return shipped if shipped.is_dir() or not checkout.is_dir() else checkout


def chart_defaults() -> dict[str, Any]:
    """The chart's own values.yaml, from a chart directory or a packaged .tgz."""
    import tarfile

    import yaml

    chart = chart_path()
    if chart.is_dir():
        return yaml.safe_load((chart / "values.yaml").read_text()) or {}
    with tarfile.open(chart) as archive:  # helm package: <name>/values.yaml
        member = next(m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/values.yaml"))
        handle = archive.extractfile(member)
        assert handle is not None
        return yaml.safe_load(handle.read()) or {}


class Running:
    """A helm process started but not yet waited for, so callers can overlap work with it."""

    def __init__(self, args: list[str], stdin: str | None) -> None:
        self.args = args
        self._process = subprocess.Popen(
            [toolchain.find("helm"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._stdin = stdin
        self._finished = False

    def feed(self, stdin: str) -> Running:
        """Give a process started before its input was known that input (see ``Waiting``), now:
        it works while the caller does; ``result`` then only collects its output."""
        pipe, self._process.stdin = self._process.stdin, None  # communicate() must not touch it again
        assert pipe is not None
        try:
            pipe.write(stdin)
            pipe.close()
        except BrokenPipeError:
            pass  # helm exited early: result() reports its stderr
        self._stdin = None
        return self

    def result(self) -> str:
        stdout, stderr = self._process.communicate(self._stdin)
        self._finished = True
        if self._process.returncode != 0:
            raise ToolFailedError(f"helm {self.args[0]} failed: {stderr.strip()}")
        return stdout

    def cancel(self) -> None:
        """Stop the process unless its result was taken; nothing is left running or unreaped."""
        if self._finished:
            return
        self._process.kill()
        self._process.communicate()
        self._finished = True


def _run(args: list[str], stdin: str | None = None) -> str:
    return Running(args, stdin).result()


def _chart(chart: Path | None) -> str:
    """The chart's path, or one clear line when there is no chart there."""
    chart = chart or chart_path()
    if not ((chart / "Chart.yaml").is_file() or (chart.suffix == ".tgz" and chart.is_file())):
        raise ToolFailedError(f"no chart at {chart}: TGICTL_CHART must name a chart directory or a `helm package` .tgz")
    return str(chart)


def _template_args(release: str, namespace: str, chart: Path | None, include_tests: bool,
                   api_versions: tuple[str, ...]) -> list[str]:
    args = ["template", release, _chart(chart), "--namespace", namespace, "--values", "-"]
    if not include_tests:
        args.append("--skip-tests")
    for api in api_versions:
        args += ["--api-versions", api]
    return args


class Waiting:
    """A ``helm template`` started before its values exist. helm spends ~40 ms of a ~50 ms
    render starting up (measured on helm v4.1: 18 ms from values to output once started), and
    reads its values from stdin before it loads the chart, so that start-up can overlap with
    loading and planning the spec. Used when the release and namespace are known early."""

    def __init__(self, *, release: str, namespace: str, include_tests: bool = False) -> None:
        self.key = (release, namespace, include_tests)
        self._running = Running(_template_args(release, namespace, None, include_tests, ()), stdin=None)

    def take(self, values: dict[str, Any]) -> Running:
        return self._running.feed(json.dumps(values))

    def cancel(self) -> None:
        self._running.cancel()


def start_template(
    values: dict[str, Any],
    *,
    release: str,
    namespace: str,
    chart: Path | None = None,
    include_tests: bool = False,
    api_versions: tuple[str, ...] = (),
    waiting: Waiting | None = None,
) -> Running:
    """Start rendering the chart with ``values``; ``.result()`` is helm's multi-document YAML.
    A ``waiting`` helm started for this release, namespace and chart is used; another is cancelled."""
    if waiting is not None:
        if chart is None and not api_versions and waiting.key == (release, namespace, include_tests):
            return waiting.take(values)
        waiting.cancel()
    return Running(_template_args(release, namespace, chart, include_tests, api_versions), stdin=json.dumps(values))


def template(values: dict[str, Any], **options: Any) -> str:
    """Render the chart with ``values``; returns helm's multi-document YAML."""
    return start_template(values, **options).result()


def lint(chart: Path | None = None, values: dict[str, Any] | None = None) -> str:
    """``helm lint --strict`` on the chart, optionally with values."""
    args = ["lint", "--strict", _chart(chart)]
    if values is not None:
        args += ["--values", "-"]
    return _run(args, stdin=json.dumps(values) if values is not None else None)


def upgrade_install(values: dict[str, Any], *, release: str, namespace: str, chart: Path | None = None,
                    kube_context: str | None = None, timeout_s: int = 600, create_namespace: bool = True,
                    take_ownership: bool = False) -> str:
    """`helm upgrade --install` with values on stdin; returns helm's output.

    No --wait: tgictl watches the start itself, to explain it as it happens. With
    ``create_namespace`` helm applies the namespace (a PATCH of a cluster-scoped object,
    which a namespace-scoped user may not do even when the namespace exists). With
    ``take_ownership`` helm adopts existing objects another release's annotations claim."""
    args = ["upgrade", "--install", release, _chart(chart), "--namespace", namespace,
            *(["--create-namespace"] if create_namespace else []), *(["--take-ownership"] if take_ownership else []),
            "--values", "-", "--timeout", f"{timeout_s}s"]
    return _run(args + _context(kube_context), stdin=json.dumps(values))


def upgrade_reusing(values: dict[str, Any], *, release: str, namespace: str, chart: Path | None = None,
                    kube_context: str | None = None) -> str:
    """`helm upgrade --reuse-values` with ``values`` on stdin merged over the release's own: changes
    only what ``values`` names (a canary's weight) without the spec that made the release."""
    args = ["upgrade", release, _chart(chart), "--namespace", namespace, "--reuse-values", "--values", "-"]
    return _run(args + _context(kube_context), stdin=json.dumps(values))


def get_values(release: str, namespace: str, kube_context: str | None = None) -> dict[str, Any] | None:
    """The values the release was installed with (None when there is no such release)."""
    try:
        out = _run(["get", "values", release, "--namespace", namespace, "--output", "json", *_context(kube_context)])
    except ToolFailedError as err:
        if "not found" in str(err):
            return None
        raise
    return json.loads(out or "{}") or {}


def package(destination: Path, chart: Path | None = None) -> Path:
    """``helm package`` the chart into ``destination``; returns the .tgz helm wrote."""
    out = _run(["package", _chart(chart), "--destination", str(destination)])
    # helm prints "Successfully packaged chart and saved it to: <path>"
    return Path(out.strip().rsplit(": ", 1)[-1])


def history(release: str, namespace: str, kube_context: str | None = None) -> list[dict[str, Any]]:
    """Revisions of a release, oldest first ([] when it does not exist)."""
    try:
        out = _run(["history", release, "--namespace", namespace, "--output", "json", *_context(kube_context)])
    except ToolFailedError as err:
        if "not found" in str(err):
            return []
        raise
    return json.loads(out or "[]")


def rollback(release: str, namespace: str, revision: int, kube_context: str | None = None) -> str:
    return _run(["rollback", release, str(revision), "--namespace", namespace, "--wait", *_context(kube_context)])


def uninstall(release: str, namespace: str, kube_context: str | None = None, wait: bool = False) -> str:
    """Remove the release; with ``wait``, return only once its objects are gone."""
    return _run(["uninstall", release, "--namespace", namespace, *(["--wait"] if wait else []), *_context(kube_context)])


def status(release: str, namespace: str, kube_context: str | None = None) -> dict[str, Any] | None:
    """The release's status, or None when it does not exist (helm: "Error: release: not found")."""
    try:
        return json.loads(_run(["status", release, "--namespace", namespace, "--output", "json", *_context(kube_context)]))
    except ToolFailedError as err:
        if "release: not found" in str(err):
            return None
        raise


def version() -> str:
    return _run(["version", "--short"]).strip()


def _context(kube_context: str | None) -> list[str]:
    # Every helm call that reaches a cluster passes here: the kubeconfig is checked as the API
    # client reads it, so helm and the client fail on it with one message.
    from tgictl.adapters.kube import api_client

    api_client(kube_context)
    return ["--kube-context", kube_context] if kube_context else []
