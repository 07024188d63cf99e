"""Which Pod Security Standards level a rendered pod meets, as the admission plugin
judges it (k8s.io/pod-security-admission policy checks, the subset a chart of ours
can render): "restricted", "baseline" or "privileged", with the reasons it falls short."""

from __future__ import annotations

from typing import Any

LEVELS = ("privileged", "baseline", "restricted")
BASELINE_ADDABLE = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def _baseline_faults(pod: dict[str, Any], containers: list[dict[str, Any]]) -> list[str]:
    faults = [f"host namespace {key}" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    faults += [f"hostPath volume {v['name']}" for v in pod.get("volumes") or [] if "hostPath" in v]
    if ((pod.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined":
        faults.append("seccomp Unconfined")
    for c in containers:
        context = c.get("securityContext") or {}
        if context.get("privileged"):
            faults.append(f"{c['name']} is privileged")
        extra = set((context.get("capabilities") or {}).get("add") or []) - BASELINE_ADDABLE
        if extra:
            faults.append(f"{c['name']} adds {', '.join(sorted(extra))}")
    return faults


def _restricted_faults(pod: dict[str, Any], containers: list[dict[str, Any]]) -> list[str]:
    pod_context = pod.get("securityContext") or {}
    faults = []
    for c in containers:
        context = c.get("securityContext") or {}
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            faults.append(f"{c['name']} may run as root (runAsNonRoot unset)")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            faults.append(f"{c['name']} runs as UID 0")
        if context.get("allowPrivilegeEscalation") is not False:
            faults.append(f"{c['name']} allows privilege escalation")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            faults.append(f"{c['name']} keeps capabilities (drop ALL unset)")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            faults.append(f"{c['name']} adds capabilities beyond NET_BIND_SERVICE")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            faults.append(f"{c['name']} has no seccomp profile")
    return faults


def level(pod: dict[str, Any]) -> tuple[str, list[str]]:
    """The strictest level ``pod`` (a pod spec) meets, and why it misses the next one."""
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    baseline = _baseline_faults(pod, containers)
    if baseline:
        return "privileged", baseline
    restricted = _restricted_faults(pod, containers)
    return ("baseline", restricted) if restricted else ("restricted", [])


def allows(enforced: str, met: str) -> bool:
    """Whether a namespace enforcing ``enforced`` admits a pod meeting ``met``."""
    return LEVELS.index(met) >= LEVELS.index(enforced) if enforced in LEVELS else True
