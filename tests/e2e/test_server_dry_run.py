"""Every rendered example and test spec, and its GitOps objects, accepted by the real API
server's server-side dry run with every CRD in ../shared/crds installed: defaulting,
OpenAPI and CEL validation and admission run as on a cluster, so a render the API server
would refuse fails here even where the offline schemas pass it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.control_plane import Namespace, apply_crds, namespace
from support.data import ROOT, SPECS
from tgictl.render import service
from tgictl.spec.load import load_file

CRDS = ROOT.parent / "shared" / "crds"
RENDERED = sorted([*SPECS.glob("*.yaml"), *(ROOT / "examples").glob("*.yaml")])


@pytest.fixture(scope="module")
def crds(kubeconfig: Path) -> Path:
    files = sorted(CRDS.rglob("*.yaml"))
    assert len(files) >= 20, f"the CRDs of ../shared/crds are missing: {CRDS}"
    apply_crds(kubeconfig, *files)
    return kubeconfig


@pytest.fixture
def target(crds: Path, tmp_path: Path) -> Iterator[Namespace]:
    with namespace(crds, tmp_path, prefix="dry") as made:
        yield made


def in_namespace(stream: str, name: str) -> str:
    """The rendered objects, each placed in the test's namespace (cluster-scoped ones have none)."""
    objects = [o for o in yaml.safe_load_all(stream) if o]
    for obj in objects:
        if "namespace" in obj.get("metadata", {}):
            obj["metadata"]["namespace"] = name
    return yaml.safe_dump_all(objects)


@pytest.mark.parametrize("path", RENDERED, ids=[p.stem for p in RENDERED])
@pytest.mark.parametrize("format", ["manifests", "argocd", "flux"])
def test_the_api_server_accepts_what_render_renders(target: Namespace, path: Path, format: str) -> None:
    rendered = service.render(load_file(path), format).stream
    done = target.kubectl("apply", "--dry-run=server", "-n", target.name, "-f", "-", stdin=in_namespace(rendered, target.name),
                          check=False)
    assert done.returncode == 0, f"{path.name} ({format}): {done.stderr}"
    assert done.stdout.count("(server dry run)") == len([o for o in yaml.safe_load_all(rendered) if o])


def test_a_render_the_api_server_refuses_fails(target: Namespace) -> None:
    """The check can fail: an HTTPRoute weight past the CRD's maximum is refused by the server."""
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "bad", "namespace": target.name},
             "spec": {"rules": [{"backendRefs": [{"name": "demo", "port": 80, "weight": 1000001}]}]}}
    done = target.kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(route), check=False)
    assert done.returncode != 0 and "weight" in done.stderr
