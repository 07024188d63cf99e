"""Kustomize and GitOps output: parity with the chart, committed trees kept
current, Argo CD and Flux objects valid against their CRDs and stable."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest
import yaml

from support.data import ROOT, SPECS
from tgictl.adapters import toolchain
from tgictl.render import manifests, schemas, service
from tgictl.spec.load import load_file

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def kustomize(directory: Path) -> list[dict]:
    out = subprocess.run([toolchain.find("kubectl"), "kustomize", str(directory)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def key(obj: dict) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


@pytest.mark.parametrize("spec_file", sorted(SPECS.glob("*.yaml")) + EXAMPLES, ids=lambda p: p.stem)
def test_kustomize_tree_builds_exactly_the_helm_objects(spec_file: Path, tmp_path: Path) -> None:
    spec = load_file(spec_file)
    service.render(spec, "kustomize").write(tmp_path)
    helm_objects = [o.obj for o in manifests.split(service.render(spec, "manifests").stream)]
    assert sorted(kustomize(tmp_path), key=key) == sorted(helm_objects, key=key)


def test_features_become_components() -> None:
    files = service.render(load_file(ROOT / "examples" / "tgi-4gpu-sharded.yaml"), "kustomize").files
    component = yaml.safe_load(files["components/network-policy/kustomization.yaml"])
    assert component["kind"] == "Component" and component["resources"] == ["networkpolicy-llama-70b.yaml"]
    top = yaml.safe_load(files["kustomization.yaml"])
    assert top == {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                   "resources": ["base"], "components": ["components/monitoring", "components/network-policy"]}
    monitoring = yaml.safe_load(files["components/monitoring/kustomization.yaml"])["resources"]
    assert monitoring == ["configmap-llama-70b-llm-deployment.yaml", "configmap-llama-70b-llm-fleet.yaml",
                          "prometheusrule-llama-70b.yaml", "servicemonitor-llama-70b.yaml"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_committed_manifests_are_current(example: Path, tmp_path: Path) -> None:
    """What scripts/generate-manifests.sh would write is what is committed."""
    from pathlib import PurePath

    options = service.Options(source=PurePath(example).name)
    service.render(load_file(example), "kustomize", options=options).write(tmp_path)
    committed = ROOT / "manifests" / example.stem
    comparison = filecmp.dircmp(tmp_path, committed)

    def differences(c: filecmp.dircmp) -> list[str]:  # type: ignore[type-arg]
        found = c.left_only + c.right_only + c.diff_files
        return found + [f for sub in c.subdirs.values() for f in differences(sub)]

    assert differences(comparison) == [], "run scripts/generate-manifests.sh and commit the result"


def test_hand_written_overlay_builds_on_a_generated_tree() -> None:
    objects = kustomize(ROOT / "manifests" / "overlays" / "staging")
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert {o["metadata"]["namespace"] for o in objects} == {"llm-staging"}


@pytest.mark.parametrize(("format", "kind"), [("argocd", "Application"), ("flux", "HelmRelease")])
def test_gitops_objects_validate_and_carry_the_chart_values(format: str, kind: str) -> None:
    spec = load_file(SPECS / "h100-70b-sharded.yaml")
    stream = service.render(spec, format).stream
    [obj] = [d for d in yaml.safe_load_all(stream) if d]
    assert obj["kind"] == kind and schemas.problems(obj) == []
    values = obj["spec"]["source"]["helm"]["valuesObject"] if format == "argocd" else obj["spec"]["values"]
    assert values["engine"]["flags"]["num-shard"] == "4"
    assert stream == service.render(spec, format).stream  # nothing varies between renders


def test_timeouts_cover_the_planned_cold_start() -> None:
    spec = load_file(SPECS / "h100-70b-sharded.yaml")
    values = yaml.safe_load(service.render(spec, "values").stream)
    budget_s = values["probes"]["startup"]["failureThreshold"] * values["probes"]["startup"]["periodSeconds"]
    flux = yaml.safe_load(service.render(spec, "flux", options=service.Options(kustomize_path=True,
                                                                               path="manifests/x")).stream.split("---\n", 1)[1])
    assert flux["kind"] == "Kustomization" and flux["spec"]["path"] == "./manifests/x"
    assert int(flux["spec"]["timeout"].removesuffix("m")) * 60 >= budget_s
    argo = yaml.safe_load(service.render(spec, "argocd").stream.split("---\n", 1)[1])
    assert int(argo["spec"]["syncPolicy"]["retry"]["backoff"]["maxDuration"].removesuffix("m")) * 60 >= budget_s
