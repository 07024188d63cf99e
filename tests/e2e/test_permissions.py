"""RBAC as the real authorizer answers it: a ServiceAccount bound to a Role, its token in a
kubeconfig of its own. doctor's SelfSubjectAccessReviews list each verb the Role lacks;
deploy refuses before anything is applied; a Role granting exactly what doctor asks for
is enough for the real helm to install the release and for deploy to follow it."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from support.control_plane import Namespace, write_spec
from tgictl.cli.main import app
from tgictl.lifecycle.doctor import needed_permissions
from tgictl.spec.load import load_file

runner = CliRunner()
CPU = {"cpu": "1", "memory": "1Gi"}


def service_account_kubeconfig(ns: Namespace, rules: list[dict[str, Any]]) -> str:
    """A kubeconfig for a ServiceAccount of ``ns`` bound to a Role with ``rules``."""
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": ns.name}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "deployer", "namespace": ns.name},
            "rules": rules}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "deployer", "namespace": ns.name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
               "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns.name}]}
    ns.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([account, role, binding]))
    token = ns.kubectl("create", "token", "deployer", "-n", ns.name).stdout.strip()
    admin = yaml.safe_load(ns.kubeconfig.read_text())
    config = {**admin, "users": [{"name": "deployer", "user": {"token": token}}],
              "contexts": [{"name": "deployer", "context": {"cluster": admin["clusters"][0]["name"], "user": "deployer",
                                                             "namespace": ns.name}}],
              "current-context": "deployer"}
    path = ns.scratch / "deployer.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def rules_for(spec_path: str, leave_out: set[tuple[str, str]] = frozenset()) -> list[dict[str, Any]]:
    """Role rules granting what doctor asks for, but the (verb, resource) pairs in ``leave_out``."""
    verbs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for verb, group, resource, sub, _, _ in needed_permissions(load_file(spec_path), minor=35):
        name = f"{resource}/{sub}" if sub else resource
        if (verb, name) not in leave_out:
            verbs[(group, name)].append(verb)
    return [{"apiGroups": [group], "resources": [name], "verbs": sorted(set(v))} for (group, name), v in sorted(verbs.items())]


def test_a_role_lacking_verbs_is_listed_by_doctor_and_deploy_applies_nothing(ns: Namespace, tmp_path: Path) -> None:
    path = write_spec(ns, tmp_path, hardware=CPU)
    kubeconfig = service_account_kubeconfig(ns, rules_for(path, leave_out={("create", "deployments"), ("patch", "services"),
                                                                          ("create", "secrets")}))
    doctor = runner.invoke(app, ["doctor", "-f", path, "--kubeconfig", kubeconfig, "-o", "json"])
    assert doctor.exit_code == 1, doctor.output
    permissions = next(c for c in json.loads(doctor.stdout) if c["name"] == "permissions")
    assert permissions["status"] == "fail"
    assert permissions["fix"] == f"ask for a Role in {ns.name} granting: patch services; create deployments; create secrets"

    refused = runner.invoke(app, ["deploy", "-f", path, "--kubeconfig", kubeconfig, "--no-smoke"])
    assert refused.exit_code == 2, refused.output
    assert "not deployed, nothing applied" in refused.stderr and "cannot create deployments" in refused.stderr
    left = ns.kubectl("get", "deployment,service,secret,configmap,pdb,serviceaccount", "-n", ns.name, "-o", "name").stdout.split()
    assert sorted(left) == ["configmap/kube-root-ca.crt", "serviceaccount/default", "serviceaccount/deployer"]


def test_the_permissions_doctor_asks_for_are_enough_for_helm_and_deploy(ns: Namespace, tmp_path: Path) -> None:
    path = write_spec(ns, tmp_path, hardware=CPU)
    kubeconfig = service_account_kubeconfig(ns, rules_for(path))
    doctor = runner.invoke(app, ["doctor", "-f", path, "--kubeconfig", kubeconfig, "-o", "json"])
    permissions = next(c for c in json.loads(doctor.stdout) if c["name"] == "permissions")
    assert permissions["status"] == "pass", permissions
    deployed = runner.invoke(app, ["deploy", "-f", path, "--kubeconfig", kubeconfig, "--no-smoke", "--poll", "0.5", "-o", "json"])
    assert deployed.exit_code == 0, deployed.output
    assert json.loads(deployed.stdout)["phases"][-1] == "ready"
    deleted = runner.invoke(app, ["delete", "-f", path, "--kubeconfig", kubeconfig])
    assert deleted.exit_code == 0, deleted.output
