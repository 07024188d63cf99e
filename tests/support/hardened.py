"""Run a real engine the way its rendered container would run, as far as a process on
this machine can: a private mount namespace whose root is read-only (when the container
asks for it) with tmpfs at the rendered mounts that exist here, then the container's UID
and GID with no capabilities (bounding set included) and no_new_privs, which is what
runAsUser, capabilities.drop [ALL] and allowPrivilegeEscalation: false ask of the runtime.

Host paths the process needs (the tool, the model) are bound under /srv inside the
namespace: /root is mode 700 here, as in the engine images, so no other UID reaches them
where they lie."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from support import tools


def _mounts(container: dict[str, Any], binds: dict[Path, str]) -> list[str]:
    steps = ["mount -t tmpfs -o mode=755 tmpfs /srv"]
    for host, inside in binds.items():
        steps += [f"mkdir -p {shlex.quote(inside)}", f"mount --bind {shlex.quote(str(host))} {shlex.quote(inside)}"]
    for mount in container.get("volumeMounts") or []:
        if Path(mount["mountPath"]).is_dir() and mount["mountPath"] != "/":
            steps.append(f"mount -t tmpfs -o mode=1777 tmpfs {shlex.quote(mount['mountPath'])}")  # an emptyDir
    if (container.get("securityContext") or {}).get("readOnlyRootFilesystem"):
        steps.append("mount -o remount,bind,ro /")
    return steps


def own_volume(path: Path, pod: dict[str, Any]) -> None:
    """What the kubelet does to a volume of a pod with fsGroup (SetVolumeOwnership in
    pkg/volume/volume_linux.go): every file's group becomes fsGroup, group-readable and
    writable, directories setgid."""
    group = (pod.get("securityContext") or {}).get("fsGroup")
    if group is None:
        return
    for item in [path, *path.rglob("*")]:
        os.chown(item, -1, group)
        os.chmod(item, item.stat().st_mode | 0o060 | (0o2010 if item.is_dir() else 0))


def contained(command: list[str], pod: dict[str, Any], container: dict[str, Any], binds: dict[Path, str]) -> list[str]:
    """``command`` wrapped to run under the rendered ``pod`` spec's and ``container``'s security context."""
    if os.geteuid() != 0:
        tools.missing("root (unshare and mount emulate the container)", "run the tests as root")
    context = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
    identity = []
    if "runAsUser" in context:
        groups = sorted({context.get("runAsGroup", context["runAsUser"]), *([context["fsGroup"]] if "fsGroup" in context else [])})
        identity = [f"--reuid={context['runAsUser']}", f"--regid={context.get('runAsGroup', context['runAsUser'])}",
                    f"--groups={','.join(map(str, groups))}"]
    if "ALL" in ((context.get("capabilities") or {}).get("drop") or []):
        identity += ["--inh-caps=-all", "--bounding-set=-all"]
    if context.get("allowPrivilegeEscalation") is False:
        identity.append("--no-new-privs")
    script = " && ".join([*_mounts(container, binds), "exec setpriv " + shlex.join([*identity, "--", *command])])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
