"""The fake API server answers as a real one would where tgictl depends on it (each behaviour
names its Kubernetes source in tests/support/fake_kube.py); a kinder fake would hide bugs."""

from __future__ import annotations

import pytest
import requests

from support.fake_kube import Cluster, Step, event, pod
from tgictl.adapters.kube import ClusterError, Kube


def test_field_selectors_events_support_filter_and_others_are_refused(cluster: Cluster) -> None:
    other = {**event("Pulling", "pulling"), "involvedObject": {"kind": "Pod", "name": "other-pod", "namespace": "llm"}}
    cluster.steps = [Step(pod(), [event("Pulling", "pulling image"), other]), Step(pod())]
    Kube().pods("llm", "app.kubernetes.io/instance=demo")
    assert [e["involvedObject"]["name"] for e in Kube().events("llm", "demo-7d9f-abcde")] == ["demo-7d9f-abcde"]
    server = Kube().server
    refused = requests.get(f"{server}/api/v1/namespaces/llm/events", params={"fieldSelector": "message=x"}, timeout=5)
    assert refused.status_code == 400 and refused.json()["message"] == "field label not supported: message"


def test_a_resource_no_group_serves_is_404_and_a_built_in_one_lists_empty(cluster: Cluster) -> None:
    server = Kube().server
    assert requests.get(f"{server}/apis/keda.sh/v1alpha1/namespaces/llm/scaledobjects", timeout=5).status_code == 404
    assert requests.get(f"{server}/apis/apps/v1/namespaces/llm/replicasets", timeout=5).json()["items"] == []
    assert Kube().list("keda.sh/v1alpha1", "ScaledObject", "llm") == []


def test_rbac_denies_per_verb(cluster: Cluster) -> None:
    cluster.forbidden = {"watch pods"}
    cluster.steps = [Step(pod())]
    assert Kube().pods("llm", "app.kubernetes.io/instance=demo")  # list is allowed
    with pytest.raises(ClusterError, match='cannot watch resource "pods"'):
        next(iter(Kube().watch("pods", "llm", timeout_s=1)))
